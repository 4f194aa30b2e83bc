/**
 * Endless data attacks (Uptane 4.3.3; TUF 5.3.3, 5.4.1, 5.5.1, 5.6.1, 5.7.3): every download
 * states its maximum size (the configured limit, or the length named in META), and the trusted
 * set refuses larger inputs before parsing them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DownloadLengthError, LengthMismatchError } from '@reflash/metadata';
import { DEFAULT_LIMITS } from '../src/config.js';
import { TrustedMetadataSet } from '../src/trusted-set.js';
import { rejectsWith, throwsWith } from './support/expect.js';
import { NOW, Simulator, TARGET_BASE } from './support/simulator.js';

const TOO_LARGE = 'DOWNLOAD_TOO_LARGE';

/** Valid JSON, `extra` bytes longer (trailing whitespace). */
function padded(bytes: Uint8Array, extra = 1): Uint8Array {
  return Buffer.concat([bytes, Buffer.alloc(extra, 0x20)]);
}

void describe('endless data attacks', () => {
  void it('endless data: timestamp beyond timestampMaxLength is refused with DOWNLOAD_TOO_LARGE', async () => {
    const sim = new Simulator();
    sim.serve('timestamp.json', new Uint8Array(DEFAULT_LIMITS.timestampMaxLength + 1));
    await rejectsWith(sim.refresh(), DownloadLengthError, TOO_LARGE);
    assert.deepEqual(sim.store.log, []);
  });

  void it('endless data: the configured timestamp limit is passed to the Fetcher', async () => {
    const sim = new Simulator();
    await rejectsWith(sim.refresh({ limits: { timestampMaxLength: 100 } }), DownloadLengthError, TOO_LARGE);
  });

  void it('endless data: root beyond rootMaxLength is refused with DOWNLOAD_TOO_LARGE', async () => {
    const sim = new Simulator();
    sim.serve('2.root.json', new Uint8Array(DEFAULT_LIMITS.rootMaxLength + 1));
    await rejectsWith(sim.refresh(), DownloadLengthError, TOO_LARGE);
    assert.equal(sim.store.version('root'), 1);
    assert.deepEqual(sim.fetcher.names(), ['2.root.json']);
  });

  void it('endless data: snapshot longer than the timestamp META length is refused with DOWNLOAD_TOO_LARGE', async () => {
    const sim = new Simulator();
    sim.serve('1.snapshot.json', padded(sim.file('1.snapshot.json')));
    await rejectsWith(sim.refresh(), DownloadLengthError, TOO_LARGE);
    assert.deepEqual(sim.store.log, ['save:timestamp']);
  });

  void it('endless data: targets longer than the snapshot META length is refused with DOWNLOAD_TOO_LARGE', async () => {
    const sim = new Simulator({ snapshotMetaHashes: true });
    sim.serve('1.targets.json', padded(sim.file('1.targets.json')));
    await rejectsWith(sim.refresh(), DownloadLengthError, TOO_LARGE);
    assert.deepEqual(sim.store.log, ['save:timestamp', 'save:snapshot']);
  });

  void it('endless data: targets beyond targetsMaxLength (no length in META) is refused with DOWNLOAD_TOO_LARGE', async () => {
    const sim = new Simulator();
    await rejectsWith(sim.refresh({ limits: { targetsMaxLength: 50 } }), DownloadLengthError, TOO_LARGE);
    assert.deepEqual(sim.store.log, ['save:timestamp', 'save:snapshot']);
  });

  void it('endless data: the trusted set itself refuses oversized root, timestamp, snapshot and targets bytes', () => {
    const sim = new Simulator({ snapshotMetaHashes: true });
    const root = sim.file('1.root.json');
    throwsWith(() => new TrustedMetadataSet(root, NOW, { rootMaxLength: root.byteLength - 1 }), DownloadLengthError, TOO_LARGE);
    const ts = new TrustedMetadataSet(root, NOW);
    throwsWith(() => ts.updateRoot(new Uint8Array(DEFAULT_LIMITS.rootMaxLength + 1)), DownloadLengthError, TOO_LARGE);
    throwsWith(() => ts.updateTimestamp(new Uint8Array(DEFAULT_LIMITS.timestampMaxLength + 1)), DownloadLengthError, TOO_LARGE);
    ts.updateTimestamp(sim.file('timestamp.json'));
    throwsWith(() => ts.updateSnapshot(padded(sim.file('1.snapshot.json'))), DownloadLengthError, TOO_LARGE);
    ts.updateSnapshot(sim.file('1.snapshot.json'));
    throwsWith(() => ts.updateTargets(padded(sim.file('1.targets.json'))), DownloadLengthError, TOO_LARGE);
    ts.updateTargets(sim.file('1.targets.json'));
    assert.equal(ts.targets?.signed.version, 1);
  });

  void it('endless data: a target longer than its metadata length is cut off by the Fetcher and refused by TargetFile.verify', async () => {
    const sim = new Simulator();
    sim.repo.addTarget('ecu/fw.bin', Buffer.from('firmware'));
    sim.repo.publish();
    const u = await sim.refresh();
    const t = (await u.getTargetInfo('ecu/fw.bin'))!;
    const url = u.targetUrl(t, TARGET_BASE);
    const longer = padded(Buffer.from('firmware'), 1024);
    sim.serve(`targets/${url.slice(TARGET_BASE.length)}`, longer);
    await rejectsWith(sim.fetcher.fetch(url, t.length), DownloadLengthError, TOO_LARGE);
    throwsWith(() => t.verify(longer), LengthMismatchError, 'LENGTH_MISMATCH');
  });
});

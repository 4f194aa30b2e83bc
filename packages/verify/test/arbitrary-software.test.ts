/**
 * Arbitrary software attacks (TUF 5.3.4, 5.4.2, 5.5.3, 5.6.3, 5.7.3): metadata must carry a
 * threshold of valid signatures by distinct trusted keys, and target bytes must match.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FormatError, HashMismatchError, Metadata, Role, Root, SPEC_VERSION, Targets, TargetFile, UnsignedMetadataError,
  formatExpires, generateSigner,
} from '@reflash/metadata';
import type { Key, Signer } from '@reflash/metadata';
import { TrustedMetadataSet } from '../src/trusted-set.js';
import { rejectsWith, throwsWith } from './support/expect.js';
import { NOW, Simulator, TARGET_BASE } from './support/simulator.js';

void describe('arbitrary software attacks', () => {
  void it('arbitrary software: unsigned timestamp is refused with UNSIGNED_METADATA', async () => {
    const sim = new Simulator();
    sim.serve('timestamp.json', sim.repo.timestamp.withoutSignatures().toBytes());
    await rejectsWith(sim.refresh(), UnsignedMetadataError, 'UNSIGNED_METADATA');
    assert.deepEqual(sim.store.log, []);
  });

  void it('arbitrary software: timestamp signed by a key the root does not trust is refused with UNSIGNED_METADATA', async () => {
    const sim = new Simulator();
    sim.serve('timestamp.json', sim.timestampBytes(2, sim.repo.timestamp.signed.snapshotMeta, [generateSigner()]));
    await rejectsWith(sim.refresh(), UnsignedMetadataError, 'UNSIGNED_METADATA');
    assert.deepEqual(sim.store.log, []);
  });

  void it('arbitrary software: targets listing a malicious image signed by a wrong key is refused with UNSIGNED_METADATA', async () => {
    const sim = new Simulator();
    const evil = TargetFile.fromData('ecu/fw.bin', Buffer.from('malware'));
    const t = new Targets({ ...sim.repo.fresh('targets', 1), targets: new Map([[evil.path, evil]]) });
    sim.serve('1.targets.json', sim.signed('targets', t, [generateSigner()]));
    await rejectsWith(sim.refresh(), UnsignedMetadataError, 'UNSIGNED_METADATA');
    assert.equal(sim.store.files.has('targets'), false);
  });

  void it('arbitrary software: root v2 signed by one key when the root threshold is 2 is refused with UNSIGNED_METADATA', async () => {
    const sim = new Simulator({ rootThreshold: 2 });
    const next = sim.repo.rotate({});
    sim.serve('2.root.json', Metadata.of(next.signed, sim.keys.root[0]!).toBytes());
    await rejectsWith(sim.refresh(), UnsignedMetadataError, 'UNSIGNED_METADATA');
    assert.equal(sim.store.version('root'), 1);
    assert.deepEqual(sim.store.log, []);
  });

  void it('duplicate signatures: the same key id twice in an envelope is refused with FORMAT', async () => {
    const sim = new Simulator();
    const json = sim.repo.timestamp.toJSON() as { signatures: unknown[] };
    json.signatures.push(json.signatures[0]);
    sim.serve('timestamp.json', Buffer.from(JSON.stringify(json)));
    await rejectsWith(sim.refresh(), FormatError, 'FORMAT');
    assert.deepEqual(sim.store.log, []);
  });

  void it('duplicate keys: one key listed under two key ids cannot meet a threshold of 2 (UNSIGNED_METADATA)', () => {
    const real = generateSigner();
    const alias: Signer = { key: real.key, keyId: 'ab'.repeat(32), sign: (d) => real.sign(d) };
    const keys = new Map<string, Key>([[real.keyId, real.key], [alias.keyId, alias.key]]);
    const roles = new Map([
      ['root', new Role([real.keyId, alias.keyId], 2)],
      ['timestamp', new Role([real.keyId], 1)],
      ['snapshot', new Role([real.keyId], 1)],
      ['targets', new Role([real.keyId], 1)],
    ] as const);
    const root = new Root({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(NOW + 86_400_000), consistentSnapshot: true, keys, roles });
    const md = Metadata.of(root, real, alias);
    assert.equal(md.signatures.size, 2);
    throwsWith(() => new TrustedMetadataSet(md.toBytes(), NOW), UnsignedMetadataError, 'UNSIGNED_METADATA');
  });

  void it('arbitrary software: target bytes whose hash differs from the metadata are refused with HASH_MISMATCH', async () => {
    const sim = new Simulator();
    sim.repo.addTarget('ecu/fw.bin', Buffer.from('genuine firmware'));
    sim.repo.publish();
    const u = await sim.refresh();
    const t = await u.getTargetInfo('ecu/fw.bin');
    assert.ok(t);
    const url = u.targetUrl(t, TARGET_BASE);
    sim.serve(`targets/${url.slice(TARGET_BASE.length)}`, Buffer.from('evil_ firmware!!'));
    const bytes = await sim.fetcher.fetch(url, t.length);
    assert.equal(bytes.byteLength, t.length);
    throwsWith(() => t.verify(bytes), HashMismatchError, 'HASH_MISMATCH');
  });
});

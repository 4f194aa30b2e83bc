/**
 * A simulated ECU end to end: its own verification (full and partial), A/B install with the
 * bank marked bad before writing, boot attempts and automatic fallback, power-on boots, secure
 * boot measurement, rollback.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EcuError, EcuRefusedError } from '../../src/errors.js';
import { verifyAttestation } from '../../src/ecu/attestation.js';
import { chunks, ecuFixture, worldBundle } from '../support/ecu-fixture.js';
import type { EcuFixture } from '../support/ecu-fixture.js';
import { DEFAULT_ECUS, World } from '../support/world.js';

const world = new World();
world.assignAll(2);
const BRAKE = DEFAULT_ECUS[1]!;
const STEER = DEFAULT_ECUS[2]!;

void describe('ECU', () => {
  const fixtures: EcuFixture[] = [];
  const fixture = async (...args: Parameters<typeof ecuFixture> extends [World, ...infer R] ? R : never): Promise<EcuFixture> => {
    const f = await ecuFixture(world, ...args);
    fixtures.push(f);
    return f;
  };
  after(async () => {
    for (const f of fixtures) await f.cleanup();
  });

  for (const spec of [BRAKE, STEER]) {
    void it(`${spec.verification} verification approves its image; install marks the bank bad before writing, activates, boots, confirms`, async () => {
      const f = await fixture(spec);
      const rel = world.release(spec.hardwareId, 2);
      const approved = await f.ecu.verifyMetadata(worldBundle(world));
      assert.equal(approved?.filepath, rel.path);
      const ecu = f.ecu;
      async function* watched(): AsyncGenerator<Uint8Array> {
        const onDisk = JSON.parse(await readFile(join(f.dir, 'banks.json'), 'utf8')) as { banks: { b: unknown } };
        assert.deepEqual(onDisk.banks.b, { status: 'bad', image: null }, 'marked bad before the first byte');
        yield* chunks(rel.data);
      }
      await ecu.writeInactive(watched());
      assert.equal(ecu.record.active, 'a');
      assert.equal((await ecu.status()).staged?.filepath, rel.path);
      await ecu.activate();
      assert.equal(ecu.record.banks.b.status, 'pending');
      const boot = await ecu.reboot();
      assert.deepEqual([boot.bank, boot.status, boot.healthy, boot.image?.filepath], ['b', 'pending', true, rel.path]);
      assert.equal(ecu.record.bootAttempts, 1);
      await ecu.confirm();
      await ecu.confirm(); // idempotent
      assert.deepEqual([ecu.record.banks.a.status, ecu.record.banks.b.status], ['good', 'good']);
      const report = await ecu.versionReport({ nonce: 'n-1' });
      assert.equal(report.signed.installedImage.filepath, rel.path);
      assert.ok(verifyAttestation(report, ecu.key).valid);
    });
  }

  void it('refuses more bytes than the approved length while writing; the running bank is untouched', async () => {
    const f = await fixture(BRAKE);
    await f.ecu.verifyMetadata(worldBundle(world));
    const data = Buffer.concat([world.release('hw-brake', 2).data, Buffer.alloc(100)]);
    await assert.rejects(f.ecu.writeInactive(chunks(data)), (e: unknown) => e instanceof EcuRefusedError && e.code === 'LENGTH_MISMATCH');
    assert.deepEqual(f.ecu.record.banks.b, { status: 'bad', image: null });
    assert.equal(f.ecu.running.image?.filepath, world.release('hw-brake', 1).path);
    await assert.rejects(f.ecu.activate(), (e: unknown) => e instanceof EcuError);
    assert.match(f.ecu.pendingAttacks.join(), /LENGTH_MISMATCH/);
  });

  void it('an unhealthy new image: the watchdog resets it until the bootloader falls back after maxBootAttempts', async () => {
    const boots: string[] = [];
    const f = await fixture(BRAKE, { healthCheck: (_s, img) => { boots.push(img.filepath); return img.filepath.endsWith('-1.bin'); } });
    await f.ecu.verifyMetadata(worldBundle(world));
    await f.ecu.writeInactive(chunks(world.release('hw-brake', 2).data));
    await f.ecu.activate();
    const boot = await f.ecu.reboot();
    assert.equal(boot.fellBack, true);
    assert.equal(boot.image?.filepath, world.release('hw-brake', 1).path);
    assert.deepEqual(boots.map((b) => b.slice(-5)), ['1.bin', '2.bin', '2.bin', '2.bin', '1.bin'], 'power-on, three attempts, fallback');
    assert.equal(f.ecu.record.banks.b.status, 'bad');
    await assert.rejects(f.ecu.confirm(), (e: unknown) => e instanceof EcuError && e.code === 'ECU_NOT_RUNNING_PENDING');
  });

  void it('power cycles count boot attempts of an unconfirmed bank too (a Primary that never confirms)', async () => {
    const f = await fixture(BRAKE);
    await f.ecu.verifyMetadata(worldBundle(world));
    await f.ecu.writeInactive(chunks(world.release('hw-brake', 2).data));
    await f.ecu.activate();
    for (let i = 1; i <= 3; i++) {
      const e = await f.reopen();
      assert.deepEqual([e.running.bank, e.record.bootAttempts], ['b', i]);
    }
    const e = await f.reopen();
    assert.equal(e.running.bank, 'a');
    assert.equal(e.running.fellBack, true);
  });

  void it('secure boot: a corrupted good bank is not booted when another good bank exists; the attestation exposes a mismatch', async () => {
    const f = await fixture(BRAKE);
    await f.ecu.verifyMetadata(worldBundle(world));
    await f.ecu.writeInactive(chunks(world.release('hw-brake', 2).data));
    await f.ecu.activate();
    await f.ecu.reboot();
    await f.ecu.confirm();
    await writeFile(join(f.dir, 'bank-b.img'), Buffer.from('flipped bits'));
    const e = await f.reopen();
    assert.equal(e.running.image?.filepath, world.release('hw-brake', 1).path, 'booted the other good bank');
    await writeFile(join(f.dir, 'bank-a.img'), Buffer.from('flipped bits too'));
    const broken = await f.reopen();
    assert.equal(broken.running.healthy, false);
    const att = verifyAttestation(await broken.versionReport(), broken.key);
    assert.equal(att.valid, false);
  });

  void it('rollback of a confirmed image goes back to the previous good bank', async () => {
    const f = await fixture(STEER);
    const approved = (await f.ecu.verifyMetadata(worldBundle(world)))!;
    await f.ecu.writeInactive(chunks(world.release('hw-steer', 2).data));
    await f.ecu.activate();
    await f.ecu.reboot();
    await f.ecu.confirm();
    const boot = await f.ecu.rollback(approved);
    assert.equal(boot.image?.filepath, world.release('hw-steer', 1).path);
    assert.equal(boot.status, 'good');
    assert.equal(f.ecu.record.banks.b.status, 'bad');
  });
});

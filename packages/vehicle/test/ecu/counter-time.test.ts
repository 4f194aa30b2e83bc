/**
 * The ECU's report counter (Uptane 2.1 §5.4.2.1.2; EVITA monotonic counter) and its secure time
 * source (Uptane 2.1: Secondaries need a secure source of time; freeze attack).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, generateSigner } from '@reflash/metadata';
import { MonotonicCounter } from '../../src/ecu/counter.js';
import { EcuRefusedError } from '../../src/errors.js';
import { ecuFixture, worldBundle } from '../support/ecu-fixture.js';
import type { EcuFixture } from '../support/ecu-fixture.js';
import { DAY, DEFAULT_ECUS, NOW, World } from '../support/world.js';

const world = new World();
world.assignAll(2);
const [, BRAKE, STEER] = DEFAULT_ECUS as [unknown, (typeof DEFAULT_ECUS)[1], (typeof DEFAULT_ECUS)[2]];

void describe('report counter and secure time', () => {
  const fixtures: EcuFixture[] = [];
  after(async () => {
    for (const f of fixtures) await f.cleanup();
  });
  const fixture = async (...args: Parameters<typeof ecuFixture> extends [World, ...infer R] ? R : never): Promise<EcuFixture> => {
    const f = await ecuFixture(world, ...args);
    fixtures.push(f);
    return f;
  };

  void it('the counter is durable before a report carries it, and never repeats across a crash', async () => {
    const f = await fixture(BRAKE);
    const r1 = await f.ecu.versionReport();
    const onDisk = JSON.parse(await readFile(join(f.dir, 'counter.json'), 'utf8')) as { value: number };
    assert.equal(onDisk.value, r1.signed.reportCounter);
    // A crash after the value was persisted but before the report left: the value is burnt.
    const burnt = await (await MonotonicCounter.open(join(f.dir, 'counter.json'))).next();
    const e = await f.reopen();
    const r2 = await e.versionReport();
    assert.ok(r2.signed.reportCounter > burnt);
    assert.ok(r2.signed.reportCounter > r1.signed.reportCounter);
  });

  void it('secure time never goes backwards across restarts and follows the monotonic clock', async () => {
    let mono = 0;
    const f = await fixture(BRAKE, { monotonic: () => mono });
    assert.equal(f.ecu.time.now(), NOW);
    mono = 5000;
    assert.equal(f.ecu.time.now(), NOW + 5000);
    await f.ecu.versionReport(); // checkpoints the time
    mono = 0; // a new boot: the monotonic clock starts again
    const e = await f.reopen({ monotonic: () => mono });
    assert.equal(e.time.now(), NOW + 5000);
    assert.equal((await e.versionReport()).signed.latestTime, new Date(NOW + 5000).toISOString().replace('.000Z', 'Z'));
  });

  void it('secure time advances only from a verified Director timestamp (expires - lifetime)', async () => {
    for (const spec of [BRAKE, STEER]) {
      const f = await fixture(spec, { monotonic: () => 0 }, { secureTimeMs: NOW - 5 * DAY });
      // Forged: a far-future timestamp signed by an unknown key is refused and moves nothing.
      const ts = world.director.timestamp.signed;
      const forged = Metadata.of(ts, generateSigner()).toBytes();
      const b = worldBundle(world);
      const bad = { director: new Map([...b.director, ['timestamp.json', forged] as const]), image: b.image };
      await assert.rejects(f.ecu.verifyMetadata(bad), (e: unknown) => e instanceof EcuRefusedError && e.code === 'UNSIGNED_METADATA');
      assert.equal(f.ecu.time.now(), NOW - 5 * DAY);
      await f.ecu.verifyMetadata(worldBundle(world));
      assert.equal(f.ecu.time.now(), ts.expiresMs - DAY, `${spec.verification}: advanced to the Director timestamp's signing time`);
    }
  });

  void it('freeze attack on a Secondary: Director targets expired by the ECU\'s own time are refused', async () => {
    const f = await fixture(STEER, {}, { secureTimeMs: NOW + 100 * DAY });
    await assert.rejects(f.ecu.verifyMetadata(worldBundle(world)), (e: unknown) => e instanceof EcuRefusedError && e.code === 'EXPIRED');
    assert.match((await f.ecu.versionReport()).signed.attacksDetected, /EXPIRED/);
  });

  void it('release counter rollback on a Secondary: an assignment older than what it runs is refused', async () => {
    const old = new World();
    old.assign('str-0001', old.release('hw-steer', 1).target, { releaseCounter: 1 });
    const f = await ecuFixture(old, STEER, {}, { factoryImage: { filepath: 'hw-steer/firmware-2.bin', data: old.release('hw-steer', 2).data, releaseCounter: 2 } });
    fixtures.push(f);
    await assert.rejects(f.ecu.verifyMetadata(worldBundle(old)), (e: unknown) => e instanceof EcuRefusedError && e.code === 'RELEASE_COUNTER_ROLLBACK');
  });
});

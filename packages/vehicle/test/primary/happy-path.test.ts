/**
 * One update cycle updates a three-ECU vehicle (a full-verification gateway = the Primary's own
 * ECU, a full-verification brake ECU, a partial-verification steering ECU): Uptane 2.1 full
 * verification on the Primary, each ECU's own verification, A/B install, integration check,
 * commit, report. The manifests carry attestations the server-side verifyAttestation accepts,
 * and the report counters strictly increase across cycles (verifyVehicleManifest).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyVehicleManifest } from '@reflash/verify';
import type { RegisteredVehicle } from '@reflash/verify';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyAttestation } from '../../src/ecu/attestation.js';
import { readVerifyState } from '../../src/ecu/verify-state.js';
import { registerFor } from '../../src/ecu/measured-boot.js';
import { TestVehicle } from '../support/vehicle.js';
import { PRIMARY_SERIAL, VIN } from '../support/world.js';

function registered(v: TestVehicle, lastCounters: ReadonlyMap<string, number> = new Map()): RegisteredVehicle {
  return { vin: VIN, primaryEcuSerial: PRIMARY_SERIAL, ecus: new Map(v.ecus.map((e) => [e.serial, { hardwareId: e.hardwareId, key: e.key, lastCounter: lastCounters.get(e.serial) }])) };
}

void describe('happy path: one cycle updates all three ECUs', () => {
  let v: TestVehicle;
  before(async () => {
    v = await TestVehicle.create();
    v.world.assignAll(2, { id: 'campaign-42', purpose: 'Brake and steering fixes', expectedDurationSeconds: 120, unavailableFunctions: ['driving', 'charging'], minBatteryPercent: 40 });
  });
  after(() => v.cleanup());

  void it('runs idle -> checkin -> verify -> download -> preconditions -> consent -> distribute -> recheck -> install -> confirm -> commit -> report -> idle', async () => {
    const r = await v.cycle();
    assert.equal(r.outcome, 'success', JSON.stringify(r.record.outcome));
    const compact = v.states().filter((s, i, a) => i === 0 || a[i - 1] !== s);
    assert.deepEqual(compact, ['checkin', 'verify', 'download', 'preconditions', 'consent', 'distribute', 'recheck', 'install', 'confirm', 'commit', 'report', 'idle']);
  });

  void it('every ECU runs its release 2 from a good bank, the old one kept good for rollback', () => {
    for (const e of v.ecus) {
      const want = v.world.release(e.hardwareId, 2);
      assert.equal(e.running.image?.filepath, want.path);
      assert.equal(e.running.status, 'good');
      assert.ok(e.running.healthy);
      assert.equal(e.running.measuredSha256, want.target.hashes['sha256']);
      assert.equal(e.running.register, registerFor([want.target.hashes['sha256']!]));
      const other = e.record.banks[e.running.bank === 'a' ? 'b' : 'a'];
      assert.equal(other.status, 'good');
      assert.equal(other.image?.filepath, v.world.release(e.hardwareId, 1).path);
    }
  });

  void it('the user was asked with the campaign information and the success was reported', () => {
    assert.deepEqual(v.hmi.requests, [{ purpose: 'Brake and steering fixes', expectedDurationSeconds: 360, unavailableFunctions: ['driving', 'charging'] }]);
    const rep = v.backend.reports.at(-1)!;
    assert.equal(rep.outcome, 'success');
    assert.equal(rep.campaignId, 'campaign-42');
    assert.equal(rep.consent, 'accepted');
    assert.deepEqual(rep.ecus.map((e) => e.status), ['installed', 'installed', 'installed']);
    assert.deepEqual(rep.attacks, []);
  });

  void it('each Secondary verified the forwarded metadata itself: partial (Director only) or full', async () => {
    const steer = v.ecu('str-0001');
    assert.equal(steer.verificationMode, 'partial');
    assert.equal((await readVerifyState(steer.dir)).targetsVersion, v.world.director.targetsOf().signed.version);
    await assert.rejects(access(join(steer.dir, 'metadata', 'image')), 'a partial verifier never needs the Image repository');
    const brake = v.ecu('brk-0001');
    assert.equal(brake.verificationMode, 'full');
    await access(join(brake.dir, 'metadata', 'image', 'targets.json'));
    await access(join(brake.dir, 'metadata', 'director', 'timestamp.json'));
  });

  void it('manifests verify, their attestations verify, counters strictly increase across cycles', async () => {
    const first = v.backend.manifests[0]!;
    const ok1 = verifyVehicleManifest(first, registered(v));
    assert.deepEqual(ok1.missing, []);
    for (const e of v.ecus) {
      const rep = first.signed.ecuVersionReports.get(e.serial)!;
      const att = verifyAttestation(rep, e.key);
      assert.ok(att.valid, att.valid ? '' : att.reason);
      assert.equal(rep.signed.installedImage.filepath, v.world.release(e.hardwareId, 1).path);
    }
    const counters = new Map([...first.signed.ecuVersionReports].map(([s, r]) => [s, r.signed.reportCounter]));
    const r2 = await v.cycle();
    assert.equal(r2.outcome, 'no-update');
    const second = v.backend.manifests.at(-1)!;
    assert.notEqual(second, first);
    verifyVehicleManifest(second, registered(v, counters)); // throws MANIFEST_COUNTER_REPLAY otherwise
    for (const e of v.ecus) {
      const rep = second.signed.ecuVersionReports.get(e.serial)!;
      assert.ok(rep.signed.reportCounter > counters.get(e.serial)!);
      const att = verifyAttestation(rep, e.key);
      assert.ok(att.valid, att.valid ? '' : att.reason);
      assert.equal(rep.signed.installedImage.filepath, v.world.release(e.hardwareId, 2).path);
    }
    // A replayed manifest is refused by the Director's check.
    assert.throws(() => verifyVehicleManifest(first, registered(v, counters)), /counter/);
  });

  void it('counters survive a restart (power cycle) and keep increasing', async () => {
    const before = new Map(v.ecus.map((e) => [e.serial, e.running.image?.filepath]));
    const last = v.backend.manifests.at(-1)!;
    const counters = new Map([...last.signed.ecuVersionReports].map(([s, r]) => [s, r.signed.reportCounter]));
    await v.open();
    assert.deepEqual(new Map(v.ecus.map((e) => [e.serial, e.running.image?.filepath])), before);
    await v.cycle();
    verifyVehicleManifest(v.backend.manifests.at(-1)!, registered(v, counters));
  });
});

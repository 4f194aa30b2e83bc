/**
 * Attacks on the repositories, seen from the vehicle (Uptane 2.1 §4.2 / STANDARDS.md §2: no
 * single repository compromise installs software; rollback; freeze; mix-and-match).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TargetFile, uptaneCustom } from '@reflash/metadata';
import { assertAllOn, assertReportedInNextManifest } from '../support/assertions.js';
import { TestVehicle } from '../support/vehicle.js';
import { DAY, NOW } from '../support/world.js';

void describe('attacks on the repositories', () => {
  const vehicles: TestVehicle[] = [];
  const vehicle = async (): Promise<TestVehicle> => {
    const v = await TestVehicle.create();
    vehicles.push(v);
    return v;
  };
  after(async () => {
    for (const v of vehicles) await v.cleanup();
  });

  void it('arbitrary software: a compromised Director alone assigns an image the Image repository does not have -> refused', async () => {
    const v = await vehicle();
    // The attacker holds the Director's online keys and signs an assignment of its own image.
    v.world.director.addTarget('hw-brake/firmware-9.bin', Buffer.from('malicious brake firmware'), uptaneCustom({ ecuIdentifiers: { 'brk-0001': { hardwareId: 'hw-brake' } }, releaseCounter: 9 }));
    v.world.director.publish();
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'TARGET_NOT_IN_IMAGE_REPO');
    assert.equal(v.backend.imageRequests.length, 0, 'nothing was downloaded');
    assertAllOn(v, 1);
    assert.match(v.backend.reports.at(-1)!.attacks.join(), /TARGET_NOT_IN_IMAGE_REPO/);
    await assertReportedInNextManifest(v, 'TARGET_NOT_IN_IMAGE_REPO');
  });

  void it('the Image repository alone cannot target a vehicle: new images are not installed, changed ones are refused', async () => {
    const v = await vehicle();
    // The attacker holds the Image repository's keys: publishes a "release 99" for the brake ECU.
    v.world.publish('hw-brake', 99, Buffer.from('malicious release 99'));
    let r = await v.cycle();
    assert.equal(r.outcome, 'no-update', 'the Director assigns nothing: nothing happens');
    assertAllOn(v, 1);
    // The Director assigns release 2; the attacker replaces release 2 in the Image repository.
    v.world.assign('brk-0001', v.world.release('hw-brake', 2).target);
    v.world.image.addTarget(v.world.release('hw-brake', 2).path, Buffer.from('malicious bytes under the release 2 name'), uptaneCustom({ hardwareIds: ['hw-brake'], releaseCounter: 2 }));
    v.world.image.publish();
    r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'TARGET_MISMATCH');
    assert.equal(v.backend.imageRequests.length, 0);
    assertAllOn(v, 1);
  });

  void it('rollback attack: an image with a lower release counter than installed is refused', async () => {
    const v = await vehicle();
    v.world.assignAll(2);
    assert.equal((await v.cycle()).outcome, 'success');
    // Both repositories agree on release 1 (a validly signed old image): still refused.
    v.world.setDirectorTargets([]);
    v.world.assign('brk-0001', v.world.release('hw-brake', 1).target);
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'RELEASE_COUNTER_ROLLBACK');
    assertAllOn(v, 2);
    await assertReportedInNextManifest(v, 'RELEASE_COUNTER_ROLLBACK');
  });

  void it('freeze attack: expired Director timestamp is detected, reported, and in attacks_detected of the next manifest', async () => {
    const v = await vehicle();
    v.world.assignAll(2);
    // Two days later the attacker still serves the metadata of today (Director timestamps last one day).
    v.time = NOW + 2 * DAY;
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'EXPIRED');
    assertAllOn(v, 1);
    assert.match(v.backend.reports.at(-1)!.attacks.join(), /EXPIRED/);
    // The repositories sign fresh metadata again: the next check-in carries the attack.
    for (const repo of [v.world.director, v.world.image]) {
      repo.now = v.time;
      repo.resignAll();
    }
    await assertReportedInNextManifest(v, 'EXPIRED');
    assert.equal(v.backend.reports.at(-1)!.outcome, 'success', 'fresh metadata: the update goes through');
    // Acknowledged once delivered: the manifest after that no longer carries it.
    await v.cycle();
    assert.equal(v.backend.manifests.at(-1)!.signed.ecuVersionReports.get('gw-0001')!.signed.attacksDetected, '');
  });

  void it('mix-and-match attack: Director targets of another version than the snapshot names -> refused', async () => {
    const v = await vehicle();
    v.world.assign('brk-0001', v.world.release('hw-brake', 2).target);
    const old = v.world.director.files.get('1.targets.json')!;
    const current = v.world.director.targetsOf().signed.version;
    assert.ok(current > 1);
    v.backend.directorFetcher.overrides.set(`${current}.targets.json`, old);
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'BAD_VERSION');
    assertAllOn(v, 1);
  });

  void it('a Director target naming another hardware id than the ECU has is refused (BAD_HARDWARE_ID)', async () => {
    const v = await vehicle();
    const steer2 = v.world.release('hw-steer', 2).target;
    v.world.director.putTargetFile(new TargetFile({ path: steer2.path, length: steer2.length, hashes: steer2.hashes, custom: uptaneCustom({ ecuIdentifiers: { 'brk-0001': { hardwareId: 'hw-steer' } }, releaseCounter: 2 }) }));
    v.world.director.publish();
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'BAD_HARDWARE_ID');
    assertAllOn(v, 1);
  });
});

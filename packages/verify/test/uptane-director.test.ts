/**
 * Uptane 2.1 full verification (§5.4.4.2) against a Director and an Image repository: no single
 * compromised repository can make the vehicle install arbitrary software (STANDARDS.md §2).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TargetFile, generateSigner } from '@reflash/metadata';
import { UptaneError } from '../src/errors.js';
import { rejectsWith } from './support/expect.js';
import { UptaneSimulator } from './support/uptane-sim.js';

const bytes = (s: string): Buffer => Buffer.from(s);

/** An Uptane world with a brake image (release 2) published in the Image repository. */
function world(): { u: UptaneSimulator; brake: TargetFile } {
  const u = new UptaneSimulator();
  const brake = u.addImage('brake/fw-2.bin', bytes('brake firmware 2'), ['hw-brake'], 2);
  return { u, brake };
}

async function refusedWith(u: UptaneSimulator, code: string, opts: Parameters<UptaneSimulator['full']>[0] = {}): Promise<void> {
  await rejectsWith(u.full(opts), UptaneError, code);
}

void describe('Uptane full verification (Director + Image repository)', () => {
  void it('happy path: one VerifiedTarget per ECU the Director names, matched to the Image repository', async () => {
    const { u, brake } = world();
    const steer = u.addImage('steer/fw-7.bin', bytes('steering firmware 7'), ['hw-steer', 'hw-steer-b'], 7);
    u.assign('ecu-brake', brake);
    u.assign('ecu-steer', steer);
    const r = await u.full({ installedReleaseCounters: new Map([['ecu-brake', 1], ['ecu-steer', 7]]) });
    assert.deepEqual(
      r.targets.map((t) => [t.ecuSerial, t.hardwareId, t.target.path, t.releaseCounter, t.imageRole, t.image.length]),
      [['ecu-brake', 'hw-brake', 'brake/fw-2.bin', 2, 'targets', brake.length], ['ecu-steer', 'hw-steer', 'steer/fw-7.bin', 7, 'targets', steer.length]],
    );
    assert.equal(r.directorTargetsVersion, 3);
  });

  void it('hardware id mismatch: the Director names another hardware id than the vehicle knows for the ECU -> BAD_HARDWARE_ID', async () => {
    const { u, brake } = world();
    u.assign('ecu-brake', brake, { hardwareId: 'hw-steer' });
    await refusedWith(u, 'BAD_HARDWARE_ID');
    assert.deepEqual(u.image.fetcher.fetched, []);
  });

  void it('image for other hardware: the Image repository hardwareIds exclude the ECU -> BAD_HARDWARE_ID', async () => {
    const u = new UptaneSimulator();
    const img = u.addImage('steer/fw.bin', bytes('steering firmware'), ['hw-steer']);
    u.assign('ecu-brake', img);
    await refusedWith(u, 'BAD_HARDWARE_ID');
  });

  void it('unknown ECU: the Director names an ECU serial that is not in this vehicle -> BAD_ECU_ID', async () => {
    const { u, brake } = world();
    u.assign('ecu-radio', brake);
    await refusedWith(u, 'BAD_ECU_ID');
  });

  void it('ECU listed twice: two Director targets naming the same serial -> DUPLICATE_ECU_ID', async () => {
    const { u, brake } = world();
    const other = u.addImage('brake/fw-3.bin', bytes('brake firmware 3'), ['hw-brake'], 3);
    u.assign('ecu-brake', brake);
    u.assign('ecu-brake', other);
    await refusedWith(u, 'DUPLICATE_ECU_ID');
  });

  void it('arbitrary software from a compromised Director alone: a target absent from the Image repository -> TARGET_NOT_IN_IMAGE_REPO', async () => {
    const { u } = world();
    u.assign('ecu-brake', TargetFile.fromData('brake/evil.bin', bytes('malware')));
    await refusedWith(u, 'TARGET_NOT_IN_IMAGE_REPO');
  });

  void it('mix-and-match between repositories: Director hashes differ from the Image repository -> TARGET_MISMATCH', async () => {
    const { u, brake } = world();
    u.assign('ecu-brake', brake, { hashes: { sha256: '00'.repeat(32) } });
    await refusedWith(u, 'TARGET_MISMATCH');
  });

  void it('mix-and-match between repositories: Director length differs from the Image repository -> TARGET_MISMATCH', async () => {
    const { u, brake } = world();
    u.assign('ecu-brake', brake, { length: brake.length + 1 });
    await refusedWith(u, 'TARGET_MISMATCH');
  });

  void it('release counter mismatch between the repositories -> TARGET_MISMATCH', async () => {
    const { u, brake } = world();
    u.assign('ecu-brake', brake, { releaseCounter: 3 });
    await refusedWith(u, 'TARGET_MISMATCH');
  });

  void it('rollback attack: release counter lower than the installed image -> RELEASE_COUNTER_ROLLBACK', async () => {
    const { u, brake } = world();
    u.assign('ecu-brake', brake);
    await refusedWith(u, 'RELEASE_COUNTER_ROLLBACK', { installedReleaseCounters: new Map([['ecu-brake', 3]]) });
  });

  void it('Director targets that delegate -> DIRECTOR_DELEGATION', async () => {
    const { u, brake } = world();
    u.assign('ecu-brake', brake);
    u.director.repo.delegate('targets', { name: 'sub', paths: ['*'] }, [generateSigner()]);
    u.director.repo.publish();
    await refusedWith(u, 'DIRECTOR_DELEGATION');
  });

  void it('Director target naming no ECU -> MISSING_ECU_ID', async () => {
    const { u, brake } = world();
    u.director.repo.putTargetFile(new TargetFile({ path: brake.path, length: brake.length, hashes: brake.hashes }));
    u.director.repo.publish();
    await refusedWith(u, 'MISSING_ECU_ID');
  });

  void it('compromised Image repository alone cannot target a vehicle: an image only in the Image repository is never returned', async () => {
    const { u } = world();
    const steer = u.addImage('steer/fw-7.bin', bytes('steering firmware 7'), ['hw-steer'], 7);
    u.assign('ecu-steer', steer);
    u.addImage('brake/evil.bin', bytes('malware'), ['hw-brake'], 99);
    const r = await u.full();
    assert.deepEqual(r.targets.map((t) => t.target.path), ['steer/fw-7.bin']);
  });

  void it('no Director targets: the Image repository is not fetched at all (§5.4.4.2 step 6)', async () => {
    const { u } = world();
    const r = await u.full();
    assert.deepEqual(r.targets, []);
    assert.deepEqual(u.image.fetcher.fetched, []);
    assert.equal(u.image.store.log.length, 0);
  });

  void it('an image found through an Image-repository delegation (supplier role) is verified', async () => {
    const u = new UptaneSimulator();
    u.image.repo.delegate('targets', { name: 'supplier-brakes', paths: ['brake/*'] }, [generateSigner()]);
    const img = u.addImage('brake/fw-5.bin', bytes('supplier brake firmware'), ['hw-brake'], 5, 'supplier-brakes');
    u.assign('ecu-brake', img);
    const r = await u.full();
    assert.equal(r.targets[0]?.imageRole, 'supplier-brakes');
    assert.ok(u.image.fetcher.names().includes('1.supplier-brakes.json'));
  });
});

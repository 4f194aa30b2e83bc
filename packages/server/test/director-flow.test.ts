/**
 * The whole update flow in-process (STANDARDS.md §1 steps 1-8, Uptane 2.1 §5.4.4.2): provision ->
 * signed image upload -> assign -> check-in -> full verification of both repositories by the
 * vehicle -> ranged image download -> check-in reporting it installed -> assignment complete.
 * And what a vehicle does when the Director disagrees with the Image repository.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UptaneError } from '@reflash/verify';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { initImageRepo, offlineKeys, publishImage } from './support/image-repo.js';
import { inProcessVehicle, installedImage } from './support/vehicle.js';
import type { SimulatedVehicle } from './support/vehicle.js';
import { directorSigners, regenerate } from '../src/services/director.js';
import { withVehicleLock } from '../src/services/vehicle-lock.js';
import { createHash } from 'node:crypto';
import { parseReceipt, parseVerifierKey, verifyReceipt } from '@reflash/log';

forEachDialect('whole update flow', (dialect) => {
  let h: Harness;
  before(async () => {
    h = await makeHarness(dialect);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
  });
  after(async () => { await h.close(); });

  async function provisioned(vin: string): Promise<SimulatedVehicle> {
    const v = inProcessVehicle(h, vin);
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    assert.ok(v.imageStore.files.has('root'), 'provisioning hands out the Image root too');
    return v;
  }
  const assign = async (vin: string, images: Record<string, string>): Promise<void> => {
    const r = await h.app.inject({ method: 'POST', url: '/api/v1/assignments', headers: h.auth('operator'), payload: { vins: [vin], images } });
    assert.equal(r.statusCode, 201, r.body);
  };
  /** What a compromised Director could do: sign whatever is in its database. */
  async function resignDirector(vin: string): Promise<void> {
    const signers = await directorSigners(h.ctx);
    await withVehicleLock(h.ctx.db, vin, (trx) => regenerate(trx, h.ctx, signers, vin));
  }

  it('provision, upload, assign, check in, verify, download in ranges, install, complete', async () => {
    const v = await provisioned('FLOW-1');
    const fw = Buffer.alloc(100_000, 0);
    for (let i = 0; i < fw.length; i++) fw[i] = (i * 31) & 0xff;
    await publishImage(h, 'ecu/app-3.bin', fw, { hardwareIds: ['hw-secondary'], releaseCounter: 3 });
    await assign(v.vin, { 'hw-secondary': 'ecu/app-3.bin' });

    let r = await v.checkIn();
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { directorTargetsVersion: 1, pending: 1, receipts: [] });

    // Uptane full verification: Director targets, Image repository, and the match between them.
    const verified = await v.fullVerification();
    assert.equal(verified.directorTargetsVersion, 1);
    assert.equal(verified.targets.length, 1);
    const t = verified.targets[0]!;
    assert.equal(t.ecuSerial, 'FLOW-1-s');
    assert.equal(t.image.path, 'ecu/app-3.bin');
    assert.equal(t.imageRole, 'targets');
    assert.equal(t.releaseCounter, 3);

    // Download in two ranges (resumable), then check length and hashes (TUF 5.7.3).
    const half = Math.floor(fw.length / 2);
    const first = await v.downloadImage(t.image, `bytes=0-${half - 1}`);
    assert.equal(first.status, 206);
    const rest = await v.downloadImage(t.image, `bytes=${half}-`);
    assert.equal(rest.status, 206);
    assert.equal(rest.headers['content-range'], `bytes ${half}-${fw.length - 1}/${fw.length}`);
    const bytes = Buffer.concat([first.body, rest.body]);
    t.image.verify(bytes);
    t.target.verify(bytes);

    // The ECU installs it and reports it: the assignment is complete, the Director drops it.
    h.clock.now += 60_000;
    r = await v.checkIn({ reports: { 'FLOW-1-s': { installed: installedImage('ecu/app-3.bin', bytes) } } });
    const done = r.json<{ directorTargetsVersion: number; pending: number; receipts: Array<{ ecuSerial: string; index: number; receipt: string }> }>();
    assert.equal(done.directorTargetsVersion, 2);
    assert.equal(done.pending, 0);
    // TCG audit and accountability: the update result is in the log; the receipt verifies offline
    // with only the log's public key, and its entry carries the ECU's own signed report.
    assert.equal(done.receipts.length, 1);
    const rc = done.receipts[0]!;
    assert.equal(rc.ecuSerial, 'FLOW-1-s');
    const parsed = parseReceipt(rc.receipt);
    assert.ok(parsed.extra !== undefined, 'the receipt carries its entry');
    const entry = parsed.extra;
    const inLog = verifyReceipt(rc.receipt, entry, { origin: h.ctx.audit.origin, verifiers: [parseVerifierKey(h.ctx.audit.verifierKey)] });
    assert.equal(inLog.index, rc.index);
    const logged = JSON.parse(Buffer.from(entry).toString('utf8')) as { type: string; status: string; ecuSerial: string; vinHash: string; attestation: { signed: { ecu_serial: string } }; to: { sha256: string } };
    assert.equal(logged.type, 'vehicle-update-result');
    assert.equal(logged.status, 'installed');
    assert.equal(logged.attestation.signed.ecu_serial, 'FLOW-1-s');
    assert.equal(logged.to.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.ok(!JSON.stringify(logged).includes('FLOW-1"'), 'the VIN itself is not in the public entry');
    assert.equal(logged.vinHash, h.ctx.audit.vinHash('FLOW-1'));
    const list = (await h.app.inject({ url: '/api/v1/assignments?vin=FLOW-1', headers: h.auth('auditor') })).json<{ assignments: Array<{ status: string; completedAt: string }> }>();
    assert.deepEqual(list.assignments.map((a) => [a.status, a.completedAt]), [['installed', new Date(h.clock.now).toISOString()]]);
    const after = await v.fullVerification();
    assert.equal(after.directorTargetsVersion, 2);
    assert.deepEqual(after.targets, []);
    const view = (await h.app.inject({ url: '/api/v1/vehicles/FLOW-1', headers: h.auth('operator') })).json<{ ecus: Array<{ serial: string; installed: { filename: string } | null }> }>();
    assert.equal(view.ecus.find((e) => e.serial === 'FLOW-1-s')?.installed?.filename, 'ecu/app-3.bin');
  });

  describe('attacks', () => {
    it('a Director target whose hashes differ from the Image repository is refused by the vehicle: TARGET_MISMATCH', async () => {
      const v = await provisioned('FLOW-2');
      await publishImage(h, 'ecu/app-4.bin', Buffer.from('application 4'), { hardwareIds: ['hw-secondary'], releaseCounter: 4 });
      await assign(v.vin, { 'hw-secondary': 'ecu/app-4.bin' });
      assert.equal((await v.fullVerification()).targets.length, 1);
      // The Director's database is tampered with; it signs what it has with its own keys.
      await h.ctx.db.kysely.updateTable('assignments').set({ sha256: 'ab'.repeat(32), sha512: 'cd'.repeat(64) }).where('vin', '=', v.vin).execute();
      await resignDirector(v.vin);
      await assert.rejects(v.fullVerification(), (err: unknown) => err instanceof UptaneError && err.code === 'TARGET_MISMATCH');
    });

    it('a Director target that the Image repository does not have: TARGET_NOT_IN_IMAGE_REPO', async () => {
      const v = await provisioned('FLOW-3');
      await h.ctx.db.kysely.insertInto('assignments').values({
        vin: v.vin, ecu_serial: 'FLOW-3-s', hardware_id: 'hw-secondary', filename: 'ecu/evil.bin', length: 4, sha256: '00'.repeat(32), sha512: '00'.repeat(64),
        release_counter: 99, status: 'pending', failure: null, created_by: 'attacker', created_at: h.clock.now, completed_at: null,
      }).execute();
      await resignDirector(v.vin);
      await assert.rejects(v.fullVerification(), (err: unknown) => err instanceof UptaneError && err.code === 'TARGET_NOT_IN_IMAGE_REPO');
    });

    it('a Director target for hardware the image is not signed for: BAD_HARDWARE_ID', async () => {
      const v = await provisioned('FLOW-4');
      await assign(v.vin, { 'hw-secondary': 'ecu/app-4.bin' });
      // Point the assignment at the primary ECU (other hardware) and re-sign.
      await h.ctx.db.kysely.updateTable('assignments').set({ ecu_serial: 'FLOW-4-p', hardware_id: 'hw-primary' }).where('vin', '=', v.vin).execute();
      await resignDirector(v.vin);
      await assert.rejects(v.fullVerification(), (err: unknown) => err instanceof UptaneError && err.code === 'BAD_HARDWARE_ID');
    });
  });
});

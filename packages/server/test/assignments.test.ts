import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, readUptaneCustom } from '@reflash/metadata';
import type { TargetFile, Targets } from '@reflash/metadata';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { delegateRole, initImageRepo, offlineKeys, publishImage, uploadImage } from './support/image-repo.js';
import { inProcessVehicle, installedImage } from './support/vehicle.js';
import type { SimulatedVehicle } from './support/vehicle.js';

interface ErrorBody { error: { code: string; message: string } }
interface Assignment { id: number; vin: string; ecuSerial: string; filename: string; status: string; failure: string | null; completedAt: string | null; sha256: string; releaseCounter: number | null }

forEachDialect('assignments', (dialect) => {
  let h: Harness;
  const app1 = Buffer.from('secondary application v1');
  const app2 = Buffer.from('secondary application v2');
  let tf1: TargetFile;
  before(async () => {
    h = await makeHarness(dialect);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
    tf1 = await publishImage(h, 'ecu/app-1.bin', app1, { hardwareIds: ['hw-secondary'], releaseCounter: 1 });
    await publishImage(h, 'ecu/app-2.bin', app2, { hardwareIds: ['hw-secondary', 'hw-other'], releaseCounter: 2 });
  });
  after(async () => { await h.close(); });

  const assign = (vins: string[], images: Record<string, string>) =>
    h.app.inject({ method: 'POST', url: '/api/v1/assignments', headers: h.auth('operator'), payload: { vins, images } });
  const list = async (query: string): Promise<Assignment[]> =>
    (await h.app.inject({ url: `/api/v1/assignments?${query}`, headers: h.auth('auditor') })).json<{ assignments: Assignment[] }>().assignments;
  async function directorTargets(v: SimulatedVehicle): Promise<Targets> {
    const snap = Metadata.fromBytes((await v.request('GET', `/repo/director/${v.vin}/timestamp.json`)).body, 'timestamp').signed.snapshotMeta.version;
    const s = Metadata.fromBytes((await v.request('GET', `/repo/director/${v.vin}/${snap}.snapshot.json`)).body, 'snapshot');
    const tv = s.signed.meta.get('targets.json')!.version;
    return Metadata.fromBytes((await v.request('GET', `/repo/director/${v.vin}/${tv}.targets.json`)).body, 'targets').signed;
  }
  async function vehicle(vin: string, ecus?: Parameters<typeof inProcessVehicle>[2]): Promise<SimulatedVehicle> {
    const v = inProcessVehicle(h, vin, ecus);
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    return v;
  }

  it('assigns an image to the matching ECU; the Director targets name it with the Image repository\'s length and hashes', async () => {
    const v = await vehicle('ASSIGN-1');
    const r = await assign([v.vin], { 'hw-secondary': 'ecu/app-1.bin' });
    assert.equal(r.statusCode, 201, r.body);
    assert.deepEqual(r.json(), { created: 1, vehicles: 1 });
    const t = await directorTargets(v);
    assert.equal(t.version, 1);
    const entry = t.targets.get('ecu/app-1.bin')!;
    assert.equal(entry.length, tf1.length);
    assert.deepEqual(entry.hashes, tf1.hashes);
    assert.deepEqual(readUptaneCustom(entry), { ecuIdentifiers: { 'ASSIGN-1-s': { hardwareId: 'hw-secondary' } }, releaseCounter: 1 });
    const [a] = await list(`vin=${v.vin}`);
    assert.equal(a?.status, 'pending');
    assert.equal(a?.ecuSerial, 'ASSIGN-1-s');
    assert.equal(a?.releaseCounter, 1);
    // The vehicle view lists it as pending.
    const view = (await h.app.inject({ url: `/api/v1/vehicles/${v.vin}`, headers: h.auth('operator') })).json<{ pending: Assignment[] }>();
    assert.deepEqual(view.pending.map((p) => p.id), [a?.id]);
  });

  it('a new assignment replaces the pending one; the same one again changes nothing', async () => {
    const v = await vehicle('ASSIGN-2');
    assert.equal((await assign([v.vin], { 'hw-secondary': 'ecu/app-1.bin' })).statusCode, 201);
    assert.equal((await assign([v.vin], { 'hw-secondary': 'ecu/app-2.bin' })).statusCode, 201);
    let t = await directorTargets(v);
    assert.equal(t.version, 2);
    assert.deepEqual([...t.targets.keys()], ['ecu/app-2.bin']);
    assert.deepEqual((await list(`vin=${v.vin}`)).map((a) => [a.filename, a.status]), [['ecu/app-1.bin', 'cancelled'], ['ecu/app-2.bin', 'pending']]);
    assert.equal((await assign([v.vin], { 'hw-secondary': 'ecu/app-2.bin' })).statusCode, 201);
    t = await directorTargets(v);
    assert.equal(t.version, 2, 'same content: no new Director targets version');
    assert.equal((await list(`vin=${v.vin}&status=pending`)).length, 1);
  });

  it('two ECUs of one hardware id get one Director target naming both', async () => {
    const v = await vehicle('ASSIGN-3', [{ serial: 'A3-gw', hardwareId: 'hw-primary' }, { serial: 'A3-x', hardwareId: 'hw-secondary' }, { serial: 'A3-y', hardwareId: 'hw-secondary' }]);
    assert.deepEqual((await assign([v.vin], { 'hw-secondary': 'ecu/app-1.bin' })).json(), { created: 2, vehicles: 1 });
    const t = await directorTargets(v);
    assert.deepEqual(readUptaneCustom(t.targets.get('ecu/app-1.bin')!).ecuIdentifiers, { 'A3-x': { hardwareId: 'hw-secondary' }, 'A3-y': { hardwareId: 'hw-secondary' } });
    const res = await v.fullVerification();
    assert.deepEqual(res.targets.map((x) => x.ecuSerial).sort(), ['A3-x', 'A3-y']);
  });

  it('images listed by a delegated role can be assigned', async () => {
    const supplier = offlineKeys(1);
    await delegateRole(h, { name: 'supplier-a', paths: ['supplier/*'], keys: supplier });
    await publishImage(h, 'supplier/brake-7.bin', Buffer.from('brake controller 7'), { hardwareIds: ['hw-primary'], releaseCounter: 7, role: 'supplier-a' });
    const v = await vehicle('ASSIGN-4');
    assert.equal((await assign([v.vin], { 'hw-primary': 'supplier/brake-7.bin' })).statusCode, 201);
    const res = await v.fullVerification();
    assert.deepEqual(res.targets.map((x) => [x.ecuSerial, x.imageRole]), [['ASSIGN-4-p', 'supplier-a']]);
  });

  it('cancelling a pending assignment removes it from the Director targets', async () => {
    const v = await vehicle('ASSIGN-5');
    await assign([v.vin], { 'hw-secondary': 'ecu/app-1.bin', 'hw-primary': 'supplier/brake-7.bin' });
    const mine = await list(`vin=${v.vin}&status=pending`);
    assert.equal(mine.length, 2);
    const del = await h.app.inject({ method: 'DELETE', url: `/api/v1/assignments/${mine[0]!.id}`, headers: h.auth('operator') });
    assert.equal(del.statusCode, 200);
    assert.equal(del.json<Assignment>().status, 'cancelled');
    const t = await directorTargets(v);
    assert.deepEqual([...t.targets.keys()], [mine[1]!.filename]);
    const again = await h.app.inject({ method: 'DELETE', url: `/api/v1/assignments/${mine[0]!.id}`, headers: h.auth('operator') });
    assert.equal(again.statusCode, 422);
    assert.equal(again.json<ErrorBody>().error.code, 'ASSIGNMENT_INVALID');
    assert.equal((await h.app.inject({ method: 'DELETE', url: '/api/v1/assignments/999999', headers: h.auth('operator') })).statusCode, 404);
    assert.equal((await h.app.inject({ method: 'DELETE', url: `/api/v1/assignments/${mine[1]!.id}`, headers: h.auth('auditor') })).statusCode, 403);
  });

  it('an installation failure reported by the vehicle marks the assignment failed', async () => {
    const v = await vehicle('ASSIGN-6');
    await assign([v.vin], { 'hw-secondary': 'ecu/app-1.bin' });
    const r = await v.reportFailure('ASSIGN-6-s', 'ecu/app-1.bin', 'battery too low to finish');
    assert.equal(r.status, 200);
    assert.deepEqual({ ...r.json<Record<string, unknown>>(), receipts: undefined }, { failed: 1, directorTargetsVersion: 2, receipts: undefined });
    assert.equal(r.json<{ receipts: unknown[] }>().receipts.length, 1, 'the failed update is recorded in the accountability log');
    const [a] = await list(`vin=${v.vin}`);
    assert.equal(a?.status, 'failed');
    assert.equal(a?.failure, 'battery too low to finish');
    assert.equal((await directorTargets(v)).targets.size, 0);
  });

  it('a check-in reporting the assigned image completes the assignment', async () => {
    const v = await vehicle('ASSIGN-7');
    await assign([v.vin], { 'hw-secondary': 'ecu/app-2.bin' });
    let r = await v.checkIn();
    assert.deepEqual(r.json(), { directorTargetsVersion: 1, pending: 1, receipts: [] });
    r = await v.checkIn({ reports: { 'ASSIGN-7-s': { installed: installedImage('ecu/app-2.bin', app2) } } });
    assert.deepEqual({ ...r.json<Record<string, unknown>>(), receipts: undefined }, { directorTargetsVersion: 2, pending: 0, receipts: undefined });
    const [a] = await list(`vin=${v.vin}`);
    assert.equal(a?.status, 'installed');
    assert.notEqual(a?.completedAt, null);
  });

  it('lists assignments with filters and paging', async () => {
    const all = await list('limit=1000');
    assert.ok(all.length >= 8);
    const page = await list(`limit=2&after=${all[1]!.id}`);
    assert.deepEqual(page.map((a) => a.id), [all[2]!.id, all[3]!.id]);
    assert.ok((await list('status=cancelled')).every((a) => a.status === 'cancelled'));
    assert.equal((await h.app.inject({ url: '/api/v1/assignments?status=done', headers: h.auth('auditor') })).statusCode, 400);
  });

  describe('refusals', () => {
    const refused = async (vins: string[], images: Record<string, string>, status: number, code: string, message?: RegExp) => {
      const r = await assign(vins, images);
      assert.equal(r.statusCode, status, r.body);
      const e = r.json<ErrorBody>().error;
      assert.equal(e.code, code);
      if (message !== undefined) assert.match(e.message, message);
    };
    it('an image that is not in the signed Image repository: 422 ASSIGNMENT_INVALID', async () => {
      await vehicle('REFUSE-1');
      await refused(['REFUSE-1'], { 'hw-secondary': 'ecu/nope.bin' }, 422, 'ASSIGNMENT_INVALID', /not in the current Image repository/);
      // Uploaded bytes are not enough: the image must be signed.
      assert.equal((await uploadImage(h, 'ecu/unsigned.bin', Buffer.from('unsigned'))).statusCode, 201);
      await refused(['REFUSE-1'], { 'hw-secondary': 'ecu/unsigned.bin' }, 422, 'ASSIGNMENT_INVALID', /not in the current Image repository/);
    });
    it('an image signed for other hardware: 422 ASSIGNMENT_INVALID', async () => {
      await refused(['REFUSE-1'], { 'hw-primary': 'ecu/app-1.bin' }, 422, 'ASSIGNMENT_INVALID', /not signed for hardware id hw-primary/);
    });
    it('no ECU with that hardware id: 422; unknown vehicles: 404 VEHICLE_NOT_FOUND', async () => {
      await refused(['REFUSE-1'], { 'hw-other': 'ecu/app-2.bin' }, 422, 'ASSIGNMENT_INVALID', /no ECU/);
      await refused(['REFUSE-1', 'NO-SUCH-VIN'], { 'hw-secondary': 'ecu/app-1.bin' }, 404, 'VEHICLE_NOT_FOUND');
      assert.equal((await list('vin=REFUSE-1')).length, 0, 'nothing was assigned');
    });
    it('malformed requests: 400; auditors may not assign', async () => {
      await refused([], { 'hw-secondary': 'ecu/app-1.bin' }, 400, 'VALIDATION_FAILED');
      await refused(['REFUSE-1'], {}, 400, 'VALIDATION_FAILED');
      const r = await h.app.inject({ method: 'POST', url: '/api/v1/assignments', headers: h.auth('auditor'), payload: { vins: ['REFUSE-1'], images: { 'hw-secondary': 'ecu/app-1.bin' } } });
      assert.equal(r.statusCode, 403);
    });
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigner } from '@reflash/metadata';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { inProcessVehicle, installedImage } from './support/vehicle.js';

interface ErrorBody { error: { code: string; message: string } }
interface VehicleView {
  vin: string; model: string; primaryEcuSerial: string; lastSeenAt: string | null; manifestCount: number;
  ecus: Array<{ serial: string; hardwareId: string; keyId: string; lastCounter: number | null; installed: { filename: string; sha256: string } | null }>;
  pending: unknown[];
}

forEachDialect('vehicle inventory', (dialect) => {
  let h: Harness;
  before(async () => { h = await makeHarness(dialect); });
  after(async () => { await h.close(); });

  const provision = (body: unknown, role: 'operator' | 'auditor' = 'operator') =>
    h.app.inject({ method: 'POST', url: '/api/v1/vehicles', headers: h.auth(role), payload: body as object });

  it('provisioning returns the Director root (and no Image root before the Image repository exists)', async () => {
    const v = inProcessVehicle(h, 'WVWZZZ1JZXW000001');
    const r = await provision(v.provisionBody());
    assert.equal(r.statusCode, 201);
    const body = r.json<{ vin: string; directorRoot: { signed: { _type: string; version: number } }; imageRoot: unknown }>();
    assert.equal(body.vin, 'WVWZZZ1JZXW000001');
    assert.equal(body.directorRoot.signed._type, 'root');
    assert.equal(body.imageRoot, null);
    const root = await h.app.inject({ url: '/api/v1/director/root', headers: h.auth('auditor') });
    assert.deepEqual(root.json(), body.directorRoot);
  });

  it('ECDSA P-256 ECU keys are accepted', async () => {
    const v = inProcessVehicle(h, 'ecdsa-1', [{ serial: 'ecdsa-1-p', hardwareId: 'hw-p', scheme: 'ecdsa-sha2-nistp256' }]);
    assert.equal((await provision(v.provisionBody())).statusCode, 201);
    const res = await v.checkIn();
    assert.equal(res.status, 200, res.body.toString());
  });

  it('the vehicle view shows the last known configuration after a check-in', async () => {
    const v = inProcessVehicle(h, 'config-1');
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    let view = (await h.app.inject({ url: '/api/v1/vehicles/config-1', headers: h.auth('auditor') })).json<VehicleView>();
    assert.equal(view.lastSeenAt, null);
    assert.deepEqual(view.ecus.map((e) => e.installed), [null, null]);
    assert.equal((await v.checkIn()).status, 200);
    const fw = installedImage('ecu/app-2.bin', Buffer.from('app v2'));
    h.clock.now += 60_000;
    assert.equal((await v.checkIn({ reports: { 'config-1-s': { installed: fw, attacks: 'seen a bad signature' } } })).status, 200);
    view = (await h.app.inject({ url: '/api/v1/vehicles/config-1', headers: h.auth('operator') })).json<VehicleView>();
    assert.equal(view.manifestCount, 2);
    assert.equal(view.lastSeenAt, new Date(h.clock.now).toISOString());
    const s = view.ecus.find((e) => e.serial === 'config-1-s')!;
    assert.equal(s.lastCounter, 2);
    assert.equal(s.installed?.filename, 'ecu/app-2.bin');
    assert.equal(s.installed?.sha256, fw.hashes['sha256']);
    const hist = (await h.app.inject({ url: '/api/v1/vehicles/config-1/history', headers: h.auth('auditor') })).json<{
      history: Array<{ ecuSerial: string; filename: string; reportCounter: number }>; attacks: Array<{ ecuSerial: string; report: string }>;
    }>();
    // First report of each ECU (initial configuration), then the change on the secondary.
    assert.deepEqual(hist.history.map((x) => [x.ecuSerial, x.filename, x.reportCounter]), [
      ['config-1-p', 'factory/hw-primary.bin', 1], ['config-1-s', 'factory/hw-secondary.bin', 1], ['config-1-s', 'ecu/app-2.bin', 2],
    ]);
    assert.deepEqual(hist.attacks.map((a) => [a.ecuSerial, a.report]), [['config-1-s', 'seen a bad signature']]);
  });

  it('lists vehicles by VIN with paging', async () => {
    for (const vin of ['list-a', 'list-b', 'list-c']) assert.equal((await provision(inProcessVehicle(h, vin).provisionBody())).statusCode, 201);
    const page1 = (await h.app.inject({ url: '/api/v1/vehicles?limit=2&after=list-', headers: h.auth('auditor') })).json<{ vehicles: Array<{ vin: string }>; next: string | null }>();
    assert.deepEqual(page1.vehicles.map((v) => v.vin), ['list-a', 'list-b']);
    assert.equal(page1.next, 'list-b');
    const page2 = (await h.app.inject({ url: `/api/v1/vehicles?limit=2&after=${page1.next}`, headers: h.auth('auditor') })).json<{ vehicles: Array<{ vin: string }> }>();
    assert.equal(page2.vehicles[0]?.vin, 'list-c');
    assert.equal((await h.app.inject({ url: '/api/v1/vehicles?limit=1001', headers: h.auth('auditor') })).statusCode, 400);
  });

  describe('refusals', () => {
    it('the same VIN twice: 409 VEHICLE_EXISTS; an ECU serial already registered: 409 ECU_EXISTS', async () => {
      const v = inProcessVehicle(h, 'dup-1');
      assert.equal((await provision(v.provisionBody())).statusCode, 201);
      const again = await provision(v.provisionBody());
      assert.equal(again.statusCode, 409);
      assert.equal(again.json<ErrorBody>().error.code, 'VEHICLE_EXISTS');
      const other = inProcessVehicle(h, 'dup-2', [{ serial: 'dup-1-p', hardwareId: 'hw-primary' }]);
      const ecu = await provision(other.provisionBody());
      assert.equal(ecu.statusCode, 409);
      assert.equal(ecu.json<ErrorBody>().error.code, 'ECU_EXISTS');
      // The same public key under another serial is refused too (it identifies the Primary).
      const body = inProcessVehicle(h, 'dup-3').provisionBody();
      body.ecus[0]!.publicKey = v.primary.signer.key.toJSON();
      assert.equal((await provision(body)).json<ErrorBody>().error.code, 'ECU_EXISTS');
    });

    it('malformed provisioning requests: 400 naming the problem', async () => {
      const good = () => inProcessVehicle(h, 'bad-1').provisionBody();
      const cases: Array<[string, (b: ReturnType<typeof good>) => unknown]> = [
        ['VIN with forbidden characters', (b) => ({ ...b, vin: 'WVW ZZZ/1' })],
        ['VIN too long', (b) => ({ ...b, vin: 'A'.repeat(65) })],
        ['primary not among the ECUs', (b) => ({ ...b, primaryEcuSerial: 'nope' })],
        ['duplicate ECU serials', (b) => ({ ...b, ecus: [b.ecus[0], { ...b.ecus[1]!, serial: b.ecus[0]!.serial }] })],
        ['no ECUs', (b) => ({ ...b, ecus: [] })],
        ['RSA key scheme', (b) => ({ ...b, ecus: [{ ...b.ecus[0]!, publicKey: generateSigner('rsassa-pss-sha256', 2048).key.toJSON() }, b.ecus[1]] })],
        ['malformed ed25519 key', (b) => ({ ...b, ecus: [{ ...b.ecus[0]!, publicKey: { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: 'abcd' } } }, b.ecus[1]] })],
        ['not a key at all', (b) => ({ ...b, ecus: [{ ...b.ecus[0]!, publicKey: 'ed25519:abc' }, b.ecus[1]] })],
        ['unknown field', (b) => ({ ...b, extra: 1 })],
      ];
      for (const [what, make] of cases) {
        const r = await provision(make(good()));
        assert.equal(r.statusCode, 400, `${what}: ${r.body}`);
        assert.equal(r.json<ErrorBody>().error.code, 'VALIDATION_FAILED', what);
      }
      assert.equal((await h.app.inject({ url: '/api/v1/vehicles/bad-1', headers: h.auth('auditor') })).statusCode, 404);
    });

    it('auditors read but do not provision; unknown vehicles are 404 VEHICLE_NOT_FOUND', async () => {
      const r = await provision(inProcessVehicle(h, 'aud-1').provisionBody(), 'auditor');
      assert.equal(r.statusCode, 403);
      const missing = await h.app.inject({ url: '/api/v1/vehicles/nope-1', headers: h.auth('auditor') });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json<ErrorBody>().error.code, 'VEHICLE_NOT_FOUND');
      assert.equal((await h.app.inject({ url: '/api/v1/vehicles/nope-1/history', headers: h.auth('auditor') })).json<ErrorBody>().error.code, 'VEHICLE_NOT_FOUND');
      assert.equal((await h.app.inject({ url: '/api/v1/vehicles' })).statusCode, 401);
    });
  });
});

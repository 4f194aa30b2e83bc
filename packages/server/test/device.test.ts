import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigner } from '@reflash/metadata';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { SimulatedVehicle, inProcessVehicle } from './support/vehicle.js';

interface ErrorBody { error: { code: string; message: string; details?: { code?: string } } }

forEachDialect('vehicle check-in', (dialect) => {
  let h: Harness;
  let a: SimulatedVehicle;
  let b: SimulatedVehicle;
  before(async () => {
    h = await makeHarness(dialect);
    a = inProcessVehicle(h, 'CHECKIN-A');
    b = inProcessVehicle(h, 'CHECKIN-B');
    for (const v of [a, b]) assert.equal((await v.provision(h.tokens.operator)).status, 201);
  });
  after(async () => { await h.close(); });

  const counters = async (vin: string): Promise<Record<string, number | null>> => {
    const rows = await h.ctx.db.kysely.selectFrom('ecus').select(['serial', 'last_counter']).where('vin', '=', vin).orderBy('serial').execute();
    return Object.fromEntries(rows.map((r) => [r.serial, r.last_counter]));
  };
  const rejectedWith = (r: { status: number; json<T>(): T }, code: string): void => {
    assert.equal(r.status, 422);
    const e = r.json<ErrorBody>().error;
    assert.equal(e.code, 'MANIFEST_REJECTED');
    assert.equal(e.details?.code, code);
  };

  it('accepts a signed manifest, stores the counters and answers with the Director targets version', async () => {
    const before = (await h.ctx.metrics.checkins.get()).values[0]?.value ?? 0;
    const r = await a.checkIn();
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.json(), { directorTargetsVersion: 1, pending: 0, receipts: [] });
    assert.deepEqual(await counters(a.vin), { 'CHECKIN-A-p': 1, 'CHECKIN-A-s': 1 });
    assert.equal((await h.ctx.metrics.checkins.get()).values[0]?.value, before + 1);
    // A manifest in which only some ECUs report is fine; the others keep their counters.
    assert.equal((await a.checkIn({ only: ['CHECKIN-A-p'] })).status, 200);
    assert.deepEqual(await counters(a.vin), { 'CHECKIN-A-p': 2, 'CHECKIN-A-s': 1 });
  });

  describe('attacks', () => {
    it('a manifest signed by another key: 422 MANIFEST_BAD_SIGNATURE, nothing stored', async () => {
      const was = await counters(a.vin);
      rejectedWith(await a.checkIn({ primarySigner: generateSigner() }), 'MANIFEST_BAD_SIGNATURE');
      rejectedWith(await a.checkIn({ reportSigners: { 'CHECKIN-A-s': generateSigner() } }), 'MANIFEST_BAD_SIGNATURE');
      assert.deepEqual(await counters(a.vin), was);
      const failures = await h.ctx.metrics.verificationFailures.get();
      assert.ok((failures.values.find((v) => v.labels['code'] === 'MANIFEST_BAD_SIGNATURE')?.value ?? 0) >= 2);
    });

    it('a replayed manifest (same counters, fresh request signature): 422 MANIFEST_COUNTER_REPLAY', async () => {
      const bytes = SimulatedVehicle.manifestBytes(a.manifest());
      assert.equal((await a.putManifest(bytes)).status, 200);
      rejectedWith(await a.putManifest(bytes), 'MANIFEST_COUNTER_REPLAY');
      // An old counter for one ECU is a replay too, even with a new one for the other.
      const p = a.ecu('CHECKIN-A-p');
      rejectedWith(await a.checkIn({ reports: { 'CHECKIN-A-p': { counter: p.counter - 1 } } }), 'MANIFEST_COUNTER_REPLAY');
    });

    it('a replayed HTTP request (same signature headers): 401 REPLAYED_REQUEST', async () => {
      const bytes = SimulatedVehicle.manifestBytes(a.manifest());
      const headers = { ...a.signHeaders('PUT', '/device/v1/manifest', bytes), 'content-type': 'application/json' };
      assert.equal((await h.app.inject({ method: 'PUT', url: '/device/v1/manifest', headers, payload: bytes })).statusCode, 200);
      const replay = await h.app.inject({ method: 'PUT', url: '/device/v1/manifest', headers, payload: bytes });
      assert.equal(replay.statusCode, 401);
      assert.equal(replay.json<ErrorBody>().error.code, 'REPLAYED_REQUEST');
    });

    it('a stale request signature: 401 STALE_REQUEST; a body other than the signed one: 401', async () => {
      const stale = await a.checkIn({}, { nowMs: h.clock.now - 10 * 60_000 });
      assert.equal(stale.status, 401);
      assert.equal(stale.json<ErrorBody>().error.code, 'STALE_REQUEST');
      const bytes = SimulatedVehicle.manifestBytes(a.manifest());
      const headers = { ...a.signHeaders('PUT', '/device/v1/manifest', bytes), 'content-type': 'application/json' };
      const other = SimulatedVehicle.manifestBytes(a.manifest());
      const swapped = await h.app.inject({ method: 'PUT', url: '/device/v1/manifest', headers, payload: other });
      assert.equal(swapped.statusCode, 401);
      assert.equal(swapped.json<ErrorBody>().error.code, 'BAD_REQUEST_SIGNATURE');
    });

    it('vehicle A cannot post vehicle B\'s manifest: 403 FORBIDDEN', async () => {
      const bBytes = SimulatedVehicle.manifestBytes(b.manifest());
      const r = await a.putManifest(bBytes);
      assert.equal(r.status, 403);
      assert.equal(r.json<ErrorBody>().error.code, 'FORBIDDEN');
      // Nor sign B's requests with its own key under B's key id.
      const forged = await b.putManifest(bBytes, { signer: a.primary.signer });
      assert.equal(forged.json<ErrorBody>().error.code, 'BAD_REQUEST_SIGNATURE');
      assert.deepEqual(await counters(b.vin), { 'CHECKIN-B-p': null, 'CHECKIN-B-s': null });
    });

    it('an ECU that is not part of the vehicle: 422 MANIFEST_UNKNOWN_ECU', async () => {
      const intruder = inProcessVehicle(h, 'CHECKIN-A', [{ serial: 'CHECKIN-A-p', hardwareId: 'hw-primary' }, { serial: 'rogue-ecu', hardwareId: 'hw-x' }]);
      // Same primary key as A (the attacker holds it), plus a report from an unregistered ECU.
      const m = a.manifest();
      const rogue = intruder.manifest({ only: ['rogue-ecu'] }).signed.ecuVersionReports.get('rogue-ecu')!;
      const json = m.toJSON() as { signed: { ecu_version_reports: Record<string, unknown> } };
      json.signed.ecu_version_reports['rogue-ecu'] = rogue.toJSON();
      const { signVehicleManifest } = await import('@reflash/metadata');
      const resigned = signVehicleManifest(a.vin, a.primary.serial, [...m.signed.ecuVersionReports.values(), rogue], a.primary.signer);
      rejectedWith(await a.putManifest(SimulatedVehicle.manifestBytes(resigned)), 'MANIFEST_UNKNOWN_ECU');
    });

    it('malformed manifests: 400 BAD_MANIFEST; oversized bodies: 413', async () => {
      for (const body of [{ signed: {}, signatures: [] }, { signed: { vin: a.vin, primary_ecu_serial: 'x', ecu_version_reports: [] }, signatures: [] }]) {
        const r = await a.request('PUT', '/device/v1/manifest', body);
        assert.equal(r.status, 400);
        assert.equal(r.json<ErrorBody>().error.code, 'BAD_MANIFEST');
      }
      const notJson = await a.request('PUT', '/device/v1/manifest', Buffer.from('{"signed":'));
      assert.equal(notJson.status, 400);
      const big = Buffer.from(JSON.stringify({ signed: { pad: 'x'.repeat(1024 * 1024) }, signatures: [] }));
      const r = await a.request('PUT', '/device/v1/manifest', big);
      assert.equal(r.status, 413);
      assert.equal(r.json<ErrorBody>().error.code, 'PAYLOAD_TOO_LARGE');
    });
  });

  describe('installation failure events', () => {
    it('an event for an ECU of another vehicle is 404; without a pending assignment nothing changes', async () => {
      const r = await a.reportFailure('CHECKIN-B-p', 'x.bin', 'flash error');
      assert.equal(r.status, 404);
      const none = await a.reportFailure('CHECKIN-A-s', 'x.bin', 'flash error');
      assert.equal(none.status, 200);
      assert.equal(none.json<{ failed: number }>().failed, 0);
      const long = await a.reportFailure('CHECKIN-A-s', 'x.bin', 'x'.repeat(1001));
      assert.equal(long.status, 400);
    });
  });
});

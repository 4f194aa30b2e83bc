import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@reflash/metadata';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { inProcessVehicle } from './support/vehicle.js';
import type { SimulatedVehicle } from './support/vehicle.js';

interface ErrorBody { error: { code: string; message: string } }
const HOUR = 3_600_000;

forEachDialect('Director repository', (dialect) => {
  let h: Harness;
  let a: SimulatedVehicle;
  let b: SimulatedVehicle;
  before(async () => {
    h = await makeHarness(dialect);
    a = inProcessVehicle(h, 'DIRECTOR-A');
    b = inProcessVehicle(h, 'DIRECTOR-B');
    for (const v of [a, b]) assert.equal((await v.provision(h.tokens.operator)).status, 201);
  });
  after(async () => { await h.close(); });

  const file = async (v: SimulatedVehicle, name: string, vin = v.vin) => v.request('GET', `/repo/director/${vin}/${name}`);

  it('serves the shared root and creates v1 (empty targets) on first use', async () => {
    const root = await file(a, 'root.json');
    assert.equal(root.status, 200);
    assert.equal(root.headers['content-type'], 'application/json');
    const op = await h.app.inject({ url: '/api/v1/director/root', headers: h.auth('operator') });
    assert.deepEqual(root.body, op.rawPayload);
    assert.deepEqual((await file(a, '1.root.json')).body, root.body);
    const ts = Metadata.fromBytes((await file(a, 'timestamp.json')).body, 'timestamp');
    assert.equal(ts.signed.version, 1);
    assert.equal(ts.signed.expiresMs, h.clock.now + h.ctx.config.directorExpiryMs);
    const snap = Metadata.fromBytes((await file(a, '1.snapshot.json')).body, 'snapshot');
    assert.equal(snap.signed.meta.get('targets.json')?.version, 1);
    const targets = Metadata.fromBytes((await file(a, '1.targets.json')).body, 'targets');
    assert.equal(targets.signed.targets.size, 0);
  });

  it('the vehicle fully verifies its (empty) Director metadata', async () => {
    const res = await a.fullVerification();
    assert.equal(res.directorTargetsVersion, 1);
    assert.deepEqual(res.targets, []);
  });

  it('re-signs the timestamp (and the older snapshot and targets) when less than half the lifetime is left', async () => {
    const v = inProcessVehicle(h, 'DIRECTOR-C');
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    assert.equal((await v.fullVerification()).directorTargetsVersion, 1);
    h.clock.now += 11 * HOUR; // more than half left: nothing new
    assert.equal(Metadata.fromBytes((await file(v, 'timestamp.json')).body, 'timestamp').signed.version, 1);
    h.clock.now += 2 * HOUR; // 11 h of 24 left
    const ts = Metadata.fromBytes((await file(v, 'timestamp.json')).body, 'timestamp');
    assert.equal(ts.signed.version, 2);
    assert.equal(ts.signed.snapshotMeta.version, 2);
    // Same (empty) content, new versions: the vehicle never sees expired Director metadata.
    h.clock.now += 20 * HOUR; // the v1 files have expired by now
    const res = await v.fullVerification();
    assert.equal(res.directorTargetsVersion, 3);
    assert.equal((await file(v, '1.targets.json')).status, 200, 'old versions stay available');
  });

  describe('refusals', () => {
    it('vehicle A cannot read vehicle B\'s Director metadata: 403 FORBIDDEN', async () => {
      for (const name of ['timestamp.json', '1.targets.json', 'root.json']) {
        const r = await file(a, name, b.vin);
        assert.equal(r.status, 403, name);
        assert.equal(r.json<ErrorBody>().error.code, 'FORBIDDEN');
      }
    });

    it('unsigned, forged, stale and replayed requests are refused', async () => {
      const url = `/repo/director/${a.vin}/timestamp.json`;
      const unsigned = await h.app.inject({ url });
      assert.equal(unsigned.statusCode, 401);
      assert.equal(unsigned.json<ErrorBody>().error.code, 'UNAUTHENTICATED');
      const withToken = await h.app.inject({ url, headers: h.auth('admin') });
      assert.equal(withToken.statusCode, 401, 'Director metadata is for vehicles only');
      const forged = await a.request('GET', url, undefined, { signer: b.primary.signer });
      assert.equal(forged.json<ErrorBody>().error.code, 'BAD_REQUEST_SIGNATURE');
      const stale = await a.request('GET', url, undefined, { nowMs: h.clock.now - 6 * 60_000 });
      assert.equal(stale.status, 401);
      assert.equal(stale.json<ErrorBody>().error.code, 'STALE_REQUEST');
      const headers = a.signHeaders('GET', url, undefined);
      assert.equal((await h.app.inject({ url, headers })).statusCode, 200);
      const replay = await h.app.inject({ url, headers });
      assert.equal(replay.statusCode, 401);
      assert.equal(replay.json<ErrorBody>().error.code, 'REPLAYED_REQUEST');
    });

    it('unknown versions are 404 METADATA_NOT_FOUND; other names are 400', async () => {
      const r = await file(a, '99.targets.json');
      assert.equal(r.status, 404);
      assert.equal(r.json<ErrorBody>().error.code, 'METADATA_NOT_FOUND');
      assert.equal((await file(a, '2.root.json')).status, 404);
      for (const name of ['1.timestamp.json', 'mirrors.json', '..%2Froot.json', 'targets']) assert.equal((await file(a, name)).status, 400, name);
    });

    it('the Director root route is for operators and auditors', async () => {
      assert.equal((await h.app.inject({ url: '/api/v1/director/root', headers: h.auth('release-manager') })).statusCode, 403);
      assert.equal((await h.app.inject({ url: '/api/v1/director/root' })).statusCode, 401);
    });
  });
});

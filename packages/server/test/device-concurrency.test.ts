/**
 * Concurrent check-ins of one vehicle (in one process): the vehicle row lock serialises them, so
 * Director versions stay contiguous and unique and the final state is consistent, whatever the
 * order in which the server sees them.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@reflash/metadata';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { initImageRepo, offlineKeys, publishImage } from './support/image-repo.js';
import { SimulatedVehicle, assertDirectorConsistent, inProcessVehicle, installedImage } from './support/vehicle.js';

interface ErrorBody { error: { code: string; details?: { code?: string } } }

forEachDialect('concurrent check-ins of one vehicle', (dialect) => {
  let h: Harness;
  const fwA = Buffer.from('primary firmware A');
  const fwB = Buffer.from('secondary firmware B');
  before(async () => {
    h = await makeHarness(dialect);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
    await publishImage(h, 'gw/a.bin', fwA, { hardwareIds: ['hw-primary'], releaseCounter: 1 });
    await publishImage(h, 'ecu/b.bin', fwB, { hardwareIds: ['hw-secondary'], releaseCounter: 1 });
  });
  after(async () => { await h.close(); });

  it('20 concurrent manifests with distinct counters never corrupt Director versions', async () => {
    const v = inProcessVehicle(h, 'CONC-1');
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    const r = await h.app.inject({ method: 'POST', url: '/api/v1/assignments', headers: h.auth('operator'), payload: { vins: [v.vin], images: { 'hw-primary': 'gw/a.bin', 'hw-secondary': 'ecu/b.bin' } } });
    assert.equal(r.statusCode, 201);
    // Counters 1..20; from 8 on the secondary reports B installed, from 15 on the primary A.
    const manifests = Array.from({ length: 20 }, (_, i) => {
      const c = i + 1;
      return SimulatedVehicle.manifestBytes(v.manifest({
        reports: {
          'CONC-1-p': { counter: c, ...(c >= 15 ? { installed: installedImage('gw/a.bin', fwA) } : {}) },
          'CONC-1-s': { counter: c, ...(c >= 8 ? { installed: installedImage('ecu/b.bin', fwB) } : {}) },
        },
      }));
    });
    // Shuffle deterministically, then send all at once.
    const order = manifests.map((m, i) => ({ m, k: (i * 7) % 20 })).sort((x, y) => x.k - y.k).map((x) => x.m);
    const results = await Promise.all(order.map((m) => v.putManifest(m)));
    const accepted = results.filter((x) => x.status === 200);
    const refused = results.filter((x) => x.status !== 200);
    assert.ok(accepted.length >= 1);
    for (const x of refused) {
      assert.equal(x.status, 422);
      assert.equal(x.json<ErrorBody>().error.details?.code, 'MANIFEST_COUNTER_REPLAY');
    }
    // The highest counter is always accepted: it is above anything stored before it.
    const ecus = await h.ctx.db.kysely.selectFrom('ecus').select(['serial', 'last_counter', 'installed_filename']).where('vin', '=', v.vin).orderBy('serial').execute();
    assert.deepEqual(ecus.map((e) => [e.serial, e.last_counter, e.installed_filename]), [['CONC-1-p', 20, 'gw/a.bin'], ['CONC-1-s', 20, 'ecu/b.bin']]);
    const vehicle = await h.ctx.db.kysely.selectFrom('vehicles').select('manifest_count').where('vin', '=', v.vin).executeTakeFirstOrThrow();
    assert.equal(vehicle.manifest_count, accepted.length);
    const statuses = await h.ctx.db.kysely.selectFrom('assignments').select('status').where('vin', '=', v.vin).execute();
    assert.deepEqual(statuses.map((s) => s.status), ['installed', 'installed']);
    const { targets } = await assertDirectorConsistent(h.ctx.db.kysely, v.vin);
    // v1 names both images; at most one version per completed assignment after it.
    assert.ok(targets.length >= 2 && targets.length <= 3, `${targets.length} targets versions`);
    assert.deepEqual([...targets[0]!.signed.targets.keys()].sort(), ['ecu/b.bin', 'gw/a.bin']);
    const served = Metadata.fromBytes((await v.request('GET', `/repo/director/${v.vin}/${targets.length}.targets.json`)).body, 'targets');
    assert.equal(served.signed.targets.size, 0);
    const reported = accepted.map((x) => x.json<{ directorTargetsVersion: number }>().directorTargetsVersion);
    assert.ok(reported.every((n) => n >= 1 && n <= targets.length));
    assert.equal((await v.fullVerification()).directorTargetsVersion, targets.length);
  });

  it('concurrent first reads of a vehicle\'s Director metadata create v1 once', async () => {
    const v = inProcessVehicle(h, 'CONC-2');
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    const res = await Promise.all(Array.from({ length: 10 }, () => v.request('GET', `/repo/director/${v.vin}/timestamp.json`)));
    assert.ok(res.every((x) => x.status === 200));
    assert.ok(res.every((x) => x.body.equals(res[0]!.body)));
    assert.deepEqual((await assertDirectorConsistent(h.ctx.db.kysely, v.vin)).targets.map((t) => t.signed.version), [1]);
  });
});

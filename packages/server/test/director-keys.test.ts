/**
 * Director key rotation (Uptane 2.1 §5.3, TUF 5.3.4): vehicles follow the Director root chain and
 * keep verifying; metadata signed with retired keys is re-signed; the rotation is logged.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@reflash/metadata';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { initImageRepo, offlineKeys, publishImage } from './support/image-repo.js';
import { inProcessVehicle } from './support/vehicle.js';

forEachDialect('Director key rotation', (dialect) => {
  let h: Harness;
  before(async () => {
    h = await makeHarness(dialect);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
  });
  after(async () => { await h.close(); });

  it('rotating the targets and then the root key: the vehicle follows root v2, v3 and verifies fully', async () => {
    const v = inProcessVehicle(h, 'ROT-1');
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    await publishImage(h, 'ecu/app-9.bin', Buffer.from('app nine'), { hardwareIds: ['hw-secondary'], releaseCounter: 9 });
    const a = await h.app.inject({ method: 'POST', url: '/api/v1/assignments', headers: h.auth('operator'), payload: { vins: ['ROT-1'], images: { 'hw-secondary': 'ecu/app-9.bin' } } });
    assert.equal(a.statusCode, 201, a.body);
    assert.equal((await v.checkIn()).status, 200);
    const before = await v.fullVerification();
    assert.equal(before.targets.length, 1);

    for (const [role, version] of [['targets', 2], ['root', 3]] as const) {
      h.clock.now += 1000;
      const r = await h.app.inject({ method: 'POST', url: '/api/v1/director/keys/rotate', headers: h.auth('admin'), payload: { role } });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json<{ rootVersion: number; added: string; removed: string[] }>();
      assert.equal(body.rootVersion, version);
      assert.equal(body.removed.length, 1);
      h.clock.now += 1000;
      // The same updater state (trusted Director root v1/v2) follows the chain and verifies.
      const after = await v.fullVerification();
      assert.equal(after.targets.length, 1, `after rotating ${role}`);
      assert.equal(after.targets[0]!.target.path, 'ecu/app-9.bin');
      if (role === 'targets') {
        const t = await h.app.inject({ url: `/api/v1/vehicles/ROT-1/director/${after.directorTargetsVersion}.targets.json`, headers: h.auth('operator') });
        if (t.statusCode === 200) assert.deepEqual([...Metadata.fromBytes(t.rawPayload, 'targets').signatures.keys()], [body.added]);
      }
    }
    const log = h.ctx.audit;
    await log.integrate();
    const status = (await h.app.inject({ url: '/api/v1/log/status', headers: h.auth('auditor') })).json<{ appended: number }>();
    const entries = [];
    for (let i = 0; i < status.appended; i++) entries.push((await h.app.inject({ url: `/api/v1/log/entries/${i}` })).json<{ type: string; repo?: string; role?: string }>());
    assert.deepEqual(entries.filter((e) => e.type === 'key-rotation' && e.repo === 'director').map((e) => e.role), ['targets', 'root']);
  });

  it('only admins may rotate', async () => {
    const r = await h.app.inject({ method: 'POST', url: '/api/v1/director/keys/rotate', headers: h.auth('operator'), payload: { role: 'timestamp' } });
    assert.equal(r.statusCode, 403);
  });
});

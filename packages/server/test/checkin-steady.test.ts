/**
 * The steady-state check-in (services/checkin-fast.ts): on PostgreSQL a check-in that changes
 * nothing but the report counters is one snapshot read and one all-or-nothing write
 * (reflash_checkin_cas); anything else, and everything on SQLite, takes the locked check-in.
 * Both give the same answer and leave the same rows.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSignatureHeaders } from '@reflash/metadata';
import { sql } from 'kysely';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { SimulatedVehicle, inProcessVehicle, installedImage } from './support/vehicle.js';

interface Answer { directorTargetsVersion: number; pending: number; director?: { rootVersion: number; files: Record<string, string> } }
interface ErrorBody { error: { code: string } }

forEachDialect('steady-state check-in', (dialect) => {
  let h: Harness;
  let v: SimulatedVehicle;
  before(async () => {
    h = await makeHarness(dialect);
    v = inProcessVehicle(h, 'STEADY-0001');
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    assert.equal((await v.checkIn()).status, 200); // creates the Director metadata (locked)
  });
  after(async () => { await h.close(); });

  const byPath = async (): Promise<Record<string, number>> => Object.fromEntries((await h.ctx.metrics.checkins.get()).values.map((x) => [String(x.labels['path']), x.value]));
  const counters = async (): Promise<Record<string, number | null>> => Object.fromEntries((await h.ctx.db.kysely.selectFrom('ecus').select(['serial', 'last_counter']).where('vin', '=', v.vin).execute()).map((r) => [r.serial, r.last_counter]));
  const manifestCount = async (): Promise<number> => Number((await h.ctx.db.kysely.selectFrom('vehicles').select('manifest_count').where('vin', '=', v.vin).executeTakeFirstOrThrow()).manifest_count);
  const steadyPath = dialect === 'postgres' ? 'steady' : 'locked';

  it(`a check-in that changes nothing but counters takes the ${steadyPath} path: counters, nonce and last check-in stored; Director files answered`, async () => {
    const before = await byPath();
    const n = await manifestCount();
    const m = v.manifest();
    const bytes = SimulatedVehicle.manifestBytes(m);
    const headers = v.signHeaders('PUT', '/device/v1/manifest?directorRoot=1', bytes);
    const r = await h.app.inject({ method: 'PUT', url: '/device/v1/manifest?directorRoot=1', headers: { ...headers, 'content-type': 'application/json' }, payload: bytes });
    assert.equal(r.statusCode, 200, r.body);
    const after = await byPath();
    assert.equal((after[steadyPath] ?? 0) - (before[steadyPath] ?? 0), 1);
    assert.equal(await manifestCount(), n + 1);
    assert.deepEqual(await counters(), Object.fromEntries([...m.signed.ecuVersionReports].map(([s, rep]) => [s, rep.signed.reportCounter])));
    const { params } = parseSignatureHeaders(headers['signature-input'], headers['signature']);
    const nonce = await h.ctx.db.kysely.selectFrom('request_nonces').select('nonce').where('key_id', '=', params.keyid).where('nonce', '=', params.nonce).executeTakeFirst();
    assert.ok(nonce !== undefined, 'the request nonce is recorded');
    const a = r.json<Answer>();
    for (const [name, b64] of Object.entries(a.director!.files)) {
      const served = await v.request('GET', `/repo/director/${v.vin}/${name}`);
      assert.deepEqual(Buffer.from(b64, 'base64'), served.body, name);
    }
  });

  it('a check-in that reports a new image takes the locked path (history, assignment completion)', async () => {
    const before = await byPath();
    const serial = [...v.ecus.keys()][1]!;
    assert.equal((await v.checkIn({ reports: { [serial]: { installed: installedImage('other/image.bin', Buffer.from('other')) } } })).status, 200);
    const after = await byPath();
    assert.equal((after['locked'] ?? 0) - (before['locked'] ?? 0), 1);
    const history = await h.ctx.db.kysely.selectFrom('ecu_history').select('filename').where('serial', '=', serial).orderBy('id', 'desc').executeTakeFirst();
    assert.equal(history?.filename, 'other/image.bin');
  });

  it('a nonce already recorded by another server process: 401 REPLAYED_REQUEST, nothing stored', async () => {
    const c = await counters();
    const n = await manifestCount();
    const bytes = SimulatedVehicle.manifestBytes(v.manifest());
    const headers = v.signHeaders('PUT', '/device/v1/manifest', bytes);
    const { params } = parseSignatureHeaders(headers['signature-input'], headers['signature']);
    await h.ctx.db.kysely.insertInto('request_nonces').values({ key_id: params.keyid, nonce: params.nonce, expires_at: h.clock.now + 60_000 }).execute();
    const r = await h.app.inject({ method: 'PUT', url: '/device/v1/manifest', headers: { ...headers, 'content-type': 'application/json' }, payload: bytes });
    assert.equal(r.statusCode, 401, r.body);
    assert.equal(r.json<ErrorBody>().error.code, 'REPLAYED_REQUEST');
    assert.deepEqual(await counters(), c);
    assert.equal(await manifestCount(), n);
  });

  // PostgreSQL only: SQLite has no such function (it always takes the locked check-in).
  if (dialect === 'postgres') it('reflash_checkin_cas: a counter or key that changed meanwhile raises RF001 and stores nothing', async () => {
    const db = h.ctx.db.kysely;
    const rows = await db.selectFrom('ecus').select(['serial', 'key_id', 'last_counter']).where('vin', '=', v.vin).orderBy('serial').execute();
    const vehicle = await db.selectFrom('vehicles').select(['primary_ecu_serial', 'manifest_count']).where('vin', '=', v.vin).executeTakeFirstOrThrow();
    const call = (old: Array<number | null>, keyIds: string[], nonce: string) => sql<{ ok: number }>`select reflash_checkin_cas(${v.vin}, ${vehicle.primary_ecu_serial}, ${'test-key'}, ${nonce}, ${h.clock.now + 60_000}, ${h.clock.now},
      ${rows.map((r) => r.serial)}::text[], ${keyIds}::text[], ${old}::bigint[], ${rows.map((r) => (r.last_counter ?? 0) + 10)}::bigint[]) as ok`.execute(db);
    const stale = rows.map((r, i) => (i === 0 ? (r.last_counter ?? 0) - 1 : r.last_counter));
    await assert.rejects(call(stale, rows.map((r) => r.key_id), 'n-stale'), (e: { code?: string }) => e.code === 'RF001');
    await assert.rejects(call(rows.map((r) => r.last_counter), rows.map((r, i) => (i === 1 ? 'another-key' : r.key_id)), 'n-key'), (e: { code?: string }) => e.code === 'RF001');
    const nonces = await db.selectFrom('request_nonces').select('nonce').where('key_id', '=', 'test-key').execute();
    assert.deepEqual(nonces, [], 'nothing recorded: the statement was rolled back whole');
    assert.deepEqual(await counters(), Object.fromEntries(rows.map((r) => [r.serial, r.last_counter])));
    assert.equal(await manifestCount(), Number(vehicle.manifest_count));
    // The same call with the stored values writes everything; again with the same nonce: 0.
    assert.equal((await call(rows.map((r) => r.last_counter), rows.map((r) => r.key_id), 'n-ok')).rows[0]?.ok, 1);
    assert.equal(await manifestCount(), Number(vehicle.manifest_count) + 1);
    assert.equal((await call(rows.map((r) => (r.last_counter ?? 0) + 10), rows.map((r) => r.key_id), 'n-ok')).rows[0]?.ok, 0);
  });
});

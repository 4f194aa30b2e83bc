/**
 * Two server processes on one PostgreSQL database (horizontal scaling): 100 vehicles check in
 * concurrently through both, over real HTTP with signed requests. The vehicle row lock
 * (SELECT ... FOR UPDATE) must keep every vehicle's Director versions contiguous and unique
 * across processes, and request nonces must be single-use across processes.
 * PostgreSQL only: skipped with a message when unreachable, unless REFLASH_TEST_PG_REQUIRED=1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Key, Metadata, Role, Root, SPEC_VERSION, TargetFile, Targets, formatExpires, generateSigner, uptaneCustom,
} from '@reflash/metadata';
import type { RoleType, Signer } from '@reflash/metadata';
import type { Db } from '../src/db/connect.js';
import { openDb } from '../src/db/connect.js';
import { PG_ADMIN_URL, freshPgDatabase, pgAvailable } from './support/harness.js';
import { spawnServer } from './support/server-process.js';
import type { ServerChild } from './support/server-process.js';
import { SimulatedVehicle, assertDirectorConsistent, fleet, httpTransport, installedImage, operatorRequest } from './support/vehicle.js';
import type { Transport } from './support/vehicle.js';

const MASTER_KEY = 'concurrency-test-master-key-0123456789abcdef';
const YEAR = 365 * 86_400_000;
const VEHICLES = 100;

/** Image repository root v1 (offline root and targets keys, the server's online keys), over HTTP. */
async function initImageRepo(t: Transport, token: string, rootKey: Signer, targetsKey: Signer): Promise<void> {
  const online = await operatorRequest(t, token, 'GET', '/api/v1/image-repo/online-keys');
  assert.equal(online.status, 200, online.body.toString());
  type K = { keyId: string; key: unknown };
  const o = online.json<Record<'snapshot' | 'timestamp', { active: K[] }>>();
  const keys = new Map<string, Key>();
  const roles = new Map<RoleType, Role>();
  const add = (role: RoleType, ks: Array<{ keyId: string; key: Key }>): void => {
    for (const k of ks) keys.set(k.keyId, k.key);
    roles.set(role, new Role(ks.map((k) => k.keyId), 1));
  };
  add('root', [rootKey]);
  add('targets', [targetsKey]);
  for (const r of ['snapshot', 'timestamp'] as const) add(r, o[r].active.map((k) => ({ keyId: k.keyId, key: Key.fromJSON(k.key) })));
  const root = new Root({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(Date.now() + YEAR), consistentSnapshot: true, keys, roles });
  const r = await operatorRequest(t, token, 'PUT', '/api/v1/image-repo/root', Metadata.of(root, rootKey).toJSON());
  assert.equal(r.status, 200, r.body.toString());
}

/** Upload images and sign targets v1 listing them. */
async function publish(t: Transport, token: string, targetsKey: Signer, images: Array<{ path: string; bytes: Buffer; hardwareId: string }>): Promise<void> {
  const targets = new Map<string, TargetFile>();
  for (const img of images) {
    const up = await t({ method: 'PUT', url: `/api/v1/images/${img.path}`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: img.bytes });
    assert.ok(up.status === 201 || up.status === 200, up.body.toString());
    targets.set(img.path, TargetFile.fromData(img.path, img.bytes, uptaneCustom({ hardwareIds: [img.hardwareId], releaseCounter: 1 })));
  }
  const md = Metadata.of(new Targets({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(Date.now() + YEAR), targets }), targetsKey);
  const r = await operatorRequest(t, token, 'PUT', '/api/v1/image-repo/metadata/targets', md.toJSON());
  assert.equal(r.status, 200, r.body.toString());
}

/** Run `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: readonly T[], n: number, fn: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

describe('two server processes on one PostgreSQL database', async () => {
  if (!(await pgAvailable())) {
    if (process.env['REFLASH_TEST_PG_REQUIRED'] === '1') throw new Error(`PostgreSQL is required (REFLASH_TEST_PG_REQUIRED=1) but ${PG_ADMIN_URL} is unreachable`);
    describe('PostgreSQL unreachable', { skip: `PostgreSQL not reachable at ${PG_ADMIN_URL}: multi-process test skipped` }, () => undefined);
    return;
  }
  let database: { url: string; drop: () => Promise<void> };
  let dataDir: string;
  const servers: ServerChild[] = [];
  let t: [Transport, Transport];
  let token: string;
  let db: Db;

  before(async () => {
    database = await freshPgDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'reflash-mp-'));
    const env = { REFLASH_DATABASE: database.url, REFLASH_DATA_DIR: dataDir, REFLASH_MASTER_KEY: MASTER_KEY };
    // One after the other: the first initialises keys, the Director root and the admin token.
    servers.push(await spawnServer(env));
    servers.push(await spawnServer(env));
    t = [httpTransport(servers[0]!.url), httpTransport(servers[1]!.url)];
    token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    db = await openDb({ url: database.url, poolSize: 2 });
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await db?.close();
    await database?.drop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it(`${VEHICLES} vehicles checking in through both servers keep contiguous Director versions`, { timeout: 60_000 }, async () => {
    const started = Date.now();
    const rootKey = generateSigner();
    const targetsKey = generateSigner();
    await initImageRepo(t[0], token, rootKey, targetsKey);
    const fwA = Buffer.from('primary firmware A, multi-process');
    const fwB = Buffer.from('secondary firmware B, multi-process');
    await publish(t[1], token, targetsKey, [{ path: 'gw/a.bin', bytes: fwA, hardwareId: 'hw-primary' }, { path: 'ecu/b.bin', bytes: fwB, hardwareId: 'hw-secondary' }]);

    const vehicles = fleet(VEHICLES, { prefix: 'MP', transport: t[0], clock: Date.now });
    await pool(vehicles, 16, async (v, i) => {
      v.transport = t[i % 2]!;
      const r = await v.provision(token);
      assert.equal(r.status, 201, r.body.toString());
    });

    // First reads of every vehicle's Director metadata through both servers at once: v1 is
    // created exactly once.
    await Promise.all(vehicles.flatMap((v) => t.map(async (tr) => {
      const url = `/repo/director/${v.vin}/timestamp.json`;
      const r = await tr({ method: 'GET', url, headers: v.signHeaders('GET', url, undefined) });
      assert.equal(r.status, 200, r.body.toString());
    })));

    const assigned = await operatorRequest(t[0], token, 'POST', '/api/v1/assignments', { vins: vehicles.map((v) => v.vin), images: { 'hw-primary': 'gw/a.bin', 'hw-secondary': 'ecu/b.bin' } });
    assert.equal(assigned.status, 201, assigned.body.toString());
    assert.deepEqual(assigned.json(), { created: 2 * VEHICLES, vehicles: VEHICLES });

    // Three manifests per vehicle (counters 1..3; from 2 on the secondary reports B installed),
    // all in flight at once, alternating between the servers.
    const sends = vehicles.flatMap((v, i) => [1, 2, 3].map((c) => {
      const m = SimulatedVehicle.manifestBytes(v.manifest({
        reports: { [`${v.vin}-ecu0`]: { counter: c }, [`${v.vin}-ecu1`]: { counter: c, ...(c >= 2 ? { installed: installedImage('ecu/b.bin', fwB) } : {}) } },
      }));
      return { v, m, server: (i + c) % 2 };
    }));
    const results = await Promise.all(sends.map(async ({ v, m, server }) => {
      const headers = { ...v.signHeaders('PUT', '/device/v1/manifest', m), 'content-type': 'application/json' };
      return t[server]!({ method: 'PUT', url: '/device/v1/manifest', headers, body: m });
    }));
    for (const r of results) {
      if (r.status === 200) continue;
      assert.equal(r.status, 422, r.body.toString());
      assert.equal(r.json<{ error: { details: { code: string } } }>().error.details.code, 'MANIFEST_COUNTER_REPLAY');
    }

    for (const v of vehicles) {
      const { targets } = await assertDirectorConsistent(db.kysely, v.vin);
      // v1: created empty on first read; v2: both assignments; v3: B installed, A still named.
      assert.deepEqual(targets.map((x) => [...x.signed.targets.keys()].sort()), [[], ['ecu/b.bin', 'gw/a.bin'], ['gw/a.bin']], v.vin);
      const ecus = await db.kysely.selectFrom('ecus').select(['serial', 'last_counter']).where('vin', '=', v.vin).orderBy('serial').execute();
      assert.deepEqual(ecus.map((e) => e.last_counter), [3, 3], `${v.vin}: counters stored equal the last sent`);
      const a = await db.kysely.selectFrom('assignments').select(['filename', 'status']).where('vin', '=', v.vin).orderBy('filename').execute();
      assert.deepEqual(a.map((x) => [x.filename, x.status]), [['ecu/b.bin', 'installed'], ['gw/a.bin', 'pending']], v.vin);
    }

    // A vehicle verifies through either server and sees the same Director state.
    const v0 = vehicles[0]!;
    for (const tr of t) {
      v0.transport = tr;
      const res = await v0.fullVerification(Date.now());
      assert.equal(res.directorTargetsVersion, 3);
      assert.deepEqual(res.targets.map((x) => x.target.path), ['gw/a.bin']);
    }
    assert.ok(Date.now() - started < 60_000);
  });

  it('a request accepted by one server is a replay for the other', async () => {
    const v = fleet(1, { prefix: 'MPREPLAY', transport: t[0], clock: Date.now })[0]!;
    assert.equal((await v.provision(token)).status, 201);
    const m = SimulatedVehicle.manifestBytes(v.manifest());
    const headers = { ...v.signHeaders('PUT', '/device/v1/manifest', m), 'content-type': 'application/json' };
    assert.equal((await t[0]({ method: 'PUT', url: '/device/v1/manifest', headers, body: m })).status, 200);
    const replay = await t[1]({ method: 'PUT', url: '/device/v1/manifest', headers, body: m });
    assert.equal(replay.status, 401);
    assert.equal(replay.json<{ error: { code: string } }>().error.code, "REPLAYED_REQUEST", JSON.stringify(replay.json()));
  });
});

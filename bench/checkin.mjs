// Check-ins per second against a real server, on SQLite and on PostgreSQL.
//
// The server (@reflash/server startServer, the same code `reflash server` runs) listens on
// 127.0.0.1:0 in THIS thread with a temporary data folder. The load generator runs in a worker
// thread (this same file, started with `new Worker`), so it has its own event loop and does not
// share the server's. Setup over the admin API: an Image repository (root/targets signed here,
// 4 images, one per ECU hardware id), V vehicles with 4 ed25519 ECUs each, and an assignment of
// the 4 images to every vehicle, so each vehicle's Director targets name 4 images.
//
// One check-in, as a Primary makes it (every request signed with the Primary key, RFC 9421,
// fresh nonce; @reflash/metadata signRequest, as the vehicle HttpBackend does): a vehicle
// version manifest with 4 ECU version reports (fresh counters, each report signed by its ECU, the
// manifest by the Primary). BENCH_CHECKIN_MODE=answer (the default, what the vehicle's
// HttpBackend does): one PUT /device/v1/manifest?directorRoot=1, whose answer carries the
// vehicle's Director timestamp.json, V.snapshot.json and V.targets.json (checked to be there).
// BENCH_CHECKIN_MODE=gets: PUT /device/v1/manifest, then GET /repo/director/{vin}/timestamp.json
// and GET /repo/director/{vin}/N.targets.json for the N the manifest answer names. Each vehicle
// has at most one check-in in flight (its counters must increase in order). Requests go over
// keep-alive connections (one per concurrent loop), serialised ahead to bytes and read by a
// minimal HTTP/1.1 reader (`Connection`), so the generator takes little CPU from the server.
//
// The load is signed ahead of the measured phase (BENCH_CHECKIN_PRESIGN=0: signed while sending):
// signing is the vehicles' work, and on a 2-core machine the generator's signing would take CPU
// from the server it measures. Each request still carries its own nonce and a creation time
// within the server's skew window, and every manifest fresh counters, checked as always.
//
// The server thread's CPU time per check-in (Linux /proc) is shown too, in raw verify times: it
// does not depend on what else the shared machine runs as much as the wall-clock rate does.
//
// Also measured in the same run: the raw node:crypto ed25519 verify rate (one thread, median of
// `runs` x 1 s) and the ratio check-ins/s x 6 / raw verifies/s, where 6 = the signatures the
// server verifies per check-in (1 request signature + 1 manifest + 4 ECU reports); in 'gets'
// mode the two signed GETs add 2 more request signatures (the "all verified" column).
//
// Knobs (environment): BENCH_CHECKIN_VEHICLES (200), BENCH_CHECKIN_CONCURRENCY (32), BENCH_CHECKIN_MODE (answer | gets),
// BENCH_CHECKIN_TOTAL (4000), BENCH_CHECKIN_SECONDS (time cap, 60), BENCH_CHECKIN_DB
// ("sqlite,postgres"), BENCH_CHECKIN_PG (postgres://postgres@127.0.0.1:5432/test: a fresh
// database reflash_bench_<random> is created beside it and dropped after),
// BENCH_CHECKIN_SQLITE_SYNC ("group", the default: WAL fsynced off the event loop once for all
// waiting answers; "full": fsync inside every commit; "normal": process-crash durable only).
import { Buffer } from 'node:buffer';
import { createHash, createPrivateKey, randomBytes, sign as cryptoSign, verify as cryptoVerify, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  Metadata, PrivateKeySigner, Role, Root, SPEC_VERSION, TargetFile, Targets, formatExpires, generateSigner,
  parseSignatureHeaders, signEcuReport, signRequest, signVehicleManifest, signatureBase, uptaneCustom,
} from '@reflash/metadata';
import { envInt, fmtInt, fmtMs, median, printTable } from './lib.mjs';

export const title = 'Check-ins per second (manifest with 4 signed ECU reports verified + Director targets fetched)';

const ECUS_PER_VEHICLE = 4;
const VERIFIES_PER_CHECKIN = 6; // 1 request signature + 1 manifest + 4 ECU reports
const VERIFIES_PER_CHECKIN_ALL = 8; // + the 2 signed GETs
const GOAL_RATIO = 0.6;
const IMAGE_BYTES = 4096;
const DAY = 86_400_000;

function hardwareId(i) {
  return `bench-hw-${i}`;
}

function sha256(b) {
  return createHash('sha256').update(b).digest('hex');
}

/** The image an ECU reports as installed before any update (the same bytes for every vehicle). */
function baseImage(i) {
  const bytes = Buffer.alloc(1000 + i, i);
  return { filepath: `base/${hardwareId(i)}.bin`, length: bytes.length, hashes: { sha256: sha256(bytes) } };
}

// ---------------------------------------------------------------------------------------------
// Load generator (worker thread)

/** Percentile of sorted values (nearest rank). */
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * One keep-alive HTTP/1.1 connection of the load generator, sending requests serialised ahead
 * (bytes) one at a time and reading each answer's status and body (Content-Length framing, which
 * is what the server sends). Lean on purpose: on this 2-core machine every microsecond the
 * generator spends is taken from the server it measures (node:http cost ~100 µs a request).
 */
class Connection {
  #socket;
  #chunks = [];
  #waiting;
  #closed;
  constructor(port) {
    this.#socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    this.#socket.on('data', (c) => {
      this.#chunks.push(c);
      this.#parse();
    });
    const fail = (err) => {
      this.#closed = err ?? new Error('connection closed by the server');
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.reject(this.#closed);
    };
    this.#socket.once('error', fail);
    this.#socket.once('close', () => fail());
  }

  /** Send `bytes` (a whole request); resolves to { status, body } */
  exchange(bytes) {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.write(bytes);
    });
  }

  #parse() {
    if (this.#waiting === undefined) return;
    const buf = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    this.#chunks = [buf];
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = buf.toString('latin1', 0, end);
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (m === null) {
      this.#socket.destroy(new Error(`answer without Content-Length: ${head.slice(0, 200)}`));
      return;
    }
    const total = end + 4 + Number(m[1]);
    if (buf.length < total) return;
    const status = Number(head.slice(9, 12));
    const body = buf.subarray(end + 4, total);
    const rest = buf.subarray(total);
    this.#chunks = rest.length === 0 ? [] : [rest];
    const w = this.#waiting;
    this.#waiting = undefined;
    w.resolve({ status, body });
  }

  get closed() {
    return this.#closed !== undefined;
  }

  close() {
    this.#socket.destroy();
  }
}

/** A request as bytes on the wire (HTTP/1.1, keep-alive). */
function requestBytes(host, r) {
  let head = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
  if (r.body !== undefined) head += `content-type: application/json\r\ncontent-length: ${r.body.byteLength}\r\n`;
  head += '\r\n';
  return r.body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), r.body]);
}

async function loadGenerator(data) {
  const base = Array.from({ length: ECUS_PER_VEHICLE }, (_, i) => baseImage(i));
  const origin = new URL(data.url);
  const vehicles = data.vehicles.map((v) => {
    const ecus = v.ecus.map((e) => ({ serial: e.serial, signer: PrivateKeySigner.fromPrivateKey(createPrivateKey({ key: Buffer.from(e.pkcs8), format: 'der', type: 'pkcs8' }), 'ed25519') }));
    return { vin: v.vin, ecus, primary: ecus[0], counter: 0, targetsVersion: 0, queue: [] };
  });

  /** A signed request as the Primary makes it (RFC 9421, fresh nonce; @reflash/metadata signRequest), as bytes. */
  function signed(v, method, path, body) {
    const headers = signRequest({ method, url: path, body, keyid: v.primary.signer.keyId, privateKey: v.primary.signer.privateKey, nowSeconds: Math.floor(Date.now() / 1000) });
    return { label: `${method} ${path}`, bytes: requestBytes(origin.host, { method, path, headers, body }) };
  }

  /**
   * Everything the vehicle's next check-in sends, signed: the manifest (4 ECU reports, next
   * counter) and, in 'gets' mode, the two GETs.
   */
  function prepare(v) {
    v.counter += 1;
    const reports = v.ecus.map((e, i) => signEcuReport({ ecuSerial: e.serial, installedImage: base[i], attacksDetected: '', reportCounter: v.counter }, e.signer));
    const manifest = signVehicleManifest(v.vin, v.primary.serial, reports, v.primary.signer);
    const body = Buffer.from(JSON.stringify(manifest.toJSON()), 'utf8');
    if (data.mode === 'answer') return { put: signed(v, 'PUT', '/device/v1/manifest?directorRoot=1', body) };
    const dir = `/repo/director/${v.vin}/`;
    return {
      put: signed(v, 'PUT', '/device/v1/manifest', body),
      timestamp: signed(v, 'GET', `${dir}timestamp.json`),
      targetsVersion: v.targetsVersion,
      targets: v.targetsVersion === 0 ? undefined : signed(v, 'GET', `${dir}${v.targetsVersion}.targets.json`),
    };
  }

  async function send(conn, r) {
    const { status, body } = await conn.exchange(r.bytes);
    if (status !== 200) throw Object.assign(new Error(`${r.label}: ${status} ${body.toString('utf8').slice(0, 300)}`), { code: `HTTP_${status}` });
    return body;
  }

  async function checkIn(conn, v) {
    const c = v.queue.shift() ?? prepare(v);
    const put = await send(conn, c.put);
    if (data.mode === 'answer') {
      // The answer carries timestamp.json, V.snapshot.json and V.targets.json (base64).
      const answer = JSON.parse(put.toString('utf8'));
      const files = Object.keys(answer.director?.files ?? {});
      if (!files.includes('timestamp.json') || !files.some((f) => f.endsWith('.targets.json'))) throw Object.assign(new Error(`answer without Director metadata: ${files.join(', ')}`), { code: 'NO_DIRECTOR' });
      v.targetsVersion = answer.directorTargetsVersion;
      return put.byteLength;
    }
    const answer = JSON.parse(put.toString('utf8'));
    const ts = await send(conn, c.timestamp);
    const n = answer.directorTargetsVersion;
    v.targetsVersion = n;
    // The GET was signed ahead for the version the vehicle had; another version is signed now.
    const targets = await send(conn, c.targets !== undefined && c.targetsVersion === n ? c.targets : signed(v, 'GET', `/repo/director/${v.vin}/${n}.targets.json`));
    return put.byteLength + ts.byteLength + targets.byteLength;
  }

  /**
   * `total` check-ins by `concurrency` loops; loop j owns the vehicles j, j+C, j+2C, ... (so a
   * vehicle never has two check-ins in flight) and takes tickets from a shared counter
   * (`eachOnce`: every loop checks each of its vehicles in once).
   */
  async function phase(total, concurrency, capMs, eachOnce = false) {
    const latencies = [];
    const failures = new Map();
    let tickets = total;
    let bytes = 0;
    const t0 = performance.now();
    const elu0 = performance.eventLoopUtilization();
    const loops = Array.from({ length: Math.min(concurrency, vehicles.length) }, async (_, j) => {
      const mine = vehicles.filter((_v, i) => i % concurrency === j);
      let conn = new Connection(Number(origin.port));
      let k = 0;
      while (tickets > 0 && performance.now() - t0 < capMs && (!eachOnce || k < mine.length)) {
        tickets -= 1;
        const v = mine[k++ % mine.length];
        const s = performance.now();
        try {
          bytes += await checkIn(conn, v);
          latencies.push(performance.now() - s);
        } catch (err) {
          const code = err?.code ?? err?.name ?? 'ERROR';
          const f = failures.get(code) ?? { count: 0, example: String(err?.message ?? err) };
          f.count += 1;
          failures.set(code, f);
          if (conn.closed) conn = new Connection(Number(origin.port));
        }
      }
      conn.close();
    });
    await Promise.all(loops);
    const seconds = (performance.now() - t0) / 1000;
    const elu = performance.eventLoopUtilization(elu0);
    latencies.sort((a, b) => a - b);
    return {
      attempted: total - Math.max(0, tickets),
      ok: latencies.length,
      failed: [...failures.values()].reduce((n, f) => n + f.count, 0),
      failures: Object.fromEntries(failures),
      seconds,
      checkinsPerSecond: latencies.length / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1] ?? NaN,
      meanBytesFetched: latencies.length === 0 ? 0 : bytes / latencies.length,
      loadGeneratorUtilization: elu.utilization,
      cappedByTime: tickets > 0,
    };
  }

  // First check-in of every vehicle (creates its Director metadata): reported, not counted.
  const first = await phase(vehicles.length, data.concurrency, data.capMs, true);
  parentPort.postMessage({ kind: 'phase', name: 'first', result: first });
  if (data.presign) {
    // The load is signed ahead (not timed): the vehicles' signing is the clients' work, not the
    // server's, and on this 2-core machine it would otherwise take CPU from the server.
    const t = performance.now();
    const each = Math.ceil(data.total / vehicles.length) + 1;
    for (const v of vehicles) for (let i = 0; i < each; i++) v.queue.push(prepare(v));
    parentPort.postMessage({ kind: 'presigned', checkins: each * vehicles.length, ms: performance.now() - t });
  }
  parentPort.postMessage({ kind: 'start' });
  const main = await phase(data.total, data.concurrency, data.capMs);
  parentPort.postMessage({ kind: 'phase', name: 'main', result: main });
}

if (!isMainThread && workerData?.kind === 'reflash-checkin-load') {
  await loadGenerator(workerData);
}

// ---------------------------------------------------------------------------------------------
// Main thread: raw verify rate, server, setup, report

/**
 * Raw ed25519 verifies per second, one thread, over `messages` in turn (each with its own key
 * and signature): median of `runs` x 1 s.
 */
function rawVerifyRate(runs, messages) {
  const items = messages.map((message) => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    return { message, publicKey, sig: cryptoSign(null, message, privateKey) };
  });
  const rates = [];
  for (const it of items) cryptoVerify(null, it.message, it.publicKey, it.sig); // warm-up
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < 1000) {
      for (let i = 0; i < 30; i++) {
        for (const it of items) if (!cryptoVerify(null, it.message, it.publicKey, it.sig)) throw new Error('ed25519 verify failed');
      }
      n += 30 * items.length;
      t = performance.now();
    }
    rates.push(n / ((t - t0) / 1000));
  }
  return { median: median(rates), samples: rates };
}

/**
 * CPU time (user + system, ms) of this process's main thread, where the server runs: Linux
 * /proc/self/task/<pid>/stat, in clock ticks (100/s). Not wall time, so another process on the
 * shared machine does not inflate it (much); NaN elsewhere.
 */
function serverThreadCpuMs() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

async function mapLimit(items, limit, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

/** Image repository: root v1 + targets with one image per ECU hardware id; assignments for all. */
async function setUpImageRepo(admin, vins, log) {
  const { parseOnlineKeys } = await import('@reflash/cli/client/image-repo-api');
  const now = Date.now();
  const rootKey = generateSigner();
  const targetsKey = generateSigner();
  const online = parseOnlineKeys(await admin.get('/api/v1/image-repo/online-keys'));
  const keys = new Map([[rootKey.keyId, rootKey.key], [targetsKey.keyId, targetsKey.key]]);
  const roles = new Map([['root', new Role([rootKey.keyId], 1)], ['targets', new Role([targetsKey.keyId], 1)]]);
  for (const r of ['snapshot', 'timestamp']) {
    for (const k of online[r].active) keys.set(k.keyId(), k);
    roles.set(r, new Role(online[r].active.map((k) => k.keyId()), 1));
  }
  const root = new Root({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(now + 365 * DAY), consistentSnapshot: true, keys, roles });
  await admin.putJSONBytes('/api/v1/image-repo/root', Metadata.of(root, rootKey).toBytes());
  const files = new Map();
  for (let i = 0; i < ECUS_PER_VEHICLE; i++) {
    const name = `bench/${hardwareId(i)}-2.0.bin`;
    const bytes = randomBytes(IMAGE_BYTES);
    await admin.send('PUT', `/api/v1/images/${name}`, { body: bytes, headers: { 'content-type': 'application/octet-stream', 'x-reflash-sha256': sha256(bytes) } });
    const tf = TargetFile.fromData(name, bytes, uptaneCustom({ hardwareIds: [hardwareId(i)], releaseCounter: 1, targetFormat: 'BINARY' }));
    files.set(name, tf);
  }
  const targets = new Targets({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(now + 90 * DAY), targets: files });
  await admin.putJSONBytes('/api/v1/image-repo/metadata/targets', Metadata.of(targets, targetsKey).toBytes());
  const images = Object.fromEntries([...files.keys()].map((name, i) => [hardwareId(i), name]));
  const res = await admin.json('POST', '/api/v1/assignments', { vins, images });
  log(`   Image repository: root v1, targets v1 with ${files.size} images; assignments: ${JSON.stringify(res)}`);
}

async function provision(admin, count, log) {
  const vehicles = [];
  const t0 = performance.now();
  for (let v = 0; v < count; v++) {
    const vin = `BENCH${String(v).padStart(6, '0')}`;
    const ecus = Array.from({ length: ECUS_PER_VEHICLE }, (_, i) => ({ serial: `${vin}-ECU${i}`, hardwareId: hardwareId(i), signer: generateSigner('ed25519') }));
    vehicles.push({ vin, ecus });
  }
  await mapLimit(vehicles, 8, (v) => admin.json('POST', '/api/v1/vehicles', {
    vin: v.vin, model: 'bench', primaryEcuSerial: v.ecus[0].serial,
    ecus: v.ecus.map((e) => ({ serial: e.serial, hardwareId: e.hardwareId, publicKey: e.signer.key.toJSON() })),
  }));
  log(`   provisioned ${fmtInt(count)} vehicles x ${ECUS_PER_VEHICLE} ECUs in ${fmtMs(performance.now() - t0)}`);
  return vehicles;
}

/** PostgreSQL: a fresh database beside BENCH_CHECKIN_PG, or undefined (with the reason) if unreachable. */
async function createPgDatabase(baseUrl) {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    return { skip: `PostgreSQL at ${baseUrl} is unreachable (${err.message})` };
  }
  const name = `reflash_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      try {
        // The server's pool is closed by now; give its backends a moment to exit.
        for (let i = 0; i < 50; i++) {
          const open = await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
          if (open.rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

async function runOne(db, opts, log) {
  const { loadConfig, startServer } = await import('@reflash/server');
  const { AdminClient } = await import('@reflash/cli/client/admin');
  let database = '';
  let dropDb;
  if (db === 'postgres') {
    const pgdb = await createPgDatabase(opts.pgUrl);
    if (pgdb.skip !== undefined) {
      log(`   skipped: ${pgdb.skip}`);
      return { db, skipped: pgdb.skip };
    }
    database = pgdb.url;
    dropDb = pgdb.drop;
  }
  const dataDir = mkdtempSync(join(tmpdir(), `reflash-bench-${db}-`));
  let server;
  try {
    const config = loadConfig({ env: {}, flags: { dataDir, host: '127.0.0.1', port: 0, database, logLevel: 'error', sqliteSynchronous: process.env.BENCH_CHECKIN_SQLITE_SYNC ?? 'group' } });
    server = await startServer(config, { env: {} });
    log(`   server ${server.url} (${server.ctx.db.dialect}, data ${dataDir}); load generator: a worker thread`);
    const admin = new AdminClient({ baseUrl: server.url, token: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(), timeoutMs: 60_000 });
    const vehicles = await provision(admin, opts.vehicles, log);
    await setUpImageRepo(admin, vehicles.map((v) => v.vin), log);

    const phases = {};
    let cpu0 = 0;
    let proc0;
    let wall0 = 0;
    const elu0 = performance.eventLoopUtilization();
    await new Promise((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), {
        workerData: {
          kind: 'reflash-checkin-load', url: server.url, mode: opts.mode, presign: opts.presign, concurrency: opts.concurrency, total: opts.total, capMs: opts.seconds * 1000,
          vehicles: vehicles.map((v) => ({ vin: v.vin, ecus: v.ecus.map((e) => ({ serial: e.serial, pkcs8: e.signer.privateKey.export({ format: 'der', type: 'pkcs8' }) })) })),
        },
      });
      worker.on('message', (m) => {
        if (m.kind === 'presigned') log(`   signed ${fmtInt(m.checkins)} check-ins ahead (${fmtInt(m.checkins * (opts.mode === 'answer' ? 6 : 8))} signatures) in ${fmtMs(m.ms)}, not timed`);
        if (m.kind === 'start') {
          cpu0 = serverThreadCpuMs();
          proc0 = process.cpuUsage();
          wall0 = performance.now();
        }
        if (m.kind !== 'phase') return;
        if (m.name === 'main') {
          phases.serverCpuMs = serverThreadCpuMs() - cpu0;
          const u = process.cpuUsage(proc0);
          phases.processCpuMs = (u.user + u.system) / 1000;
          phases.wallMs = performance.now() - wall0;
        }
        phases[m.name] = { ...m.result, serverUtilization: performance.eventLoopUtilization(elu0).utilization };
        const r = m.result;
        log(`   ${m.name === 'first' ? 'first check-in per vehicle' : 'measured'}: ${fmtInt(r.ok)} ok, ${fmtInt(r.failed)} failed in ${r.seconds.toFixed(1)} s`);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load generator exited with ${code}`))));
    });
    const checkins = await server.ctx.db.kysely.selectFrom('vehicles').select((eb) => eb.fn.sum('manifest_count').as('n')).executeTakeFirst();
    return { db, dialect: server.ctx.db.dialect, acceptedManifests: Number(checkins?.n ?? 0), ...phases };
  } finally {
    if (server !== undefined) await server.close();
    if (dropDb !== undefined) await dropDb();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The 6 messages the server verifies a signature over in one check-in, as a vehicle of this
 * benchmark sends them: the request's RFC 9421 signature base, the manifest's canonical signed
 * part and the 4 ECU reports' (what the raw verify rate is measured over).
 */
function sampleCheckInMessages() {
  const ecus = Array.from({ length: ECUS_PER_VEHICLE }, () => generateSigner());
  const reports = ecus.map((s, i) => signEcuReport({ ecuSerial: `BENCH000000-ECU${i}`, installedImage: baseImage(i), attacksDetected: '', reportCounter: 1 }, s));
  const manifest = signVehicleManifest('BENCH000000', 'BENCH000000-ECU0', reports, ecus[0]);
  const body = Buffer.from(JSON.stringify(manifest.toJSON()), 'utf8');
  const path = '/device/v1/manifest?directorRoot=1';
  const headers = signRequest({ method: 'PUT', url: path, body, keyid: ecus[0].keyId, privateKey: ecus[0].privateKey, nowSeconds: Math.floor(Date.now() / 1000) });
  const { params } = parseSignatureHeaders(headers['signature-input'], headers['signature']);
  const base = Buffer.from(signatureBase({ method: 'PUT', path: '/device/v1/manifest', query: '?directorRoot=1', contentDigest: headers['content-digest'] }, params), 'utf8');
  return [base, manifest.signedBytes(), ...reports.map((r) => r.signedBytes())];
}

export async function run({ runs, log }) {
  const opts = {
    vehicles: envInt('BENCH_CHECKIN_VEHICLES', 200),
    concurrency: envInt('BENCH_CHECKIN_CONCURRENCY', 32),
    total: envInt('BENCH_CHECKIN_TOTAL', 4000),
    seconds: envInt('BENCH_CHECKIN_SECONDS', 60),
    dbs: (process.env.BENCH_CHECKIN_DB ?? 'sqlite,postgres').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    pgUrl: process.env.BENCH_CHECKIN_PG ?? 'postgres://postgres@127.0.0.1:5432/test',
    presign: process.env.BENCH_CHECKIN_PRESIGN !== '0',
    mode: process.env.BENCH_CHECKIN_MODE ?? 'answer',
  };
  if (opts.mode !== 'answer' && opts.mode !== 'gets') throw new Error(`BENCH_CHECKIN_MODE: expected answer or gets, got ${opts.mode}`);
  const verifiesAll = opts.mode === 'answer' ? VERIFIES_PER_CHECKIN : VERIFIES_PER_CHECKIN_ALL;
  log(`   ${fmtInt(opts.vehicles)} vehicles x ${ECUS_PER_VEHICLE} ECUs (ed25519), concurrency ${opts.concurrency}, ${fmtInt(opts.total)} check-ins (cap ${opts.seconds} s) per database: ${opts.dbs.join(', ')}; mode ${opts.mode}`);

  // The machine may be shared: the 1-minute load average says how much else was running.
  log(`   load average before: ${loadavg()[0].toFixed(2)} (${cpus().length} cores)`);
  const messages = sampleCheckInMessages();
  const raw = rawVerifyRate(runs, messages);
  log(`   raw node:crypto ed25519 verify (1 thread, a check-in's ${messages.length} messages in turn: ${messages.map((m) => m.byteLength).join(', ')} B): ${fmtInt(Math.round(raw.median))}/s (median of ${runs} x 1 s)`);

  const results = [];
  for (const db of opts.dbs) {
    if (db !== 'sqlite' && db !== 'postgres') throw new Error(`BENCH_CHECKIN_DB: unknown database ${db}`);
    log(`   -- ${db}`);
    results.push(await runOne(db, opts, log));
  }

  const rows = [];
  for (const r of results) {
    if (r.skipped !== undefined) {
      rows.push({ db: r.db, rate: 'skipped' });
      continue;
    }
    const m = r.main;
    const ratio = (m.checkinsPerSecond * VERIFIES_PER_CHECKIN) / raw.median;
    r.ratio = ratio;
    r.ratioAll = (m.checkinsPerSecond * verifiesAll) / raw.median;
    rows.push({
      db: r.db,
      rate: `${m.checkinsPerSecond.toFixed(0)}/s`,
      p50: fmtMs(m.p50Ms),
      p99: fmtMs(m.p99Ms),
      ok: fmtInt(m.ok),
      failed: fmtInt(m.failed),
      first: `${r.first.checkinsPerSecond.toFixed(0)}/s`,
      ratio: `${ratio.toFixed(2)} ${ratio >= GOAL_RATIO ? '(goal met)' : `(goal ${GOAL_RATIO})`}`,
      ratioAll: ratio === undefined ? '-' : r.ratioAll.toFixed(2),
      util: `${(m.serverUtilization * 100).toFixed(0)}% / ${(m.loadGeneratorUtilization * 100).toFixed(0)}%`,
      cpu: Number.isFinite(r.serverCpuMs) ? `${((r.serverCpuMs * 1000) / m.ok).toFixed(0)} µs = ${((r.serverCpuMs / 1000 / m.ok) * raw.median).toFixed(1)} verifies` : '-',
    });
    r.serverCpuUsPerCheckin = (r.serverCpuMs * 1000) / m.ok;
    // This process = the server (event loop + thread pool) and the load generator (a worker thread); PostgreSQL runs apart.
    r.processCpuUsPerCheckin = (r.processCpuMs * 1000) / m.ok;
    r.processCpuCores = r.processCpuMs / r.wallMs;
    log(`   ${r.db}: this process's CPU (server + thread pool + load generator) ${r.processCpuUsPerCheckin.toFixed(0)} µs per check-in, ${r.processCpuCores.toFixed(2)} of ${cpus().length} cores busy on average`);
    r.serverCpuInVerifies = (r.serverCpuMs / 1000 / m.ok) * raw.median;
    for (const [code, f] of Object.entries(m.failures)) log(`   ${r.db}: ${f.count} x ${code}: ${f.example}`);
  }
  const loadAfter = loadavg()[0];
  log(`   load average after: ${loadAfter.toFixed(2)}`);
  log('');
  printTable([
    { key: 'db', title: 'database', align: 'left' },
    { key: 'rate', title: 'check-ins/s' },
    { key: 'p50', title: 'p50' },
    { key: 'p99', title: 'p99' },
    { key: 'ok', title: 'ok' },
    { key: 'failed', title: 'failed' },
    { key: 'first', title: 'first check-in/s' },
    { key: 'ratio', title: `x${VERIFIES_PER_CHECKIN} / raw verify`, align: 'left' },
    { key: 'ratioAll', title: `x${verifiesAll} (all verified) / raw` },
    { key: 'util', title: 'busy: server / load gen' },
    { key: 'cpu', title: 'server CPU / check-in' },
  ], rows, log);
  log('');
  log(opts.mode === 'answer'
    ? '   A check-in = one signed PUT /device/v1/manifest?directorRoot=1 (4 ECU reports); its answer carries the Director timestamp.json, V.snapshot.json and V.targets.json; latency is the whole check-in.'
    : '   A check-in = signed PUT manifest (4 ECU reports) + signed GET timestamp.json + signed GET N.targets.json; latency is the whole check-in.');
  log(`   "first check-in/s": every vehicle's first check-in (its Director metadata is created), not counted in the rate.`);
  log(`   ratio = check-ins/s x ${VERIFIES_PER_CHECKIN} signatures (1 request + 1 manifest + 4 ECU reports) / raw verifies/s of one thread; goal >= ${GOAL_RATIO}.`);
  log(`   server CPU / check-in = CPU time of the server's thread in the measured phase / check-ins, also in raw verify times (a check-in verifies ${verifiesAll} signatures; the goal needs <= ${(VERIFIES_PER_CHECKIN / GOAL_RATIO).toFixed(0)} on one core).`);
  log(`   busy = event-loop utilisation of the server thread and of the load-generator worker thread (${cpus().length} cores).`);
  return { options: { ...opts, pgUrl: undefined }, loadAverageAfter: loadAfter, rawVerify: { messageBytes: messages.map((m) => m.byteLength), perSecond: raw.median, samples: raw.samples }, verifiesPerCheckin: VERIFIES_PER_CHECKIN, goalRatio: GOAL_RATIO, results };
}

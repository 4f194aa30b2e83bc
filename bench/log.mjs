// The accountability log in the server (packages/server/src/audit), on SQLite and PostgreSQL:
// 1. durable appends per second: concurrent appenders through the service's group commit; an
//    append counts when its transaction committed (SQLite synchronous=FULL, PostgreSQL
//    synchronous_commit on). Also the latency of one append alone, and the rate at which the
//    integrator turns appended entries into signed checkpoints (with all its integrity checks).
// 2. inclusion-proof latency at 1,000,000 entries: the log is bulk-loaded from hashes computed in
//    memory (CompactRange, the nodes the integrator would store) with a checkpoint signed by the
//    log key; then proofs of random leaves through AuditLog.inclusionProof (node reads + the
//    checkpoint) and through HTTP (GET /api/v1/log/proof/inclusion, real socket).
// 3. verifier replay: `reflash audit verify` (verifyLog) against a server holding the 1M-entry
//    log: checkpoint, every entry bundle over HTTP, leaf hashes, compact range, root check.
// PostgreSQL: REFLASH_TEST_PG (default postgres://postgres@127.0.0.1:5432/test, a fresh database
// per part, dropped afterwards); set REFLASH_BENCH_PG=0 to skip it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import pg from 'pg';
import { pino } from 'pino';
import { sql } from 'kysely';
import { CompactRange, leafHash, signCheckpoint, verifyInclusion } from '@reflash/log';
import { buildApp, createContext, defaults, openDb } from '@reflash/server';
import { AuditLog } from '@reflash/server/audit/service';
import { auditEvents, encodeEntry } from '@reflash/server/audit/events';
import { loadLogKeys } from '@reflash/server/audit/keys';
import { Metrics } from '@reflash/server/plugins/metrics';
import { logTrust, verifyLog } from '@reflash/cli/commands/audit';
import { fmtInt, fmtMs, fmtStat, measure, median, now, printTable } from './lib.mjs';

export const title = 'Accountability log: durable appends/s (SQLite, PostgreSQL), inclusion proofs at 1M entries, verifier replay';

const APPENDS = 50_000;
const APPENDERS = 256;
const SINGLE_APPENDS = 500;
const MILLION = 1_000_000;
const PROOFS = 10_000;
const HTTP_PROOFS = 2_000;
const MASTER = 'bench-master-key-0123456789abcdef0123456789';
const ORIGIN = 'reflash/log'; // the server's default logOrigin
const PG_ADMIN = process.env.REFLASH_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const GOAL_APPENDS = 5_000;
const GOAL_PROOF_MS = 2;

/** A realistic entry (~950 bytes): a vehicle update result with an ECU attestation, varied by i. */
function entryMaker() {
  const e = auditEvents.vehicleUpdateResult({
    vin: 'WVWZZZ1JZ3W386752', ecuSerial: 'ECU-SERIAL-#', hardwareId: 'brake-ctrl-v2',
    from: { sha256: 'a'.repeat(64) }, to: { filename: 'brakes/fw-2.4.1.bin', length: 1_048_576, sha256: 'b'.repeat(64) },
    status: 'installed',
    attestation: { signed: { ecu_serial: 'ECU-SERIAL-#', installed_image: { filename: 'brakes/fw-2.4.1.bin', length: 1_048_576, hashes: { sha256: 'b'.repeat(64) } }, report_counter: 42, timeserver_time: '2026-11-21T12:00:00Z' }, signatures: [{ keyid: 'c'.repeat(64), sig: 'd'.repeat(128) }] },
  });
  const text = Buffer.from(encodeEntry(e, { now: Date.parse('2026-11-21T12:00:00Z'), vinHash: () => 'e'.repeat(64) })).toString('utf8');
  const [head, mid, tail] = text.split('#');
  return (i) => Buffer.from(`${head}${i}${mid}${i}${tail}`);
}
const makeEntry = entryMaker();

async function pgReachable() {
  if (process.env.REFLASH_BENCH_PG === '0') return false;
  const c = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false; // no PostgreSQL: its rows are skipped (printed)
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A fresh database: { url, cleanup }. */
async function freshDatabase(dialect) {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'reflash-bench-log-'));
    return { url: `sqlite:${join(dir, 'reflash.db')}`, dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `reflash_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

function openAudit(db, extra = {}) {
  return AuditLog.open({ db, masterKey: MASTER, origin: ORIGIN, now: Date.now, log: pino({ level: 'silent' }), metrics: new Metrics(false), ...extra });
}

async function appendBurst(audit, count, concurrency, offset) {
  let next = 0;
  let acked = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await audit.appendEntry(makeEntry(offset + i));
      acked++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return acked;
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

// ---------------------------------------------------------------------------------------------
// 1. Appends

async function appendsPart(dialect, runs, log) {
  const target = await freshDatabase(dialect);
  const db = await openDb({ url: target.url, poolSize: 10 });
  const audit = await openAudit(db);
  try {
    let offset = 0;
    const burst = await measure(async () => {
      const n = await appendBurst(audit, APPENDS, APPENDERS, offset);
      offset += APPENDS;
      return n;
    }, { runs: Math.min(runs, 3), check: (n) => { if (n !== APPENDS) throw new Error(`${n} of ${APPENDS} appends acknowledged`); } });
    const rate = APPENDS / (burst.median / 1000);
    log(`   [${dialect}] ${fmtInt(APPENDS)} appends, ${APPENDERS} concurrent: ${fmtStat(burst)} -> ${fmtInt(Math.round(rate))} appends/s`);

    const single = [];
    for (let i = 0; i < SINGLE_APPENDS; i++) {
      const t0 = now();
      await audit.appendEntry(makeEntry(offset++));
      single.push(now() - t0);
    }
    log(`   [${dialect}] one append alone (durable commit latency): median ${fmtMs(median(single))}, p99 ${fmtMs(percentile(single, 0.99))}`);

    const appended = await audit.storage.appendedSize();
    const t0 = now();
    const r = await audit.integrate();
    const integrateMs = now() - t0;
    if (r.size !== appended || r.alert !== undefined) throw new Error(`integration stopped at ${r.size} of ${appended}: ${r.alert?.code ?? ''}`);
    const integrateRate = appended / (integrateMs / 1000);
    log(`   [${dialect}] integration of ${fmtInt(appended)} entries into signed checkpoints: ${fmtMs(integrateMs)} -> ${fmtInt(Math.round(integrateRate))} entries/s`);
    return { dialect, appends: APPENDS, appenders: APPENDERS, burst, appendsPerSecond: rate, singleAppend: { median: median(single), p99: percentile(single, 0.99), samples: single }, integrated: appended, integrateMs, integratePerSecond: integrateRate };
  } finally {
    await audit.close();
    await db.close();
    await target.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. A 1M-entry log, bulk-loaded

async function insertChunk(db, leaves, nodes) {
  await db.kysely.transaction().execute(async (trx) => {
    if (db.dialect === 'postgres') {
      await sql`insert into log_leaves (idx, entry, leaf_hash, appended_at) select * from unnest(${leaves.map((l) => l.idx)}::bigint[], ${leaves.map((l) => l.entry)}::bytea[], ${leaves.map((l) => l.leaf_hash)}::bytea[], ${leaves.map((l) => l.appended_at)}::bigint[])`.execute(trx);
      await sql`insert into log_nodes (level, idx, hash) select * from unnest(${nodes.map((n) => n.level)}::int[], ${nodes.map((n) => n.idx)}::bigint[], ${nodes.map((n) => n.hash)}::bytea[])`.execute(trx);
      return;
    }
    for (let i = 0; i < leaves.length; i += 5000) await trx.insertInto('log_leaves').values(leaves.slice(i, i + 5000)).execute();
    for (let i = 0; i < nodes.length; i += 5000) await trx.insertInto('log_nodes').values(nodes.slice(i, i + 5000)).execute();
  });
}

/** Bulk-loads n entries, their nodes (as CompactRange.append reports them) and a signed checkpoint. */
async function bulkBuild(url, n, log) {
  const db = await openDb({ url, poolSize: 4 });
  try {
    const keys = await loadLogKeys(db, MASTER, ORIGIN, Date.now());
    const range = CompactRange.empty();
    const t0 = now();
    const CHUNK = 20_000;
    for (let start = 0; start < n; start += CHUNK) {
      const leaves = [];
      const nodes = [];
      for (let i = start; i < Math.min(n, start + CHUNK); i++) {
        const entry = makeEntry(i);
        const h = leafHash(entry);
        leaves.push({ idx: i, entry, leaf_hash: Buffer.from(h), appended_at: 0 });
        for (const x of range.append(h)) nodes.push({ level: x.id.level, idx: x.id.index, hash: Buffer.from(x.hash) });
      }
      await insertChunk(db, leaves, nodes);
      if ((start / CHUNK) % 10 === 9) log(`     ... ${fmtInt(start + CHUNK)} entries`);
    }
    const note = signCheckpoint({ origin: ORIGIN, size: n, rootHash: range.root(), extensions: [] }, [keys.signer]);
    await db.kysely.insertInto('log_checkpoints').values({ size: n, root: Buffer.from(range.root()), note, cosignatures: '', created_at: Date.now() }).execute();
    return { buildMs: now() - t0, root: range.root() };
  } finally {
    await db.close();
  }
}

async function proofLatency(audit, root, count) {
  const idx = Array.from({ length: count + 1000 }, () => Math.floor(Math.random() * MILLION));
  const lat = [];
  for (let k = 0; k < idx.length; k++) {
    const t0 = now();
    const p = await audit.inclusionProof(idx[k]);
    const ms = now() - t0;
    if (k >= 1000) lat.push(ms); // the first 1,000 warm up caches and the JIT
    if (k % 97 === 0) verifyInclusion(p.leafHash, p.index, p.treeSize, p.proof, root); // outside the timed region
  }
  return { median: median(lat), p99: percentile(lat, 0.99), mean: lat.reduce((a, b) => a + b, 0) / lat.length, samples: lat.length };
}

async function millionPart(dialect, log) {
  const target = await freshDatabase(dialect);
  try {
    log(`   [${dialect}] bulk-loading ${fmtInt(MILLION)} entries (leaves, nodes, signed checkpoint) ...`);
    const { buildMs, root } = await bulkBuild(target.url, MILLION, log);
    log(`   [${dialect}] built in ${fmtMs(buildMs)}`);
    const out = { dialect, buildMs };
    if (dialect === 'sqlite') {
      // The real server over this database: service proofs, HTTP proofs, verifier replay.
      const dataDir = target.dir;
      const ctx = await createContext({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), logLevel: 'silent' }, { env: { REFLASH_MASTER_KEY: MASTER }, logger: pino({ level: 'silent' }) });
      const app = await buildApp(ctx);
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      try {
        out.proof = await proofLatency(ctx.audit, root, PROOFS);
        log(`   [${dialect}] inclusion proof at 1M (service: node reads + checkpoint): median ${fmtMs(out.proof.median)}, p99 ${fmtMs(out.proof.p99)} (${fmtInt(out.proof.samples)} proofs)`);
        const http = [];
        for (let k = 0; k < HTTP_PROOFS + 200; k++) {
          const i = Math.floor(Math.random() * MILLION);
          const t0 = now();
          const res = await globalThis.fetch(`${url}/api/v1/log/proof/inclusion?index=${i}`);
          await res.json();
          if (k >= 200) http.push(now() - t0);
        }
        out.httpProof = { median: median(http), p99: percentile(http, 0.99), samples: http.length };
        log(`   [${dialect}] inclusion proof at 1M over HTTP (GET /api/v1/log/proof/inclusion): median ${fmtMs(out.httpProof.median)}, p99 ${fmtMs(out.httpProof.p99)}`);
        const quiet = { out: () => undefined, note: () => undefined };
        const t0 = now();
        const r = await verifyLog({ url, trust: logTrust({ logKey: ctx.audit.verifierKey }), concurrency: 8 }, quiet);
        const replayMs = now() - t0;
        if (r.size !== MILLION || r.replayed !== MILLION) throw new Error(`replayed ${r.replayed} of ${MILLION}`);
        out.replay = { ms: replayMs, entriesPerSecond: MILLION / (replayMs / 1000) };
        log(`   verifier replay (reflash audit verify, first run, ${fmtInt(MILLION)} entries over HTTP): ${fmtMs(replayMs)} -> ${fmtInt(Math.round(out.replay.entriesPerSecond))} entries/s`);
      } finally {
        await app.close();
        await ctx.audit.close();
        await ctx.db.close();
      }
    } else {
      const db = await openDb({ url: target.url, poolSize: 4 });
      const audit = await openAudit(db);
      try {
        out.proof = await proofLatency(audit, root, PROOFS);
        log(`   [${dialect}] inclusion proof at 1M (service: node reads + checkpoint): median ${fmtMs(out.proof.median)}, p99 ${fmtMs(out.proof.p99)} (${fmtInt(out.proof.samples)} proofs)`);
      } finally {
        await audit.close();
        await db.close();
      }
    }
    return out;
  } finally {
    await target.cleanup();
  }
}

/** The verifier's own work per entry, without HTTP: leaf hash + compact-range append. */
function replayCompute(n) {
  const entries = Array.from({ length: n }, (_, i) => makeEntry(i));
  const range = CompactRange.empty();
  const t0 = now();
  for (const e of entries) range.append(leafHash(e));
  const ms = now() - t0;
  return { entries: n, ms, entriesPerSecond: n / (ms / 1000) };
}

export async function run({ runs, log }) {
  const dialects = ['sqlite'];
  if (await pgReachable()) dialects.push('postgres');
  else log(`   PostgreSQL not reachable at ${PG_ADMIN} (or REFLASH_BENCH_PG=0): PostgreSQL rows skipped`);
  log(`   entry size: ${makeEntry(123456).length} bytes (a vehicle update result with its ECU attestation)`);

  const appends = [];
  for (const d of dialects) appends.push(await appendsPart(d, runs, log));
  const million = [];
  for (const d of dialects) million.push(await millionPart(d, log));
  const compute = replayCompute(200_000);
  log(`   verifier compute only (leaf hash + compact range, 200k entries in memory): ${fmtInt(Math.round(compute.entriesPerSecond))} entries/s`);

  log('');
  const rows = [];
  for (const a of appends) {
    rows.push({ what: `durable appends/s, ${a.appenders} concurrent (group commit) [${a.dialect}]`, value: fmtInt(Math.round(a.appendsPerSecond)), goal: `>= ${fmtInt(GOAL_APPENDS)}/s`, ok: a.appendsPerSecond >= GOAL_APPENDS ? 'yes' : 'NO' });
    rows.push({ what: `one append alone, durable [${a.dialect}]`, value: `${fmtMs(a.singleAppend.median)} (p99 ${fmtMs(a.singleAppend.p99)})`, goal: '', ok: '' });
    rows.push({ what: `integration into signed checkpoints [${a.dialect}]`, value: `${fmtInt(Math.round(a.integratePerSecond))} entries/s`, goal: '', ok: '' });
  }
  for (const m of million) {
    rows.push({ what: `inclusion proof at 1M, service [${m.dialect}]`, value: `${fmtMs(m.proof.median)} (p99 ${fmtMs(m.proof.p99)})`, goal: `< ${GOAL_PROOF_MS} ms`, ok: m.proof.median < GOAL_PROOF_MS ? 'yes' : 'NO' });
    if (m.httpProof !== undefined) rows.push({ what: `inclusion proof at 1M, HTTP [${m.dialect}]`, value: `${fmtMs(m.httpProof.median)} (p99 ${fmtMs(m.httpProof.p99)})`, goal: '', ok: '' });
    rows.push({ what: `bulk load of 1M entries [${m.dialect}]`, value: fmtMs(m.buildMs), goal: '', ok: '' });
    if (m.replay !== undefined) rows.push({ what: `verifier replay, 1M over HTTP [${m.dialect}]`, value: `${fmtInt(Math.round(m.replay.entriesPerSecond))} entries/s`, goal: '', ok: '' });
  }
  rows.push({ what: 'verifier compute only (leaf hash + compact range)', value: `${fmtInt(Math.round(compute.entriesPerSecond))} entries/s`, goal: '', ok: '' });
  printTable([{ key: 'what', title: 'measurement', align: 'left' }, { key: 'value', title: 'median' }, { key: 'goal', title: 'goal' }, { key: 'ok', title: 'met' }], rows, log);
  return { appends, million, compute };
}

// Target filter + compatibility evaluation (UN R156 7.1.2.3, src/sums/compatibility.ts) over a
// large fleet in PostgreSQL, and a progress-style grouped count at that size.
//
// Setup (timed separately, not part of the figures): a fresh database reflash_bench_<random>
// beside BENCH_TARGETING_PG (default postgres://postgres@127.0.0.1:5432/test), migrated by the
// server, seeded by scripts/seed-fleet.mjs: BENCH_TARGETING_VEHICLES vehicles (default
// 1,000,000) x 3 ECUs with installed images; 1 vehicle in 10 lacks the ADAS package's dependency
// (gateway >= 2.0). Dropped afterwards.
//
// Measured (warm-up + `runs`, median/min/max):
// - filter: checkCompatibilityByFilter(models: [M1]): the target filter and the compatibility
//   evaluation in one set-based query (goal <= 10 s at 1,000,000 vehicles);
// - vins: the same through checkCompatibility(vins) with the filter's VIN list (what a campaign
//   passes in; the list is fetched once, outside the timed region, and its fetch time shown);
// - progress: a grouped count of the package's ECUs by installed image ("how many ADAS ECUs run
//   3.0 yet", what a rollout's progress view asks; index ecus_hardware_installed; goal < 100 ms).
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import { openDb } from '@reflash/server';
import { checkCompatibility, checkCompatibilityByFilter } from '@reflash/server/sums/compatibility';
import { SEED_PACKAGE, seedFleet } from '../scripts/seed-fleet.mjs';
import { fmtInt, fmtMs, fmtStat, measure, printTable } from './lib.mjs';

export const title = 'Target filter + compatibility check over a large fleet (PostgreSQL), progress count';

const GOAL_EVAL_MS = 10_000;
const GOAL_PROGRESS_MS = 100;

export async function run({ runs, runsExplicit, log }) {
  const n = Number(process.env.BENCH_TARGETING_VEHICLES ?? 1_000_000);
  const base = process.env.BENCH_TARGETING_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
  const r = runsExplicit ? runs : 3;
  const name = `reflash_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    log(`   skipped: PostgreSQL unreachable at ${base} (${err.message})`);
    return { skipped: 'PostgreSQL unreachable' };
  }
  await admin.query(`create database ${name}`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  const url = u.toString();
  try {
    log(`   seeding ${fmtInt(n)} vehicles x 3 ECUs into ${name} ...`);
    const t0 = performance.now();
    await seedFleet(url, n, log);
    const seedMs = performance.now() - t0;
    log(`   seeding took ${fmtMs(seedMs)} (not part of the figures)`);
    const db = await openDb({ url, poolSize: 3, sqliteSynchronous: 'full' });
    try {
      const q = db.kysely;
      let last;
      const byFilter = await measure(async () => { last = await checkCompatibilityByFilter(q, { models: ['M1'] }, SEED_PACKAGE); }, { runs: r });
      const filterReport = { targeted: last.compatible.length + last.incompatible.length, compatible: last.compatible.length, incompatible: last.incompatible.length, sampleReason: last.incompatible[0]?.reason };
      last = undefined;
      // The VIN list as a campaign holds it (its target filter's result), fetched outside the timed region.
      const tf = performance.now();
      const vins = (await sql`select vin from vehicles where model = 'M1'`.execute(q)).rows.map((x) => x.vin);
      const fetchVinsMs = performance.now() - tf;
      const byVins = await measure(async () => { last = await checkCompatibility(q, vins, SEED_PACKAGE); }, { runs: r });
      const vinsReport = { compatible: last.compatible.length, incompatible: last.incompatible.length };
      last = undefined;
      let groups;
      const progress = await measure(async () => {
        groups = (await sql`select installed_filename, count(*)::int as n from ecus where hardware_id = 'hw-adas' group by installed_filename`.execute(q)).rows;
      }, { runs: Math.max(r, 5) });
      const cols = [{ key: 'm', title: 'measure', align: 'left' }, { key: 't', title: 'time (median, min-max)' }, { key: 'g', title: 'goal' }, { key: 'r', title: 'result', align: 'left' }];
      printTable(cols, [
        { m: 'filter + compatibility (one query)', t: fmtStat(byFilter), g: `<= ${fmtMs(GOAL_EVAL_MS)}`, r: `${fmtInt(filterReport.compatible)} compatible, ${fmtInt(filterReport.incompatible)} incompatible of ${fmtInt(filterReport.targeted)}` },
        { m: 'checkCompatibility(vins)', t: fmtStat(byVins), g: `<= ${fmtMs(GOAL_EVAL_MS)}`, r: `${fmtInt(vinsReport.compatible)} compatible (list of ${fmtInt(vins.length)} VINs fetched in ${fmtMs(fetchVinsMs)}, not counted)` },
        { m: 'progress grouped count', t: fmtStat(progress), g: `< ${fmtMs(GOAL_PROGRESS_MS)}`, r: groups.map((x) => `${x.installed_filename}: ${fmtInt(x.n)}`).join(', ') },
      ], log);
      log(`   load average (1 min) after: ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
      return { vehicles: n, seedMs, byFilter, filterReport, fetchVinsMs, byVins, vinsReport, progress, groups, loadAverageAfter: loadavg() };
    } finally {
      await db.close();
    }
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
    await admin.end();
  }
}

// Target filter + compatibility evaluation (UN R156 7.1.2.3, src/sums/compatibility.ts) over a
// large fleet in PostgreSQL, campaign progress at that size (UN R156 7.1.1: the operator knows
// the state of every update; issue goal: progress queries < 100 ms at 1,000,000 vehicles), and a
// progress-style grouped count of installed images.
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
// - campaign progress: a running campaign over every M1 vehicle (80% of the fleet). HOW IT IS
//   SEEDED (honestly): not through the API (starting it would sign Director metadata for each
//   vehicle of the first group and needs a signed Image repository). Instead, SQL-side in bulk:
//   one campaigns row (3 rollout groups: 1%, 10%, 89%, by md5 of the VIN), one
//   campaign_vehicle_states row per vehicle with a state drawn from md5 of the VIN (every state
//   of the issue's list, failures with 5 reasons), and the counter tables campaign_progress /
//   campaign_failure_reasons filled from those rows by one GROUP BY (spread over the 8 shards).
//   Then the REAL state-change code (src/campaigns/states.ts setVehicleState, the function
//   check-ins and device events call, counters updated in the same transaction) moves 2,000
//   pending vehicles to downloading and 1,000 of them on to failed / rolled-back. Before timing,
//   the counters are checked against a full GROUP BY of the per-vehicle rows (must be equal).
//   Timed: campaignProgress() (src/campaigns/progress.ts: exactly what GET
//   /api/v1/campaigns/{id}/progress runs: every group and state, failure reasons) and
//   groupCounts() of one group (what the tick's threshold evaluation runs), and for reference the
//   naive GROUP BY over the per-vehicle rows the counters replace.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import { openDb } from '@reflash/server';
import { checkCompatibility, checkCompatibilityByFilter } from '@reflash/server/sums/compatibility';
import { campaignProgress, groupCounts } from '@reflash/server/campaigns/progress';
import { setVehicleState } from '@reflash/server/campaigns/states';
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
      log('   seeding a campaign over every M1 vehicle (SQL-side, see the header) ...');
      const tc = performance.now();
      const seeded = await seedCampaign(q);
      const campaignSeedMs = performance.now() - tc;
      log(`   campaign seeded in ${fmtMs(campaignSeedMs)} (${fmtInt(seeded.vehicles)} vehicles; not part of the figures)`);
      let cp;
      const progressRoute = await measure(async () => { cp = await campaignProgress(q, CAMPAIGN_ID); }, { runs: Math.max(r, 7) });
      if (cp.vehicles !== seeded.vehicles) throw new Error(`progress counts ${cp.vehicles} vehicles, ${seeded.vehicles} enrolled`);
      let g2;
      const groupEval = await measure(async () => { g2 = (await groupCounts(q, CAMPAIGN_ID, 2)).get(2); }, { runs: Math.max(r, 7) });
      const naive = await measure(async () => {
        await sql`select group_idx, state, count(*) from campaign_vehicle_states where campaign_id = ${CAMPAIGN_ID} group by group_idx, state`.execute(q);
      }, { runs: r });
      let groups;
      const progress = await measure(async () => {
        groups = (await sql`select installed_filename, count(*)::int as n from ecus where hardware_id = 'hw-adas' group by installed_filename`.execute(q)).rows;
      }, { runs: Math.max(r, 5) });
      const cols = [{ key: 'm', title: 'measure', align: 'left' }, { key: 't', title: 'time (median, min-max)' }, { key: 'g', title: 'goal' }, { key: 'r', title: 'result', align: 'left' }];
      printTable(cols, [
        { m: 'filter + compatibility (one query)', t: fmtStat(byFilter), g: `<= ${fmtMs(GOAL_EVAL_MS)}`, r: `${fmtInt(filterReport.compatible)} compatible, ${fmtInt(filterReport.incompatible)} incompatible of ${fmtInt(filterReport.targeted)}` },
        { m: 'checkCompatibility(vins)', t: fmtStat(byVins), g: `<= ${fmtMs(GOAL_EVAL_MS)}`, r: `${fmtInt(vinsReport.compatible)} compatible (list of ${fmtInt(vins.length)} VINs fetched in ${fmtMs(fetchVinsMs)}, not counted)` },
        { m: 'campaign progress (GET .../progress)', t: fmtStat(progressRoute), g: `< ${fmtMs(GOAL_PROGRESS_MS)}`, r: `${fmtInt(cp.vehicles)} vehicles, 3 groups; ${Object.entries(cp.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ')}; ${cp.failureReasons.length} failure reasons` },
        { m: 'group counts (tick threshold check)', t: fmtStat(groupEval), g: `< ${fmtMs(GOAL_PROGRESS_MS)}`, r: `group 3: ${fmtInt(Object.values(g2).reduce((a, b) => a + b, 0))} vehicles` },
        { m: '(reference) GROUP BY over vehicle rows', t: fmtStat(naive), g: '-', r: 'what the counters replace' },
        { m: 'installed-image grouped count', t: fmtStat(progress), g: `< ${fmtMs(GOAL_PROGRESS_MS)}`, r: groups.map((x) => `${x.installed_filename}: ${fmtInt(x.n)}`).join(', ') },
      ], log);
      log(`   load average (1 min) after: ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
      return {
        vehicles: n, seedMs, byFilter, filterReport, fetchVinsMs, byVins, vinsReport, progress, groups,
        campaign: { vehicles: seeded.vehicles, seedMs: campaignSeedMs, progressRoute, groupEval, naive, counts: cp.counts, failureReasons: cp.failureReasons },
        loadAverageAfter: loadavg(),
      };
    } finally {
      await db.close();
    }
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
    await admin.end();
  }
}

const CAMPAIGN_ID = 'cmp-00000000be4c';
const FAILURE_REASONS = ['flash write error', 'ECU_BOOT_FAILED: did not start', 'INTEGRATION_CHECK: attestation', 'PRECONDITIONS_UNMET: battery', 'download interrupted'];

/** The campaign over every M1 vehicle, seeded SQL-side, then moved by the real state code (header). */
async function seedCampaign(q) {
  const t = Date.parse('2026-02-01T00:00:00Z');
  const spec = {
    purpose: 'ADAS 3.0', images: SEED_PACKAGE.images, target: { models: ['M1'] }, groups: [{ percent: 1 }, { percent: 10 }, { percent: 89 }],
    successThreshold: 90, errorThreshold: 5, action: 'soft', expiresAt: '2099-01-01T00:00:00Z',
  };
  await q.insertInto('campaigns').values({
    id: CAMPAIGN_ID, purpose: spec.purpose, spec: JSON.stringify(spec), status: 'running', created_by: 'bench', created_at: t, approved_by: 'bench-2',
    approved_at: t, approval_reference: null, current_group: 2, acknowledged_failures: 0, started_at: t, finished_at: null, updated_at: t,
  }).execute();
  // Group by the first 4 hex digits of md5(vin) (0..65535), state by the next 4: groups 1 and 2
  // are mostly done, group 3 is in the middle of its rollout.
  const reasons = sql.join(FAILURE_REASONS.map((x) => sql`${x}`));
  await sql`insert into campaign_vehicle_states (campaign_id, vin, group_idx, state, reason, updated_at)
    select ${CAMPAIGN_ID}, vin, g, st, case when st in ('failed', 'rolled-back') then (array[${reasons}])[1 + (h3 % ${FAILURE_REASONS.length})] when st = 'incompatible' then 'no ECU with hardware id hw-adas' end, ${t}::bigint
    from (
      select vin, g, h3, case
        when g < 2 then (case when h2 < 900 then 'succeeded' when h2 < 930 then 'failed' when h2 < 945 then 'rolled-back' when h2 < 975 then 'declined' else 'incompatible' end)
        else (case when h2 < 100 then 'queued' when h2 < 120 then 'deferred' when h2 < 400 then 'pending' when h2 < 450 then 'downloading' when h2 < 500 then 'awaiting-consent'
          when h2 < 530 then 'waiting-preconditions' when h2 < 560 then 'installing' when h2 < 850 then 'succeeded' when h2 < 870 then 'downloaded' when h2 < 890 then 'failed'
          when h2 < 900 then 'rolled-back' when h2 < 950 then 'declined' when h2 < 980 then 'incompatible' else 'cancelled' end)
      end as st
      from (
        select vin, case when h1 % 100 < 1 then 0 when h1 % 100 < 11 then 1 else 2 end as g, h2 % 1000 as h2, h3
        from (select vin, ('x' || substr(md5(vin), 1, 4))::bit(16)::int as h1, ('x' || substr(md5(vin), 5, 4))::bit(16)::int as h2, ('x' || substr(md5(vin), 9, 4))::bit(16)::int as h3
              from vehicles where model = 'M1') a
      ) b
    ) c`.execute(q);
  await sql`insert into campaign_progress (campaign_id, group_idx, state, shard, n)
    select campaign_id, group_idx, state, ascii(right(vin, 1)) % 8, count(*) from campaign_vehicle_states where campaign_id = ${CAMPAIGN_ID} group by 1, 2, 3, 4`.execute(q);
  await sql`insert into campaign_failure_reasons (campaign_id, reason, shard, n)
    select campaign_id, coalesce(reason, '(none given)'), ascii(right(vin, 1)) % 8, count(*) from campaign_vehicle_states
    where campaign_id = ${CAMPAIGN_ID} and state in ('failed', 'rolled-back') group by 1, 2, 3`.execute(q);
  // The real state-change path on top (counters in the same transaction as the state).
  const pending = (await sql`select vin from campaign_vehicle_states where campaign_id = ${CAMPAIGN_ID} and group_idx = 2 and state = 'pending' order by vin limit 2000`.execute(q)).rows.map((x) => x.vin);
  for (let i = 0; i < pending.length; i += 100) {
    await q.transaction().execute(async (trx) => {
      for (const [j, vin] of pending.slice(i, i + 100).entries()) {
        if (!await setVehicleState(trx, CAMPAIGN_ID, vin, 'downloading', null, t + 1, ['pending'])) throw new Error(`${vin} did not move`);
        if ((i + j) % 2 === 0) await setVehicleState(trx, CAMPAIGN_ID, vin, (i + j) % 4 === 0 ? 'failed' : 'rolled-back', FAILURE_REASONS[(i + j) % 5], t + 2);
      }
    });
  }
  await sql`vacuum analyze campaign_vehicle_states, campaign_progress, campaign_failure_reasons`.execute(q);
  // The counters must say what the rows say.
  const rows = (await sql`select group_idx, state, count(*)::int as n from campaign_vehicle_states where campaign_id = ${CAMPAIGN_ID} group by 1, 2`.execute(q)).rows;
  const counters = (await sql`select group_idx, state, sum(n)::int as n from campaign_progress where campaign_id = ${CAMPAIGN_ID} group by 1, 2 having sum(n) <> 0`.execute(q)).rows;
  const key = (x) => `${x.group_idx}/${x.state}/${x.n}`;
  if (rows.map(key).sort().join() !== counters.map(key).sort().join()) throw new Error('campaign_progress counters disagree with campaign_vehicle_states');
  return { vehicles: rows.reduce((a, x) => a + x.n, 0) };
}

/**
 * The campaign tick: called by a background job (under a cross-process lock, job.ts) and by
 * tests with the harness clock. For each running (or paused) campaign:
 * - expiry: vehicles not started are withdrawn, the campaign finishes ('system');
 * - queued vehicles of the current group are rolled out (after a crash between start and
 *   rollout), scheduled assignments whose window is open are released;
 * - the current group is evaluated: failures (failed or rolled back, beyond those accepted at the
 *   last resume) above the error threshold pause the campaign ('system'); a success rate at or
 *   above the success threshold starts the next group (success: succeeded, or downloaded for a
 *   download-only campaign); after the last group, when no vehicle is pending or in progress,
 *   the campaign finishes.
 * Rates are over the group's eligible vehicles (not incompatible, not cancelled); declined
 * vehicles count neither as success nor as failure (the success rate leaves them out).
 */
import type { ServerContext } from '../context.js';
import { FAILURES, IN_PROGRESS, NOT_STARTED, SUCCESSES } from './model.js';
import { applyTransition, logTransitions, transition } from './lifecycle.js';
import type { Transition } from './lifecycle.js';
import { startGroup, withdraw } from './execution.js';
import { groupCounts } from './progress.js';
import { releaseCampaign } from './release.js';
import { findCampaign, toCampaign } from './repo.js';
import type { Campaign } from './repo.js';
import { ApiError } from '../errors.js';

export const SYSTEM = 'system';

export interface TickResult {
  readonly advanced: string[];
  readonly paused: string[];
  readonly finished: string[];
  /** vehicles whose assignments were released */
  readonly released: number;
}

export async function tickCampaigns(ctx: ServerContext): Promise<TickResult> {
  const out = { advanced: [] as string[], paused: [] as string[], finished: [] as string[], released: 0 };
  const rows = await ctx.db.kysely.selectFrom('campaigns').selectAll().where('status', 'in', ['running', 'paused']).orderBy('created_at').execute();
  for (const row of rows) {
    try {
      await tickOne(ctx, toCampaign(row), out);
    } catch (err) {
      // An operator changed the campaign meanwhile (pause, cancel): the next tick sees the new state.
      if (err instanceof ApiError && err.code === 'CAMPAIGN_STATE') {
        ctx.log.info({ campaign: row.id, err: err.message }, 'campaign changed during the tick');
        continue;
      }
      throw err;
    }
  }
  return out;
}

async function tickOne(ctx: ServerContext, c: Campaign, out: { advanced: string[]; paused: string[]; finished: string[]; released: number }): Promise<void> {
  const now = ctx.now();
  if (now >= Date.parse(c.spec.expiresAt)) {
    await withdraw(ctx, c.row.id, 'expire');
    await transition(ctx, { campaignId: c.row.id, from: c.status, to: 'finished', by: SYSTEM, reason: 'expired', at: now }, { finished_at: now });
    out.finished.push(c.row.id);
    return;
  }
  if (c.status !== 'running') return;
  await startGroup(ctx, c, c.row.current_group);
  out.released += await releaseCampaign(ctx, c.row.id);
  const r = await evaluate(ctx, c.row.id);
  if (r !== undefined) out[r].push(c.row.id);
}

/** Evaluate the current group of a running campaign; what happened, if anything. */
export async function evaluate(ctx: ServerContext, campaignId: string): Promise<'advanced' | 'paused' | 'finished' | undefined> {
  const c = await findCampaign(ctx.db.kysely, campaignId);
  if (c === undefined || c.status !== 'running') return undefined;
  const g = c.row.current_group;
  const counts = (await groupCounts(ctx.db.kysely, campaignId, g)).get(g);
  if (counts === undefined) return undefined;
  const size = Object.values(counts).reduce((a, b) => a + b, 0);
  const eligible = size - counts.incompatible - counts.cancelled;
  const failures = FAILURES.reduce((a, s) => a + counts[s], 0);
  const fresh = failures - c.row.acknowledged_failures;
  const now = ctx.now();
  if (eligible > 0 && fresh > 0 && fresh * 100 > c.spec.errorThreshold * eligible) {
    const pct = Math.round((failures * 1000) / eligible) / 10;
    await transition(ctx, {
      campaignId, from: 'running', to: 'paused', by: SYSTEM, at: now,
      reason: `rollout group ${g + 1}: ${failures} of ${eligible} vehicles failed (${pct}%), above the error threshold of ${c.spec.errorThreshold}%`,
    });
    await withdraw(ctx, campaignId, 'pause');
    return 'paused';
  }
  const base = eligible - counts.declined;
  // Success: installed, or for a download-only campaign downloaded (its goal on the vehicle).
  const succeeded = SUCCESSES.reduce((a, s) => a + counts[s], 0);
  if (base > 0 && succeeded * 100 < c.spec.successThreshold * base) return undefined;
  if (g + 1 < c.spec.groups.length) {
    const advanced = await ctx.db.kysely.transaction().execute(async (trx) => {
      const res = await trx.updateTable('campaigns').set({ current_group: g + 1, acknowledged_failures: 0, updated_at: now })
        .where('id', '=', campaignId).where('status', '=', 'running').where('current_group', '=', g).executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await trx.insertInto('campaign_events').values({
        campaign_id: campaignId, at: now, by: SYSTEM, from_state: 'running', to_state: 'running',
        reason: `rollout group ${g + 2} of ${c.spec.groups.length} started (group ${g + 1}: ${succeeded} of ${eligible} succeeded)`,
      }).execute();
      return true;
    });
    if (!advanced) return undefined;
    const next = await findCampaign(ctx.db.kysely, campaignId);
    if (next !== undefined) await startGroup(ctx, next, g + 1);
    return 'advanced';
  }
  const open = await ctx.db.kysely.selectFrom('campaign_vehicle_states').select('vin')
    .where('campaign_id', '=', campaignId).where('state', 'in', [...NOT_STARTED, ...IN_PROGRESS]).limit(1).executeTakeFirst();
  if (open !== undefined) return undefined;
  const t: Transition = { campaignId, from: 'running', to: 'finished', by: SYSTEM, reason: 'all rollout groups done', at: now };
  await ctx.db.kysely.transaction().execute((trx) => applyTransition(trx, t, { finished_at: now }));
  await logTransitions(ctx, [t]);
  return 'finished';
}

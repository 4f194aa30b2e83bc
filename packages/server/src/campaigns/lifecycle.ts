/**
 * The campaign lifecycle, table-driven: draft -> approved -> running <-> paused -> finished |
 * cancelled (draft and approved may be cancelled too). Every transition is one conditional
 * update (the campaign must still be in the state it was read in, so two processes never both
 * apply one), a campaign_events row (who, when, from, to, reason) in the same transaction, and,
 * after commit, an accountability-log entry (auditEvents.campaignTransition).
 */
import type { Transaction, Updateable } from 'kysely';
import type { CampaignState } from '../audit/events.js';
import { auditEvents } from '../audit/events.js';
import type { ServerContext } from '../context.js';
import type { CampaignTable, Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import type { CampaignStatus } from './model.js';

/** (from, to) -> the state name in the accountability log. */
const TRANSITIONS: ReadonlyArray<readonly [CampaignStatus, CampaignStatus, CampaignState]> = [
  ['draft', 'approved', 'approved'],
  ['draft', 'cancelled', 'cancelled'],
  ['approved', 'running', 'started'],
  ['approved', 'cancelled', 'cancelled'],
  ['running', 'paused', 'paused'],
  ['running', 'finished', 'completed'],
  ['running', 'cancelled', 'cancelled'],
  ['paused', 'running', 'resumed'],
  ['paused', 'finished', 'completed'],
  ['paused', 'cancelled', 'cancelled'],
];

export function auditStateOf(from: CampaignStatus, to: CampaignStatus): CampaignState | undefined {
  return TRANSITIONS.find(([f, t]) => f === from && t === to)?.[2];
}

export interface Transition {
  readonly campaignId: string;
  readonly from: CampaignStatus;
  readonly to: CampaignStatus;
  readonly by: string;
  readonly reason?: string | undefined;
  readonly at: number;
}

/**
 * Apply `from -> to` inside `trx`: refused with CAMPAIGN_STATE when the transition is not in the
 * table or the campaign is no longer in `from`. Returns the transition, to log after commit.
 */
export async function applyTransition(trx: Transaction<Database>, t: Transition, set: Updateable<CampaignTable> = {}): Promise<Transition> {
  if (auditStateOf(t.from, t.to) === undefined) throw new ApiError('CAMPAIGN_STATE', `a campaign cannot go from ${t.from} to ${t.to}`, { from: t.from, to: t.to });
  const res = await trx.updateTable('campaigns').set({ ...set, status: t.to, updated_at: t.at })
    .where('id', '=', t.campaignId).where('status', '=', t.from).executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) throw new ApiError('CAMPAIGN_STATE', `campaign ${t.campaignId} is no longer ${t.from}`, { from: t.from, to: t.to });
  await trx.insertInto('campaign_events').values({
    campaign_id: t.campaignId, at: t.at, by: t.by, from_state: t.from, to_state: t.to, reason: t.reason ?? null,
  }).execute();
  return t;
}

/** Record committed transitions in the accountability log (call after the transaction committed). */
export async function logTransitions(ctx: ServerContext, ts: readonly Transition[]): Promise<void> {
  for (const t of ts) {
    const state = auditStateOf(t.from, t.to)!;
    await ctx.audit.append(auditEvents.campaignTransition({
      campaignId: t.campaignId, state, by: t.by, time: t.at, ...(t.reason === undefined ? {} : { reason: t.reason.slice(0, 1000) }),
    }));
  }
}

/** One transition in its own transaction, then logged. */
export async function transition(ctx: ServerContext, t: Transition, set: Updateable<CampaignTable> = {}): Promise<void> {
  await ctx.db.kysely.transaction().execute((trx) => applyTransition(trx, t, set));
  await logTransitions(ctx, [t]);
}

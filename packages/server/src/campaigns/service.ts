/**
 * Campaign operations behind the routes: create (draft), approve (two-person rule; a
 * technical-service approval reference when a type-approved system is touched), start (fixes
 * the target set and rollout groups, rolls out the first group), pause, resume, cancel.
 * `by` is the operator's pseudonymous id (`token:<api token id>`).
 */
import { randomBytes } from 'node:crypto';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { resolveImages } from '../services/assignments.js';
import { startGroup, withdraw } from './execution.js';
import { applyTransition, logTransitions, transition } from './lifecycle.js';
import type { Transition } from './lifecycle.js';
import type { CampaignSpec } from './model.js';
import { releaseCampaign } from './release.js';
import type { Campaign } from './repo.js';
import { getCampaign } from './repo.js';
import { sumsPort } from './sums-port.js';
import { checkGroups, rxswinTarget, splitGroups, targetVins } from './targeting.js';
import { validTimeZone } from './windows.js';
import { addCounts } from './states.js';
import { groupCounts } from './progress.js';
import { FAILURES } from './model.js';

const CHUNK = 500;

function validate(ctx: ServerContext, spec: CampaignSpec): void {
  checkGroups(spec);
  const expires = Date.parse(spec.expiresAt);
  if (Number.isNaN(expires) || expires <= ctx.now()) throw new ApiError('CAMPAIGN_INVALID', 'expiresAt must be a time in the future');
  const startAt = spec.schedule?.startAt;
  if (startAt !== undefined && (Number.isNaN(Date.parse(startAt)) || Date.parse(startAt) >= expires)) throw new ApiError('CAMPAIGN_INVALID', 'schedule.startAt must be a time before expiresAt');
  const tz = spec.schedule?.defaultTimeZone;
  if (tz !== undefined && !validTimeZone(tz)) throw new ApiError('CAMPAIGN_INVALID', `schedule.defaultTimeZone: unknown time zone ${tz}`);
}

export async function createCampaign(ctx: ServerContext, spec: CampaignSpec, by: string): Promise<Campaign> {
  validate(ctx, spec);
  await rxswinTarget(ctx.db.kysely, spec);
  // Every image must be in the current signed Image repository for its hardware id (422 otherwise).
  await resolveImages(ctx, spec.images);
  const id = `cmp-${randomBytes(6).toString('hex')}`;
  const now = ctx.now();
  await ctx.db.kysely.insertInto('campaigns').values({
    id, purpose: spec.purpose, spec: JSON.stringify(spec), status: 'draft', created_by: by, created_at: now,
    approved_by: null, approved_at: null, approval_reference: null, current_group: -1, acknowledged_failures: 0,
    started_at: null, finished_at: null, updated_at: now,
  }).execute();
  return getCampaign(ctx.db.kysely, id);
}

/** Replace the definition of a draft (an approval covers exactly what was approved). */
export async function updateCampaign(ctx: ServerContext, id: string, spec: CampaignSpec): Promise<Campaign> {
  validate(ctx, spec);
  await rxswinTarget(ctx.db.kysely, spec);
  await resolveImages(ctx, spec.images);
  const res = await ctx.db.kysely.updateTable('campaigns').set({ spec: JSON.stringify(spec), purpose: spec.purpose, updated_at: ctx.now() })
    .where('id', '=', id).where('status', '=', 'draft').executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) {
    const c = await getCampaign(ctx.db.kysely, id);
    throw new ApiError('CAMPAIGN_STATE', `campaign ${id} is ${c.status}; only a draft can be changed`);
  }
  return getCampaign(ctx.db.kysely, id);
}

/** Does the campaign touch a type-approved system (SUMS impact, or its own rxswinImpact)? */
export async function typeApprovalImpact(ctx: ServerContext, c: Campaign): Promise<{ touchesTypeApproved: boolean; rxswins: string[] }> {
  const impact = await sumsPort().impactOf(ctx.db.kysely, { images: c.spec.images });
  const declared = c.spec.rxswinImpact ?? [];
  const rxswins = [...new Set([...impact.rxswins, ...declared])].sort();
  return { touchesTypeApproved: impact.touchesTypeApproved || declared.length > 0, rxswins };
}

export async function approveCampaign(ctx: ServerContext, id: string, by: string, reference: string | undefined): Promise<Campaign> {
  const c = await getCampaign(ctx.db.kysely, id);
  if (c.status !== 'draft') throw new ApiError('CAMPAIGN_STATE', `campaign ${id} is ${c.status}; only a draft can be approved`);
  // Two-person rule: whoever created the campaign cannot approve it.
  if (c.row.created_by === by) throw new ApiError('CAMPAIGN_TWO_PERSON_RULE');
  const impact = await typeApprovalImpact(ctx, c);
  if (impact.touchesTypeApproved && (reference === undefined || reference.trim() === '')) {
    throw new ApiError('CAMPAIGN_APPROVAL_REFERENCE_REQUIRED', undefined, { rxswins: impact.rxswins });
  }
  const now = ctx.now();
  const reason = reference === undefined ? undefined : `technical-service approval ${reference}${impact.rxswins.length > 0 ? ` (RXSWIN ${impact.rxswins.join(', ')})` : ''}`;
  await transition(ctx, { campaignId: id, from: 'draft', to: 'approved', by, reason, at: now }, {
    approved_by: by, approved_at: now, approval_reference: reference ?? null,
  });
  return getCampaign(ctx.db.kysely, id);
}

export interface StartResult {
  readonly targeted: number;
  readonly groups: number[];
}

export async function startCampaign(ctx: ServerContext, id: string, by: string): Promise<StartResult> {
  const c = await getCampaign(ctx.db.kysely, id);
  if (c.status !== 'approved') throw new ApiError('CAMPAIGN_STATE', `campaign ${id} is ${c.status}; it must be approved before it starts`);
  // Defence in depth: the approval must still satisfy the rules.
  if (c.row.approved_by === null || c.row.approved_by === c.row.created_by) throw new ApiError('CAMPAIGN_TWO_PERSON_RULE');
  if (c.row.approval_reference === null && (await typeApprovalImpact(ctx, c)).touchesTypeApproved) throw new ApiError('CAMPAIGN_APPROVAL_REFERENCE_REQUIRED');
  const now = ctx.now();
  if (now >= Date.parse(c.spec.expiresAt)) throw new ApiError('CAMPAIGN_INVALID', 'the campaign has expired');
  const vins = await targetVins(ctx, c.spec);
  if (vins.length === 0) throw new ApiError('CAMPAIGN_INVALID', 'no vehicle matches the target filter');
  const groups = splitGroups(id, c.spec, vins);
  const t: Transition = { campaignId: id, from: 'approved', to: 'running', by, at: now };
  await ctx.db.kysely.transaction().execute(async (trx) => {
    await applyTransition(trx, t, { current_group: 0, acknowledged_failures: 0, started_at: now });
    const rows = groups.flatMap((g, i) => g.map((vin) => ({ campaign_id: id, vin, group_idx: i, state: 'queued', reason: null, updated_at: now })));
    for (let i = 0; i < rows.length; i += CHUNK) await trx.insertInto('campaign_vehicle_states').values(rows.slice(i, i + CHUNK)).execute();
    await addCounts(trx, id, groups.map((g, i) => ({ group: i, state: 'queued', shard: 0, n: g.length })));
  });
  await logTransitions(ctx, [t]);
  await startGroup(ctx, await getCampaign(ctx.db.kysely, id), 0);
  return { targeted: vins.length, groups: groups.map((g) => g.length) };
}

export async function pauseCampaign(ctx: ServerContext, id: string, by: string, reason?: string): Promise<void> {
  await getCampaign(ctx.db.kysely, id);
  await transition(ctx, { campaignId: id, from: 'running', to: 'paused', by, reason, at: ctx.now() });
  await withdraw(ctx, id, 'pause');
}

/** Resume: the failures of the current group so far are accepted (only new ones count toward the error threshold). */
export async function resumeCampaign(ctx: ServerContext, id: string, by: string, reason?: string): Promise<void> {
  const c = await getCampaign(ctx.db.kysely, id);
  const g = c.row.current_group;
  const counts = (await groupCounts(ctx.db.kysely, id, g)).get(g);
  const failures = counts === undefined ? 0 : FAILURES.reduce((a, s) => a + counts[s], 0);
  await transition(ctx, { campaignId: id, from: 'paused', to: 'running', by, reason, at: ctx.now() }, { acknowledged_failures: failures });
  await releaseCampaign(ctx, id);
}

export async function cancelCampaign(ctx: ServerContext, id: string, by: string, reason?: string): Promise<void> {
  const c = await getCampaign(ctx.db.kysely, id);
  await transition(ctx, { campaignId: id, from: c.status, to: 'cancelled', by, reason, at: ctx.now() }, { finished_at: ctx.now() });
  await withdraw(ctx, id, 'cancel');
}

/**
 * Campaign progress: vehicle counts per rollout group and state, and failure reasons, read from
 * the counters kept with every state change (states.ts): at most groups x states x shards rows,
 * whatever the number of vehicles.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import type { CampaignStatus, VehicleState } from './model.js';
import { VEHICLE_STATES } from './model.js';
import { loadSpecs } from './repo.js';

export type StateCounts = Record<VehicleState, number>;

export function emptyCounts(): StateCounts {
  return Object.fromEntries(VEHICLE_STATES.map((s) => [s, 0])) as StateCounts;
}

export interface GroupProgress {
  readonly index: number;
  readonly vehicles: number;
  readonly counts: StateCounts;
}

export interface Progress {
  readonly vehicles: number;
  readonly counts: StateCounts;
  readonly groups: GroupProgress[];
  readonly failureReasons: Array<{ reason: string; count: number }>;
}

export async function groupCounts(q: Kysely<Database> | Transaction<Database>, campaignId: string, group?: number): Promise<Map<number, StateCounts>> {
  let query = q.selectFrom('campaign_progress').select(['group_idx', 'state', (eb) => eb.fn.sum<number | string | bigint>('n').as('n')])
    .where('campaign_id', '=', campaignId);
  if (group !== undefined) query = query.where('group_idx', '=', group);
  const rows = await query.groupBy(['group_idx', 'state']).execute();
  const out = new Map<number, StateCounts>();
  for (const r of rows) {
    const c = out.get(r.group_idx) ?? emptyCounts();
    if ((VEHICLE_STATES as readonly string[]).includes(r.state)) c[r.state as VehicleState] += Number(r.n);
    out.set(r.group_idx, c);
  }
  return out;
}

export async function progressOf(q: Kysely<Database>, campaignId: string, groups: number): Promise<Progress> {
  const byGroup = await groupCounts(q, campaignId);
  const total = emptyCounts();
  const list: GroupProgress[] = [];
  for (let i = 0; i < groups; i++) {
    const counts = byGroup.get(i) ?? emptyCounts();
    let vehicles = 0;
    for (const s of VEHICLE_STATES) {
      total[s] += counts[s];
      vehicles += counts[s];
    }
    list.push({ index: i, vehicles, counts });
  }
  const reasons = (await q.selectFrom('campaign_failure_reasons').select(['reason', (eb) => eb.fn.sum<number | string | bigint>('n').as('n')])
    .where('campaign_id', '=', campaignId).groupBy('reason').execute())
    .map((r) => ({ reason: r.reason, count: Number(r.n) })).filter((r) => r.count > 0)
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)).slice(0, 20);
  return {
    vehicles: list.reduce((a, g) => a + g.vehicles, 0),
    counts: total,
    groups: list,
    failureReasons: reasons,
  };
}

export interface CampaignProgress extends Progress {
  readonly id: string;
  readonly status: CampaignStatus;
  readonly currentGroup: number;
}

/**
 * What GET /api/v1/campaigns/{id}/progress answers (and bench/targeting.mjs times): the campaign
 * row without its definition (a VIN-list target may be megabytes; the group count comes from the
 * cached frozen definition), then the counters. CAMPAIGN_NOT_FOUND for an unknown id.
 */
export async function campaignProgress(q: Kysely<Database>, id: string): Promise<CampaignProgress> {
  const row = await q.selectFrom('campaigns').select(['id', 'status', 'current_group']).where('id', '=', id).executeTakeFirst();
  const spec = row === undefined ? undefined : (await loadSpecs(q, [row.id])).get(row.id);
  if (row === undefined || spec === undefined) throw new ApiError('CAMPAIGN_NOT_FOUND', `no campaign ${id}`);
  const p = await progressOf(q, row.id, spec.groups.length);
  return { id: row.id, status: row.status as CampaignStatus, currentGroup: row.current_group, ...p };
}

/**
 * Writing per-vehicle campaign states (campaign_vehicle_states) and keeping the progress
 * counters (campaign_progress, campaign_failure_reasons) in step, in the same transaction.
 * Counters are sharded by VIN (concurrent check-ins of different vehicles rarely touch the same
 * counter row) and always updated in key order (no lock-order deadlock on PostgreSQL). A bulk
 * change adds its delta to shard 0; only the sum over shards means anything.
 */
import { sql } from 'kysely';
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { VehicleState } from './model.js';
import { FAILURES } from './model.js';

export const SHARDS = 8;
const REASON_KEY_LENGTH = 200;

export function shardOf(vin: string): number {
  let h = 0;
  for (let i = 0; i < vin.length; i++) h = (h * 31 + vin.charCodeAt(i)) >>> 0;
  return h % SHARDS;
}

export interface CountDelta {
  readonly group: number;
  readonly state: string;
  readonly shard: number;
  readonly n: number;
}

export function reasonKey(reason: string | null): string {
  return (reason ?? '(none given)').slice(0, REASON_KEY_LENGTH);
}

/** Add `deltas` to the progress counters (merged by key, applied in key order). */
export async function addCounts(trx: Transaction<Database>, campaignId: string, deltas: readonly CountDelta[]): Promise<void> {
  const merged = new Map<string, CountDelta>();
  for (const d of deltas) {
    const k = `${String(d.group).padStart(6, '0')}\u0000${d.state}\u0000${d.shard}`;
    const e = merged.get(k);
    merged.set(k, e === undefined ? d : { ...e, n: e.n + d.n });
  }
  for (const k of [...merged.keys()].sort()) {
    const d = merged.get(k)!;
    if (d.n === 0) continue;
    await trx.insertInto('campaign_progress').values({ campaign_id: campaignId, group_idx: d.group, state: d.state, shard: d.shard, n: d.n })
      .onConflict((oc) => oc.columns(['campaign_id', 'group_idx', 'state', 'shard']).doUpdateSet({ n: sql<number>`campaign_progress.n + excluded.n` }))
      .execute();
  }
}

async function addReason(trx: Transaction<Database>, campaignId: string, reason: string, shard: number, n: number): Promise<void> {
  await trx.insertInto('campaign_failure_reasons').values({ campaign_id: campaignId, reason, shard, n })
    .onConflict((oc) => oc.columns(['campaign_id', 'reason', 'shard']).doUpdateSet({ n: sql<number>`campaign_failure_reasons.n + excluded.n` }))
    .execute();
}

/**
 * Move one vehicle to `state` (only from one of `onlyFrom`, when given). Compare-and-set on the
 * state read, so a concurrent change is never counted twice. True if it changed.
 */
export async function setVehicleState(trx: Transaction<Database>, campaignId: string, vin: string, state: VehicleState, reason: string | null, now: number, onlyFrom?: readonly VehicleState[]): Promise<boolean> {
  const old = await trx.selectFrom('campaign_vehicle_states').select(['state', 'group_idx', 'reason'])
    .where('campaign_id', '=', campaignId).where('vin', '=', vin).executeTakeFirst();
  if (old === undefined) return false;
  if (onlyFrom !== undefined && !(onlyFrom as readonly string[]).includes(old.state)) return false;
  const stored = reason === null ? null : reason.slice(0, 1000);
  const res = await trx.updateTable('campaign_vehicle_states').set({ state, reason: stored, updated_at: now })
    .where('campaign_id', '=', campaignId).where('vin', '=', vin).where('state', '=', old.state).executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return false;
  if (old.state !== state) {
    const shard = shardOf(vin);
    await addCounts(trx, campaignId, [{ group: old.group_idx, state: old.state, shard, n: -1 }, { group: old.group_idx, state, shard, n: 1 }]);
  }
  const wasFailure = (FAILURES as readonly string[]).includes(old.state);
  const isFailure = (FAILURES as readonly string[]).includes(state);
  const [before, after] = [wasFailure ? reasonKey(old.reason) : undefined, isFailure ? reasonKey(stored) : undefined];
  if (before !== after) {
    const keys = [[before, -1], [after, 1]].filter((x): x is [string, number] => x[0] !== undefined).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    for (const [k, n] of keys) await addReason(trx, campaignId, k, shardOf(vin), n);
  }
  return true;
}

/** Every vehicle of the campaign in state `from` moves to `to` (bulk; counters adjusted). */
export async function setStatesInBulk(trx: Transaction<Database>, campaignId: string, from: VehicleState, to: VehicleState, reason: string | null, now: number): Promise<number> {
  const counts = await trx.selectFrom('campaign_vehicle_states').select(['group_idx', (eb) => eb.fn.countAll<number | string | bigint>().as('n')])
    .where('campaign_id', '=', campaignId).where('state', '=', from).groupBy('group_idx').execute();
  if (counts.length === 0) return 0;
  await trx.updateTable('campaign_vehicle_states').set({ state: to, reason, updated_at: now })
    .where('campaign_id', '=', campaignId).where('state', '=', from).execute();
  const deltas = counts.flatMap((c) => [{ group: c.group_idx, state: from, shard: 0, n: -Number(c.n) }, { group: c.group_idx, state: to, shard: 0, n: Number(c.n) }]);
  await addCounts(trx, campaignId, deltas);
  return counts.reduce((a, c) => a + Number(c.n), 0);
}

export async function vehicleState(trx: Transaction<Database>, campaignId: string, vin: string): Promise<VehicleState | undefined> {
  const row = await trx.selectFrom('campaign_vehicle_states').select('state').where('campaign_id', '=', campaignId).where('vin', '=', vin).executeTakeFirst();
  return row?.state as VehicleState | undefined;
}

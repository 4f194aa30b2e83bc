/**
 * Releasing a campaign's scheduled assignments to the Director: only while the campaign runs,
 * after its start time, and inside a maintenance window in the vehicle's own time zone. Until
 * then the assignment stays 'scheduled' (not in the Director targets). Released at group start,
 * by the background tick and at the vehicle's check-in.
 */
import type { Transaction } from 'kysely';
import type { ServerContext } from '../context.js';
import type { Database } from '../db/schema.js';
import { directorSigners, regenerate } from '../services/director.js';
import type { VehicleRow } from '../services/vehicle-lock.js';
import { withVehicleLock } from '../services/vehicle-lock.js';
import type { Campaign } from './repo.js';
import { holders } from './conflicts.js';
import { findCampaign, loadSpecs } from './repo.js';
import { windowOpen } from './windows.js';

/** A vehicle's scheduled assignment (status 'scheduled'). */
export interface ScheduledRow {
  readonly id: number;
  readonly ecu_serial: string;
  readonly campaign_id: string | null;
}

/** May `c` be released to a vehicle in time zone `tz` (null: the campaign's default) at `now`? */
export function releasable(c: Pick<Campaign, 'status' | 'spec'>, tz: string | null, now: number): boolean {
  if (c.status !== 'running') return false;
  const startAt = c.spec.schedule?.startAt;
  if (startAt !== undefined && Date.parse(startAt) > now) return false;
  return windowOpen(c.spec.schedule?.windows, now, tz ?? c.spec.schedule?.defaultTimeZone ?? 'UTC');
}

/**
 * Release the vehicle's scheduled campaign assignments that may go now (inside the vehicle's
 * lock; the caller regenerates the Director targets when this returns more than 0). One pending
 * assignment per ECU (Uptane 2.1 §5.2), and never over another holder (conflicts.ts): a
 * campaign whose ECU is held by a direct assignment or another running campaign is not
 * released on this vehicle (all of its ECUs wait: the bundle goes together). A leftover pending
 * assignment of a finished or cancelled campaign is replaced, with the reason recorded.
 */
export async function releaseScheduled(trx: Transaction<Database>, vehicle: VehicleRow, now: number, scheduled?: readonly ScheduledRow[]): Promise<number> {
  // The caller may have read them in this transaction already (the check-in does).
  const rows = scheduled ?? await trx.selectFrom('assignments').select(['id', 'ecu_serial', 'campaign_id'])
    .where('vin', '=', vehicle.vin).where('status', '=', 'scheduled').execute();
  const ids = [...new Set(rows.map((r) => r.campaign_id).filter((x): x is string => x !== null))];
  if (ids.length === 0) return 0;
  const running = (await trx.selectFrom('campaigns').select('id').where('id', 'in', ids).where('status', '=', 'running').execute()).map((r) => r.id);
  if (running.length === 0) return 0;
  const specs = await loadSpecs(trx, running);
  const open = new Set(running.filter((id) => {
    const spec = specs.get(id);
    return spec !== undefined && releasable({ status: 'running', spec }, vehicle.time_zone, now);
  }));
  let released = 0;
  for (const id of [...open].sort()) {
    const mine = rows.filter((r) => r.campaign_id === id);
    const serials = mine.map((r) => r.ecu_serial);
    if ((await holders(trx, vehicle.vin, serials, id)).some((h) => h.status === 'pending' || h.campaignId === null)) continue;
    await trx.updateTable('assignments').set({ status: 'cancelled', failure: `replaced by campaign ${id}`, completed_at: now })
      .where('ecu_serial', 'in', serials).where('status', '=', 'pending').execute();
    await trx.updateTable('assignments').set({ status: 'pending' }).where('id', 'in', mine.map((r) => r.id)).execute();
    released += mine.length;
  }
  return released;
}

/** Release what may go now for up to `limit` vehicles of a running campaign. Returns vehicles released. */
export async function releaseCampaign(ctx: ServerContext, campaignId: string, limit = 10_000): Promise<number> {
  const c = await findCampaign(ctx.db.kysely, campaignId);
  if (c === undefined || c.status !== 'running') return 0;
  const rows = await ctx.db.kysely.selectFrom('assignments').innerJoin('vehicles', 'vehicles.vin', 'assignments.vin')
    .select(['assignments.vin', 'vehicles.time_zone']).distinct()
    .where('assignments.campaign_id', '=', campaignId).where('assignments.status', '=', 'scheduled').limit(limit).execute();
  const now = ctx.now();
  const due = rows.filter((r) => releasable(c, r.time_zone, now));
  if (due.length === 0) return 0;
  const signers = await directorSigners(ctx);
  let released = 0;
  for (const r of due) {
    await withVehicleLock(ctx.db, r.vin, async (trx, vehicle) => {
      if (await releaseScheduled(trx, vehicle, ctx.now()) > 0) {
        await regenerate(trx, ctx, signers, r.vin);
        released++;
      }
    });
  }
  return released;
}

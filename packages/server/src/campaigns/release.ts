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
import { findCampaign, loadSpecs } from './repo.js';
import { windowOpen } from './windows.js';

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
 * assignment per ECU: a released one replaces an older pending assignment of the same ECU, as a
 * new direct assignment does.
 */
export async function releaseScheduled(trx: Transaction<Database>, vehicle: VehicleRow, now: number): Promise<number> {
  const rows = await trx.selectFrom('assignments').select(['id', 'ecu_serial', 'campaign_id'])
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
  const release = rows.filter((r) => r.campaign_id !== null && open.has(r.campaign_id));
  if (release.length === 0) return 0;
  await trx.updateTable('assignments').set({ status: 'cancelled', completed_at: now })
    .where('ecu_serial', 'in', release.map((r) => r.ecu_serial)).where('status', '=', 'pending').execute();
  await trx.updateTable('assignments').set({ status: 'pending' }).where('id', 'in', release.map((r) => r.id)).execute();
  return release.length;
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

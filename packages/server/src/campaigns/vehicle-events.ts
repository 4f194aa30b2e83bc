/**
 * How vehicles move through a campaign, from what they report:
 * - check-in (services/checkin.ts): when every campaign assignment of the vehicle is installed,
 *   the vehicle 'succeeded'; scheduled assignments whose window is open now are released;
 * - device events (POST /device/v1/events): progress ('downloading', 'awaiting-consent',
 *   'waiting-preconditions', 'installing') and outcomes ('failed', 'rolled-back': the old
 *   software runs again; 'declined': the user said no, the old software stays; 'downloaded':
 *   a download-only campaign's image is on the vehicle, verified, not installed).
 * 'downloaded' ends the assignment (status 'downloaded': the Director stops naming it, so the
 * vehicle never installs it under this campaign) and, once every assignment of the campaign on
 * the vehicle is downloaded, the vehicle is 'downloaded' (a success for the group thresholds).
 * It is honoured only for a download-only campaign: for any other assignment it is ignored (the
 * vehicle held a mixed bundle because of another, download-only target; it installs next cycle).
 */
import type { Transaction } from 'kysely';
import type { ServerContext } from '../context.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import { directorSigners, latestDirectorMetadata, regenerate } from '../services/director.js';
import type { VehicleRow } from '../services/vehicle-lock.js';
import { withVehicleLock } from '../services/vehicle-lock.js';
import type { VehicleState } from './model.js';
import { IN_PROGRESS } from './model.js';
import { releaseScheduled } from './release.js';
import type { ScheduledRow } from './release.js';
import { loadSpecs } from './repo.js';
import { setVehicleState } from './states.js';

export const PROGRESS_STATES = ['downloading', 'awaiting-consent', 'waiting-preconditions', 'installing'] as const;
export type ProgressState = (typeof PROGRESS_STATES)[number];
/** What a vehicle may report through reportProgress: progress, or a download-only campaign's end. */
export type ProgressEvent = ProgressState | 'downloaded';
export type OutcomeState = 'failed' | 'rolled-back' | 'declined';

/**
 * Inside the check-in transaction, after assignments were completed: campaign vehicles whose
 * assignments are all installed succeeded; then release what may go now. Returns the number of
 * assignments released (the caller then re-reads the pending assignments).
 */
export async function campaignCheckIn(trx: Transaction<Database>, vehicle: VehicleRow, completed: ReadonlyArray<{ readonly campaign_id: string | null }>, now: number, scheduled?: readonly ScheduledRow[]): Promise<number> {
  const ids = new Set(completed.map((a) => a.campaign_id).filter((x): x is string => x !== null));
  for (const id of ids) {
    const open = await trx.selectFrom('assignments').select('id').where('campaign_id', '=', id).where('vin', '=', vehicle.vin)
      .where('status', 'in', ['scheduled', 'pending', 'failed']).limit(1).executeTakeFirst();
    if (open === undefined) await setVehicleState(trx, id, vehicle.vin, 'succeeded', null, now, ['pending', ...IN_PROGRESS]);
  }
  return releaseScheduled(trx, vehicle, now, scheduled);
}

/**
 * Inside the failure report's transaction, after the assignment was marked: the vehicle's state
 * in the assignment's campaign. A decline withdraws the rest of the campaign from the vehicle.
 */
export async function campaignOutcome(trx: Transaction<Database>, campaignId: string | null, vin: string, state: OutcomeState, reason: string, now: number): Promise<void> {
  if (campaignId === null) return;
  await setVehicleState(trx, campaignId, vin, state, reason, now);
  if (state === 'declined') {
    await trx.updateTable('assignments').set({ status: 'cancelled', failure: `declined: ${reason}`.slice(0, 1000), completed_at: now })
      .where('campaign_id', '=', campaignId).where('vin', '=', vin).where('status', 'in', ['scheduled', 'pending']).execute();
  }
}

export interface ProgressResult {
  readonly failed: number;
  readonly directorTargetsVersion: number;
  readonly receipts: [];
}

/** A progress report: the vehicle's state in the campaign of its pending assignment of `filename`. */
export async function reportProgress(ctx: ServerContext, vin: string, ev: { ecuSerial: string; filename: string; status: ProgressEvent; reason?: string | undefined }, inTransaction?: (trx: Transaction<Database>) => Promise<void>): Promise<ProgressResult> {
  const signers = ev.status === 'downloaded' ? await directorSigners(ctx) : undefined;
  return withVehicleLock(ctx.db, vin, async (trx) => {
    await inTransaction?.(trx);
    const ecu = await trx.selectFrom('ecus').select('serial').where('serial', '=', ev.ecuSerial).where('vin', '=', vin).executeTakeFirst();
    if (ecu === undefined) throw new ApiError('NOT_FOUND', `ECU ${ev.ecuSerial} is not part of vehicle ${vin}`);
    const a = await trx.selectFrom('assignments').select(['id', 'campaign_id'])
      .where('vin', '=', vin).where('ecu_serial', '=', ev.ecuSerial).where('filename', '=', ev.filename).where('status', '=', 'pending').executeTakeFirst();
    const campaignId = a?.campaign_id ?? null;
    if (a !== undefined && campaignId !== null) {
      const now = ctx.now();
      const from: readonly VehicleState[] = ['pending', ...IN_PROGRESS];
      if (ev.status !== 'downloaded') {
        await setVehicleState(trx, campaignId, vin, ev.status, ev.reason ?? null, now, from);
      } else if ((await loadSpecs(trx, [campaignId])).get(campaignId)?.action === 'download-only') {
        // Download-only (R156 7.1.1.4: the update's state is known for each vehicle): the
        // assignment ends without installation; the Director stops naming the image.
        await trx.updateTable('assignments').set({ status: 'downloaded', completed_at: now }).where('id', '=', a.id).execute();
        const open = await trx.selectFrom('assignments').select('id').where('campaign_id', '=', campaignId).where('vin', '=', vin)
          .where('status', 'in', ['scheduled', 'pending']).limit(1).executeTakeFirst();
        await setVehicleState(trx, campaignId, vin, open === undefined ? 'downloaded' : 'downloading', null, now, from);
        await regenerate(trx, ctx, signers!, vin);
      }
    }
    const targets = await latestDirectorMetadata(trx, vin, 'targets');
    return { failed: 0, directorTargetsVersion: targets?.version ?? 0, receipts: [] };
  });
}

/**
 * One update per ECU at a time, never a silent cancellation (UN R156 §7.1.1.4 / §7.1.2: the
 * operator knows which update each vehicle is to receive and its state; Uptane 2.1 §5.2: the
 * Director names one image per ECU). An ECU is HELD when it has an open assignment (scheduled or
 * pending) that is either direct (an operator's assignment, campaign_id null) or belongs to a
 * campaign that is still running or paused. Then:
 * - a second campaign does not enrol the vehicle: it stays 'deferred' (with the holder named in
 *   its reason) and the tick enrols it once the holder is done for the vehicle (execution.ts);
 * - a direct assignment is refused with ASSIGNMENT_CONFLICT (services/assignments.ts);
 * - a campaign assignment is not released over it (release.ts).
 * An open assignment of a campaign that has finished or was cancelled holds nothing: it is a
 * leftover (e.g. the other ECUs of a vehicle that failed), replaced with a recorded reason.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

export interface Holder {
  readonly ecuSerial: string;
  /** the holding campaign, or null for a direct assignment */
  readonly campaignId: string | null;
  readonly assignmentId: number;
  readonly status: string;
}

/** Who holds any of `serials` of vehicle `vin`, other than campaign `except` (call inside the vehicle's lock). */
export async function holders(q: Kysely<Database> | Transaction<Database>, vin: string, serials: readonly string[], except: string | null): Promise<Holder[]> {
  if (serials.length === 0) return [];
  let sel = q.selectFrom('assignments').leftJoin('campaigns', 'campaigns.id', 'assignments.campaign_id')
    .select(['assignments.id', 'assignments.ecu_serial', 'assignments.campaign_id', 'assignments.status'])
    .where('assignments.vin', '=', vin).where('assignments.ecu_serial', 'in', [...serials]).where('assignments.status', 'in', ['scheduled', 'pending'])
    .where((eb) => eb.or([eb('assignments.campaign_id', 'is', null), eb('campaigns.status', 'in', ['running', 'paused'])]));
  if (except !== null) sel = sel.where((eb) => eb.or([eb('assignments.campaign_id', 'is', null), eb('assignments.campaign_id', '!=', except)]));
  const rows = await sel.orderBy('assignments.ecu_serial').orderBy('assignments.id').execute();
  return rows.map((r) => ({ ecuSerial: r.ecu_serial, campaignId: r.campaign_id, assignmentId: r.id, status: r.status }));
}

export function describeHolders(hs: readonly Holder[]): string {
  return hs.map((x) => `ECU ${x.ecuSerial} is held by ${x.campaignId === null ? `direct assignment ${x.assignmentId}` : `campaign ${x.campaignId}`} (${x.status})`).join('; ');
}

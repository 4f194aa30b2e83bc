/**
 * Rolling a campaign out to a group, and withdrawing it (pause, cancel, expiry).
 * - startGroup: the group's queued vehicles, and the deferred vehicles of this and earlier
 *   groups, are checked for compatibility with their last known configuration (SUMS
 *   checkCompatibility; again for a deferred one: the holder may have changed it); incompatible
 *   ones are recorded and never updated; a compatible one whose ECUs another campaign or a direct
 *   assignment still holds (conflicts.ts) is 'deferred', never enrolled over it; each other one
 *   gets 'scheduled' assignments for its matching ECUs (image file info and release counter from
 *   the current signed Image repository, services/assignments.ts resolveImages), released at
 *   once when the campaign may go there now (release.ts). The tick calls it again for the
 *   current group, so deferred vehicles are enrolled once they are free.
 * - withdraw: vehicles that have not started lose the campaign's assignments (pause: back to
 *   'scheduled'; cancel and expiry: 'cancelled'), and their Director targets are regenerated.
 *   A vehicle that is installing keeps its assignment until it reports (it finishes or rolls
 *   back safely).
 */
import type { ServerContext } from '../context.js';
import { resolveImages } from '../services/assignments.js';
import { directorSigners, regenerate } from '../services/director.js';
import { withVehicleLock } from '../services/vehicle-lock.js';
import type { VehicleState } from './model.js';
import type { Campaign } from './repo.js';
import { describeHolders, holders } from './conflicts.js';
import { releaseScheduled } from './release.js';
import { setStatesInBulk, setVehicleState, vehicleState } from './states.js';
import { sumsPort } from './sums-port.js';

const CHUNK = 500;

export interface GroupStart {
  readonly scheduled: number;
  readonly incompatible: number;
  readonly deferred: number;
}

const WAITING: readonly VehicleState[] = ['queued', 'deferred'];

export async function startGroup(ctx: ServerContext, c: Campaign, group: number): Promise<GroupStart> {
  const id = c.row.id;
  const hardwareIds = Object.keys(c.spec.images);
  const queued = (await ctx.db.kysely.selectFrom('campaign_vehicle_states').select('vin')
    .where('campaign_id', '=', id).where('group_idx', '=', group).where('state', '=', 'queued').execute()).map((r) => r.vin);
  // Deferred vehicles only once nothing holds their ECUs any more (conflicts.ts, in SQL: a
  // vehicle that is still held costs no compatibility check and no lock on every tick).
  const freed = (await ctx.db.kysely.selectFrom('campaign_vehicle_states as s').select('s.vin')
    .where('s.campaign_id', '=', id).where('s.group_idx', '<=', group).where('s.state', '=', 'deferred')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('assignments as a').leftJoin('campaigns as c', 'c.id', 'a.campaign_id').select('a.id')
      .whereRef('a.vin', '=', 's.vin').where('a.status', 'in', ['scheduled', 'pending']).where('a.hardware_id', 'in', hardwareIds)
      .where((e) => e.or([e('a.campaign_id', 'is', null), e.and([e('c.status', 'in', ['running', 'paused']), e('a.campaign_id', '!=', id)])])))))
    .execute()).map((r) => r.vin);
  queued.push(...freed);
  queued.sort();
  if (queued.length === 0) return { scheduled: 0, incompatible: 0, deferred: 0 };
  const port = sumsPort();
  const pkg = { images: c.spec.images };
  let incompatible = 0;
  const compatible = new Set<string>();
  for (let i = 0; i < queued.length; i += CHUNK) {
    const part = queued.slice(i, i + CHUNK);
    const res = await port.checkCompatibility(ctx.db.kysely, part, pkg);
    const inPart = new Set(part);
    const bad = new Map<string, string>();
    for (const x of res.incompatible) if (inPart.has(x.vin) && !bad.has(x.vin)) bad.set(x.vin, x.reason);
    for (const v of res.compatible) if (inPart.has(v) && !bad.has(v)) compatible.add(v);
    if (bad.size > 0) {
      await ctx.db.kysely.transaction().execute(async (trx) => {
        for (const [vin, reason] of bad) {
          if (await setVehicleState(trx, id, vin, 'incompatible', reason, ctx.now(), WAITING)) incompatible++;
        }
      });
    }
  }
  const choices = await resolveImages(ctx, c.spec.images);
  const byHardware = new Map(choices.map((x) => [x.hardwareId, x]));
  const signers = await directorSigners(ctx);
  let scheduled = 0;
  let deferred = 0;
  for (const vin of queued.filter((v) => compatible.has(v))) {
    await withVehicleLock(ctx.db, vin, async (trx, vehicle) => {
      const state = await vehicleState(trx, id, vin);
      if (state === undefined || !WAITING.includes(state)) return;
      const now = ctx.now();
      const ecus = await trx.selectFrom('ecus').select(['serial', 'hardware_id'])
        .where('vin', '=', vin).where('hardware_id', 'in', [...byHardware.keys()]).orderBy('serial').execute();
      if (ecus.length === 0) {
        await setVehicleState(trx, id, vin, 'incompatible', `no ECU with hardware id ${[...byHardware.keys()].join(', ')}`, now);
        incompatible++;
        return;
      }
      // One update per ECU at a time (conflicts.ts): wait for the holder, never cancel it.
      const held = await holders(trx, vin, ecus.map((e) => e.serial), id);
      if (held.length > 0) {
        const reason = `waiting: ${describeHolders(held)}`;
        const row = await trx.selectFrom('campaign_vehicle_states').select('reason').where('campaign_id', '=', id).where('vin', '=', vin).executeTakeFirst();
        if (state !== 'deferred' || row?.reason !== reason.slice(0, 1000)) await setVehicleState(trx, id, vin, 'deferred', reason, now, WAITING);
        deferred++;
        return;
      }
      await trx.insertInto('assignments').values(ecus.map((e) => {
        const x = byHardware.get(e.hardware_id)!;
        return {
          vin, ecu_serial: e.serial, hardware_id: e.hardware_id, filename: x.filename, length: x.length, sha256: x.sha256, sha512: x.sha512,
          release_counter: x.releaseCounter, status: 'scheduled', failure: null, created_by: `campaign:${id}`, created_at: now, completed_at: null, campaign_id: id,
        };
      })).execute();
      await setVehicleState(trx, id, vin, 'pending', null, now);
      if (await releaseScheduled(trx, vehicle, now) > 0) await regenerate(trx, ctx, signers, vin);
      scheduled++;
    });
  }
  return { scheduled, incompatible, deferred };
}

export type WithdrawMode = 'pause' | 'cancel' | 'expire';

const WITHDRAWN: Record<WithdrawMode, readonly VehicleState[]> = {
  pause: ['pending'],
  // Not installing yet: the Director stops naming the update; the vehicle drops it.
  cancel: ['pending', 'downloading', 'awaiting-consent', 'waiting-preconditions'],
  expire: ['pending'],
};

/** Withdraw the campaign from vehicles that have not started installing. Returns vehicles affected. */
export async function withdraw(ctx: ServerContext, campaignId: string, mode: WithdrawMode): Promise<number> {
  const states = WITHDRAWN[mode];
  const vins = (await ctx.db.kysely.selectFrom('campaign_vehicle_states').select('vin')
    .where('campaign_id', '=', campaignId).where('state', 'in', states).execute()).map((r) => r.vin);
  const signers = vins.length === 0 ? undefined : await directorSigners(ctx);
  const reason = mode === 'cancel' ? 'campaign cancelled' : 'campaign expired';
  let n = 0;
  for (const vin of vins) {
    await withVehicleLock(ctx.db, vin, async (trx) => {
      const state = await vehicleState(trx, campaignId, vin);
      if (state === undefined || !states.includes(state)) return;
      const now = ctx.now();
      if (mode === 'pause') {
        await trx.updateTable('assignments').set({ status: 'scheduled' })
          .where('campaign_id', '=', campaignId).where('vin', '=', vin).where('status', '=', 'pending').execute();
      } else {
        await trx.updateTable('assignments').set({ status: 'cancelled', failure: reason, completed_at: now })
          .where('campaign_id', '=', campaignId).where('vin', '=', vin).where('status', 'in', ['scheduled', 'pending']).execute();
        await setVehicleState(trx, campaignId, vin, 'cancelled', reason, now);
      }
      await regenerate(trx, ctx, signers!, vin);
      n++;
    });
  }
  if (mode !== 'pause') {
    await ctx.db.kysely.transaction().execute(async (trx) => {
      for (const from of WAITING) await setStatesInBulk(trx, campaignId, from, 'cancelled', reason, ctx.now());
    });
  }
  return n;
}

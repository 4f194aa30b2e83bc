/**
 * Assignments: which image each ECU must install (Uptane 2.1 §5.2: the Director decides per
 * vehicle). An image can only be assigned when the CURRENT signed Image repository lists it for
 * the ECU's hardware identifier (custom.hardwareIds), so the Director never names software a
 * vehicle's full verification would refuse (§5.4.4.2 step 10). At most one pending assignment per
 * ECU: a new direct one replaces an older direct one, but never a running campaign's (that
 * would silently cancel it: ASSIGNMENT_CONFLICT, src/campaigns/conflicts.ts). Every change
 * regenerates that vehicle's Director targets under its row lock.
 */
import type { Selectable } from 'kysely';
import { readUptaneCustom } from '@reflash/metadata';
import type { ServerContext } from '../context.js';
import type { AssignmentTable } from '../db/schema.js';
import { holders } from '../campaigns/conflicts.js';
import { ApiError } from '../errors.js';
import { directorSigners, regenerate } from './director.js';
import { ImageRepoView } from './image-targets.js';
import { withVehicleLock } from './vehicle-lock.js';

/**
 * 'scheduled': created by a campaign, not yet released to the Director (src/campaigns/release.ts);
 * 'downloaded': a download-only campaign's assignment the vehicle reported downloaded (ended, not
 * installed; src/campaigns/vehicle-events.ts).
 */
export const ASSIGNMENT_STATUSES = ['pending', 'installed', 'failed', 'cancelled', 'scheduled', 'downloaded'] as const;
export type AssignmentStatus = (typeof ASSIGNMENT_STATUSES)[number];

/** An image chosen for a hardware identifier, with the Image repository's file info. */
export interface ImageChoice {
  readonly hardwareId: string;
  readonly filename: string;
  readonly length: number;
  readonly sha256: string;
  readonly sha512: string;
  readonly releaseCounter: number | null;
}

const CHUNK = 500;

function chunks<T>(xs: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Resolve `{hardwareId: filename}` against the current Image repository (422 naming why). */
export async function resolveImages(ctx: ServerContext, images: Readonly<Record<string, string>>): Promise<ImageChoice[]> {
  const view = await ImageRepoView.load(ctx.db.kysely);
  const out: ImageChoice[] = [];
  for (const [hardwareId, filename] of Object.entries(images)) {
    const found = await view.find(filename);
    if (found === undefined) throw new ApiError('ASSIGNMENT_INVALID', `image ${filename} is not in the current Image repository targets`, { hardwareId, filename });
    const { target, role } = found;
    const custom = readUptaneCustom(target);
    if (custom.hardwareIds?.includes(hardwareId) !== true) {
      throw new ApiError('ASSIGNMENT_INVALID', `image ${filename} (role ${role}) is not signed for hardware id ${hardwareId}` +
        (custom.hardwareIds === undefined ? ' (it names no hardwareIds)' : ` (it is for ${custom.hardwareIds.join(', ')})`), { hardwareId, filename });
    }
    let sha256 = target.hashes['sha256'];
    let sha512 = target.hashes['sha512'];
    if (sha256 === undefined || sha512 === undefined) {
      // The Image repository only accepts targets whose bytes were uploaded (hashed on upload).
      const up = await ctx.db.kysely.selectFrom('images').select(['length', 'sha256', 'sha512']).where('filename', '=', filename).executeTakeFirst();
      const agrees = up !== undefined && up.length === target.length && (sha256 === undefined || up.sha256 === sha256) && (sha512 === undefined || up.sha512 === sha512);
      if (!agrees) throw new ApiError('ASSIGNMENT_INVALID', `image ${filename}: no uploaded bytes matching the signed length and hashes`, { hardwareId, filename });
      sha256 = up.sha256;
      sha512 = up.sha512;
    }
    out.push({ hardwareId, filename, length: target.length, sha256: sha256.toLowerCase(), sha512: sha512.toLowerCase(), releaseCounter: custom.releaseCounter ?? null });
  }
  return out;
}

export interface CreateResult {
  /** assignments created */
  readonly created: number;
  /** vehicles that got at least one */
  readonly vehicles: number;
}

/**
 * Assign images to every ECU of `vins` whose hardware id is in `images`. All VINs must exist;
 * each vehicle is updated in its own transaction (a failure part-way leaves earlier vehicles
 * assigned; repeating the request is harmless: it replaces the pending assignments).
 */
export async function createAssignments(ctx: ServerContext, vins: readonly string[], images: Readonly<Record<string, string>>, createdBy: string): Promise<CreateResult> {
  const choices = await resolveImages(ctx, images);
  const byHardware = new Map(choices.map((c) => [c.hardwareId, c]));
  const unique = [...new Set(vins)];
  const known = new Set<string>();
  const ecusByVin = new Map<string, Array<{ serial: string; hardwareId: string }>>();
  for (const part of chunks(unique)) {
    for (const v of await ctx.db.kysely.selectFrom('vehicles').select('vin').where('vin', 'in', part).execute()) known.add(v.vin);
    const ecus = await ctx.db.kysely.selectFrom('ecus').select(['vin', 'serial', 'hardware_id'])
      .where('vin', 'in', part).where('hardware_id', 'in', [...byHardware.keys()]).orderBy('serial').execute();
    for (const e of ecus) {
      const list = ecusByVin.get(e.vin) ?? [];
      list.push({ serial: e.serial, hardwareId: e.hardware_id });
      ecusByVin.set(e.vin, list);
    }
  }
  const missing = unique.filter((v) => !known.has(v));
  if (missing.length > 0) throw new ApiError('VEHICLE_NOT_FOUND', `${missing.length} unknown vehicle(s), e.g. ${missing[0]!}`, { missing: missing.slice(0, 20) });
  // Refused before anything changes when a running campaign holds one of the ECUs (checked again under each vehicle's lock).
  for (const part of chunks([...ecusByVin.keys()])) {
    const held = await ctx.db.kysely.selectFrom('assignments').innerJoin('campaigns', 'campaigns.id', 'assignments.campaign_id')
      .select(['assignments.vin', 'assignments.ecu_serial', 'assignments.campaign_id', 'assignments.status'])
      .where('assignments.vin', 'in', part).where('assignments.hardware_id', 'in', [...byHardware.keys()])
      .where('assignments.status', 'in', ['scheduled', 'pending']).where('campaigns.status', 'in', ['running', 'paused']).orderBy('assignments.vin').limit(20).execute();
    if (held.length > 0) throw conflict(held.map((h) => ({ vin: h.vin, ecuSerial: h.ecu_serial, campaignId: h.campaign_id, status: h.status })));
  }
  if (ecusByVin.size === 0) {
    throw new ApiError('ASSIGNMENT_INVALID', `no ECU of these vehicles has hardware id ${[...byHardware.keys()].join(', ')}`);
  }
  const signers = await directorSigners(ctx);
  let created = 0;
  const todo = [...ecusByVin];
  // PostgreSQL: a few vehicles at once (each its own connection); SQLite: one at a time anyway.
  const parallel = ctx.db.dialect === 'postgres' ? Math.max(1, Math.min(4, ctx.config.poolSize - 1)) : 1;
  const worker = async (): Promise<void> => {
    for (let next = todo.shift(); next !== undefined; next = todo.shift()) {
      const [vin, ecus] = next;
      await withVehicleLock(ctx.db, vin, async (trx) => {
        const now = ctx.now();
        const serials = ecus.map((e) => e.serial);
        const held = (await holders(trx, vin, serials, null)).filter((h) => h.campaignId !== null);
        if (held.length > 0) throw conflict(held.map((h) => ({ vin, ...h })));
        // One pending assignment per ECU (unique index): the new one replaces an older direct one.
        await trx.updateTable('assignments').set({ status: 'cancelled', completed_at: now })
          .where('ecu_serial', 'in', serials).where('status', '=', 'pending').execute();
        await trx.insertInto('assignments').values(ecus.map((e) => {
          const c = byHardware.get(e.hardwareId)!;
          return {
            vin, ecu_serial: e.serial, hardware_id: e.hardwareId, filename: c.filename, length: c.length, sha256: c.sha256, sha512: c.sha512,
            release_counter: c.releaseCounter, status: 'pending', failure: null, created_by: createdBy, created_at: now, completed_at: null,
          };
        })).execute();
        await regenerate(trx, ctx, signers, vin);
      });
      created += ecus.length;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { created, vehicles: ecusByVin.size };
}

function conflict(held: ReadonlyArray<{ vin: string; ecuSerial: string; campaignId: string | null; status: string }>): ApiError {
  const first = held[0]!;
  return new ApiError('ASSIGNMENT_CONFLICT', `ECU ${first.ecuSerial} of ${first.vin} is in campaign ${first.campaignId ?? ''} (${first.status})${held.length > 1 ? `, and ${held.length - 1} more` : ''}`, {
    held: held.map((h) => ({ vin: h.vin, ecuSerial: h.ecuSerial, campaignId: h.campaignId })),
  });
}

export type AssignmentRow = Selectable<AssignmentTable>;

export async function listAssignments(ctx: ServerContext, f: { vin?: string | undefined; status?: string | undefined; limit: number; after?: number | undefined }): Promise<AssignmentRow[]> {
  let q = ctx.db.kysely.selectFrom('assignments').selectAll();
  if (f.vin !== undefined) q = q.where('vin', '=', f.vin);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.after !== undefined) q = q.where('id', '>', f.after);
  return q.orderBy('id').limit(f.limit).execute();
}

/** Cancel a pending assignment and regenerate the vehicle's Director targets. */
export async function cancelAssignment(ctx: ServerContext, id: number): Promise<AssignmentRow> {
  const first = await ctx.db.kysely.selectFrom('assignments').select('vin').where('id', '=', id).executeTakeFirst();
  if (first === undefined) throw new ApiError('NOT_FOUND', `no assignment ${id}`);
  const signers = await directorSigners(ctx);
  return withVehicleLock(ctx.db, first.vin, async (trx) => {
    const row = await trx.selectFrom('assignments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    if (row.status !== 'pending') throw new ApiError('ASSIGNMENT_INVALID', `assignment ${id} is ${row.status}, not pending`);
    const now = ctx.now();
    await trx.updateTable('assignments').set({ status: 'cancelled', completed_at: now }).where('id', '=', id).execute();
    await regenerate(trx, ctx, signers, row.vin);
    return { ...row, status: 'cancelled', completed_at: now };
  });
}

/**
 * Vehicle check-in (Uptane 2.1 §5.4.2.1; STANDARDS.md §1 steps 3-4 and 8): the vehicle version
 * manifest is verified against the registered keys and last counters (@reflash/verify
 * verifyVehicleManifest), then, in the same transaction under the vehicle's row lock: counters
 * stored, last known configuration and its history recorded (R156 7.1), attack reports kept,
 * assignments completed when the ECU reports the assigned image, Director targets regenerated.
 * An installation failure reported by the vehicle marks its assignment failed.
 */
import type { Key, VehicleManifest } from '@reflash/metadata';
import { ManifestError, verifyManifestSignaturesAsync, verifyVehicleManifest } from '@reflash/verify';
import type { RegisteredEcu } from '@reflash/verify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { directorFilesUnderLock, directorHeads, directorSigners, regenerate } from './director.js';
import type { DirectorFiles } from './director.js';
import { ecuKey, fastCheckIn, installs } from './checkin-fast.js';
import type { AuthenticatedVehicle } from '../plugins/auth.js';
import { withVehicleCheckIn, withVehicleLock } from './vehicle-lock.js';
import { campaignCheckIn, campaignOutcome } from '../campaigns/vehicle-events.js';
import type { OutcomeState } from '../campaigns/vehicle-events.js';
import { auditEvents } from '../audit/events.js';
import { sql } from 'kysely';
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { VehicleUpdateResultEvent } from '../audit/events.js';
import { recordRxswinTransitions } from '../sums/register.js';
import { prepared } from '../db/prepared.js';
import type { Prepared } from '../db/prepared.js';

export interface Receipt {
  readonly ecuSerial: string;
  /** index of the vehicle-update-result entry in the accountability log */
  readonly index: number;
  /** C2SP tlog-proof text (entry, inclusion proof, signed checkpoint): verifiable offline */
  readonly receipt: string;
}

export interface CheckInResult {
  readonly directorTargetsVersion: number;
  /** pending assignments left */
  readonly pending: number;
  /** one per update result this check-in recorded in the accountability log */
  readonly receipts: Receipt[];
  /** the vehicle's Director metadata after this check-in, when asked for (`directorRoot`) */
  readonly director?: DirectorFiles;
}

export interface CheckInOptions {
  /**
   * The Director root version the vehicle trusts: when given, the answer carries the vehicle's
   * Director metadata as of this check-in (directorFilesUnderLock), saving its GETs.
   */
  readonly directorRoot?: number;
  /**
   * The request's signer, when `inTransaction` only records its nonce: then a steady-state
   * check-in may take the fast path (checkin-fast.ts, PostgreSQL), which records the nonce itself.
   */
  readonly auth?: AuthenticatedVehicle;
}

type UpdateResult = Omit<VehicleUpdateResultEvent, 'type'>;

/** Append update results to the accountability log (after the check-in committed) and fetch receipts. */
async function logResults(ctx: ServerContext, results: readonly UpdateResult[]): Promise<Receipt[]> {
  const receipts: Receipt[] = [];
  for (const r of results) {
    const { index } = await ctx.audit.append(auditEvents.vehicleUpdateResult(r));
    receipts.push({ ecuSerial: r.ecuSerial, index, receipt: await ctx.audit.receipt(index) });
  }
  return receipts;
}

/**
 * The registered keys of a vehicle's ECUs, for verifying signatures ahead of its lock: cached
 * (bounded). A stale entry cannot make a bad manifest pass: under the lock the checks use the
 * rows read there, and a signature verified ahead counts only for the same key id.
 */
const vehicleKeyCache = new Map<string, { primaryEcuSerial: string; ecus: Map<string, { key: Key }> }>();
async function vehicleKeys(ctx: ServerContext, vin: string): Promise<{ primaryEcuSerial: string; ecus: Map<string, { key: Key }> }> {
  const hit = vehicleKeyCache.get(vin);
  if (hit !== undefined) return hit;
  const rows = await ctx.db.kysely.selectFrom('ecus').innerJoin('vehicles', 'vehicles.vin', 'ecus.vin')
    .select(['ecus.serial', 'ecus.public_key', 'vehicles.primary_ecu_serial']).where('ecus.vin', '=', vin).execute();
  const entry = { primaryEcuSerial: rows[0]?.primary_ecu_serial ?? '', ecus: new Map(rows.map((e) => [e.serial, { key: ecuKey(e.public_key) }])) };
  if (rows.length === 0) return entry;
  if (vehicleKeyCache.size >= 100_000) vehicleKeyCache.clear();
  vehicleKeyCache.set(vin, entry);
  return entry;
}

/** The check-in's statements, prepared (db/prepared.ts): they run on every check-in. */
const q = {
  ecus: prepared<{ vin: string }>()((db, p) => db.selectFrom('ecus').selectAll().where('vin', '=', p.vin)),
  installed: prepared<{ serial: string; counter: number; filename: string; length: number; sha256: string; at: number }>()((db, p) => db.updateTable('ecus')
    .set({ last_counter: p.counter, installed_filename: p.filename, installed_length: p.length, installed_sha256: p.sha256, installed_at: p.at }).where('serial', '=', p.serial)),
  pending: prepared<{ vin: string }>()((db, p) => db.selectFrom('assignments').selectAll().where('vin', '=', p.vin).where('status', '=', 'pending')),
  /** pending and scheduled (campaign assignments waiting for their release), in one statement */
  open: prepared<{ vin: string }>()((db, p) => db.selectFrom('assignments').selectAll().where('vin', '=', p.vin).where('status', 'in', ['pending', 'scheduled'])),
};

/**
 * The new report counters of ECUs whose software did not change, in one statement
 * (`last_counter = case serial when ... end`), prepared per number of ECUs (up to 64).
 */
const counterUpdates = new Map<number, Prepared<Record<string, string | number>, unknown>>();
async function storeCounters(trx: Transaction<Database>, vin: string, counters: ReadonlyArray<{ serial: string; counter: number }>): Promise<void> {
  for (let i = 0; i < counters.length; i += 64) {
    const chunk = counters.slice(i, i + 64);
    let update = counterUpdates.get(chunk.length);
    if (update === undefined) {
      const n = chunk.length;
      update = prepared<Record<string, string | number>>()((db, p) => db.updateTable('ecus')
        .set({ last_counter: sql<number>`case serial ${sql.join(Array.from({ length: n }, (_, j) => sql`when ${p[`s${j}`]} then cast(${p[`c${j}`]} as bigint)`), sql` `)} end` })
        .where('vin', '=', p['vin'] as string).where('serial', 'in', Array.from({ length: n }, (_, j) => p[`w${j}`] as string)));
      counterUpdates.set(n, update);
    }
    const args: Record<string, string | number> = { vin };
    chunk.forEach((c, j) => {
      args[`s${j}`] = c.serial;
      args[`c${j}`] = c.counter;
      args[`w${j}`] = c.serial;
    });
    const changed = await update.run(trx, args);
    if (changed !== chunk.length) throw new Error(`storing report counters: ${changed} of ${chunk.length} ECU rows updated`);
  }
}

export async function checkIn(ctx: ServerContext, manifest: VehicleManifest, inTransaction?: (trx: Transaction<Database>) => Promise<void>, opts: CheckInOptions = {}): Promise<CheckInResult> {
  const vin = manifest.signed.vin;
  const signers = await directorSigners(ctx);
  const results: UpdateResult[] = [];
  try {
    // The signatures are verified BEFORE the vehicle's lock is taken (with SQLite the lock is the
    // one connection), concurrently in libuv's thread pool, with the registered keys read now;
    // under the lock every check runs again on fresh rows, and a key that changed meanwhile is
    // verified there (ManifestSignatures holds results per key id).
    const signatures = await verifyManifestSignaturesAsync(manifest, await vehicleKeys(ctx, vin));
    if (opts.auth !== undefined) {
      const steady = await fastCheckIn(ctx, manifest, signatures, signers, opts.auth, opts.directorRoot);
      if (steady !== undefined) {
        ctx.metrics.checkins.inc({ path: 'steady' });
        return { ...steady, receipts: [] };
      }
    }
    // The vehicle's lock is taken by recording the check-in (last seen, manifest count).
    const outcome = await withVehicleCheckIn(ctx.db, vin, ctx.now(), async (trx, vehicle) => {
      results.length = 0;
      await inTransaction?.(trx);
      const ecus = await q.ecus.all(trx, { vin });
      const open = await q.open.all(trx, { vin });
      const pending = open.filter((a) => a.status === 'pending');
      const bySerial = new Map(ecus.map((e) => [e.serial, e]));
      const registered = new Map<string, RegisteredEcu>(ecus.map((e) => [e.serial, {
        hardwareId: e.hardware_id, key: ecuKey(e.public_key), lastCounter: e.last_counter ?? undefined,
      }]));
      // Uptane 5.4.2.1: signatures by the Primary and each ECU; counters strictly increase.
      const verified = verifyVehicleManifest(manifest, { vin, primaryEcuSerial: vehicle.primary_ecu_serial, ecus: registered }, { signatures });
      const now = ctx.now();
      const counters: Array<{ serial: string; counter: number }> = [];
      for (const [serial, r] of verified.reports) {
        const ecu = bySerial.get(serial)!;
        const img = r.installedImage;
        const sha256 = img.hashes['sha256']?.toLowerCase() ?? '';
        const changed = ecu.installed_filename !== img.filepath || ecu.installed_length !== img.length || ecu.installed_sha256 !== sha256;
        if (changed) await q.installed.run(trx, { serial, counter: r.reportCounter, filename: img.filepath, length: img.length, sha256, at: now });
        else counters.push({ serial, counter: r.reportCounter });
        if (changed && ecu.installed_sha256 !== null) {
          // An update happened (not the first report of the factory image): record it.
          results.push({
            vin, ecuSerial: serial, hardwareId: ecu.hardware_id,
            from: { ...(ecu.installed_filename === null ? {} : { filename: ecu.installed_filename }), ...(ecu.installed_length === null ? {} : { length: ecu.installed_length }), sha256: ecu.installed_sha256 },
            to: { filename: img.filepath, length: img.length, sha256, ...(img.hashes['sha512'] === undefined ? {} : { sha512: img.hashes['sha512'].toLowerCase() }) },
            status: 'installed',
            // TCG audit and accountability: the ECU's own signed version report (with its attestation).
            attestation: manifest.signed.ecuVersionReports.get(serial)!.toJSON(),
            time: now,
          });
        }
        if (changed) {
          await trx.insertInto('ecu_history').values({ vin, serial, filename: img.filepath, length: img.length, sha256, report_counter: r.reportCounter, reported_at: now }).execute();
        }
      }
      if (verified.attacks.length > 0) {
        await trx.insertInto('attack_reports').values(verified.attacks.map((a) => ({ vin, serial: a.ecuSerial, report: a.report, reported_at: now }))).execute();
      }
      await storeCounters(trx, vin, counters);
      const done = pending.filter((a) => {
        const r = verified.reports.get(a.ecu_serial);
        return r !== undefined && installs(a, r);
      }).map((a) => a.id);
      if (done.length > 0) {
        await trx.updateTable('assignments').set({ status: 'installed', completed_at: now }).where('id', 'in', done).execute();
        for (const a of pending) {
          const r = results.find((x) => x.ecuSerial === a.ecu_serial);
          if (done.includes(a.id) && r !== undefined) results[results.indexOf(r)] = { ...r, assignmentId: a.id, ...(a.campaign_id === null ? {} : { campaignId: a.campaign_id }) };
        }
      }
      // Campaigns: vehicles done succeed; scheduled assignments whose window is open are released.
      const released = await campaignCheckIn(trx, vehicle, pending.filter((a) => done.includes(a.id)), now, open.filter((a) => a.status === 'scheduled'));
      const left = released === 0 ? pending.filter((a) => !done.includes(a.id))
        : await q.pending.all(trx, { vin });
      if (opts.directorRoot === undefined) {
        const { targetsVersion } = await regenerate(trx, ctx, signers, vin, { pending: left });
        ctx.metrics.checkins.inc({ path: 'locked' });
        return { directorTargetsVersion: targetsVersion, pending: left.length };
      }
      // The answer carries the Director metadata: the newest versions are read once, for both.
      const heads = await directorHeads(trx, vin);
      const { changed } = await regenerate(trx, ctx, signers, vin, { pending: left, heads });
      const director = await directorFilesUnderLock(trx, ctx, signers, vin, opts.directorRoot, changed ? undefined : heads);
      ctx.metrics.checkins.inc({ path: 'locked' });
      return { directorTargetsVersion: director.targetsVersion, pending: left.length, director };
    });
    const receipts = await logResults(ctx, results);
    // R156 7.1: the register per RXSWIN (software before and after, as attested).
    await recordRxswinTransitions(ctx, results);
    return { ...outcome, receipts };
  } catch (err) {
    if (err instanceof ManifestError) {
      ctx.metrics.verificationFailures.inc({ code: err.code });
      throw new ApiError('MANIFEST_REJECTED', err.message, { code: err.code }, { cause: err });
    }
    throw err;
  }
}

export interface FailureResult {
  /** assignments marked failed (0 when none was pending for that ECU and file) */
  readonly failed: number;
  readonly directorTargetsVersion: number;
  readonly receipts: Receipt[];
}

/**
 * An installation failure reported by the vehicle: that ECU's pending assignment of `filename`
 * fails ('failed', or 'rolled-back': the previous software runs again). 'declined' (the user
 * refused; the old software stays) cancels it instead, without an update result.
 */
export async function reportFailure(ctx: ServerContext, vin: string, ev: { ecuSerial: string; filename: string; reason: string; status?: OutcomeState }, inTransaction?: (trx: Transaction<Database>) => Promise<void>): Promise<FailureResult> {
  const signers = await directorSigners(ctx);
  const failed: UpdateResult[] = [];
  const outcome = await withVehicleLock(ctx.db, vin, async (trx) => {
    failed.length = 0;
    await inTransaction?.(trx);
    const ecu = await trx.selectFrom('ecus').select(['serial', 'hardware_id', 'installed_filename', 'installed_length', 'installed_sha256']).where('serial', '=', ev.ecuSerial).where('vin', '=', vin).executeTakeFirst();
    if (ecu === undefined) throw new ApiError('NOT_FOUND', `ECU ${ev.ecuSerial} is not part of vehicle ${vin}`);
    const assignment = await trx.selectFrom('assignments').select(['id', 'length', 'sha256', 'sha512', 'campaign_id'])
      .where('vin', '=', vin).where('ecu_serial', '=', ev.ecuSerial).where('filename', '=', ev.filename).where('status', '=', 'pending')
      .executeTakeFirst();
    const outcome = ev.status ?? 'failed';
    if (assignment !== undefined && outcome === 'declined') {
      await trx.updateTable('assignments').set({ status: 'cancelled', failure: `declined: ${ev.reason}`.slice(0, 1000), completed_at: ctx.now() }).where('id', '=', assignment.id).execute();
      await campaignOutcome(trx, assignment.campaign_id, vin, outcome, ev.reason, ctx.now());
    } else if (assignment !== undefined) {
      const failure = outcome === 'rolled-back' ? `rolled back: ${ev.reason}`.slice(0, 1000) : ev.reason;
      await trx.updateTable('assignments').set({ status: 'failed', failure, completed_at: ctx.now() }).where('id', '=', assignment.id).execute();
      await campaignOutcome(trx, assignment.campaign_id, vin, outcome, ev.reason, ctx.now());
      failed.push({
        vin, ecuSerial: ev.ecuSerial, hardwareId: ecu.hardware_id,
        from: ecu.installed_sha256 === null ? null : { ...(ecu.installed_filename === null ? {} : { filename: ecu.installed_filename }), sha256: ecu.installed_sha256 },
        to: { filename: ev.filename, length: assignment.length, sha256: assignment.sha256, sha512: assignment.sha512 },
        status: 'failed', reason: failure,
        ...(assignment.campaign_id === null ? {} : { campaignId: assignment.campaign_id }),
        // A failure event carries no ECU attestation: the vehicle's signed request is the evidence.
        attestation: null,
        assignmentId: assignment.id,
        time: ctx.now(),
      });
    }
    const { targetsVersion } = await regenerate(trx, ctx, signers, vin);
    return { failed: assignment === undefined || outcome === 'declined' ? 0 : 1, directorTargetsVersion: targetsVersion };
  });
  return { ...outcome, receipts: await logResults(ctx, failed) };
}

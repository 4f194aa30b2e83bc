/**
 * Vehicle check-in (Uptane 2.1 §5.4.2.1; STANDARDS.md §1 steps 3-4 and 8): the vehicle version
 * manifest is verified against the registered keys and last counters (@reflash/verify
 * verifyVehicleManifest), then, in the same transaction under the vehicle's row lock: counters
 * stored, last known configuration and its history recorded (R156 7.1), attack reports kept,
 * assignments completed when the ECU reports the assigned image, Director targets regenerated.
 * An installation failure reported by the vehicle marks its assignment failed.
 */
import { Key } from '@reflash/metadata';
import type { EcuVersionReportFields, VehicleManifest } from '@reflash/metadata';
import { ManifestError, verifyVehicleManifest } from '@reflash/verify';
import type { RegisteredEcu } from '@reflash/verify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { AssignmentRow } from './assignments.js';
import { directorSigners, regenerate } from './director.js';
import { withVehicleLock } from './vehicle-lock.js';

export interface CheckInResult {
  readonly directorTargetsVersion: number;
  /** pending assignments left */
  readonly pending: number;
}

/**
 * Parsed ECU public keys by their stored JSON: parsing a key and deriving its identity costs more
 * than verifying a signature with it, and keys never change for an ECU. Bounded.
 */
const keyCache = new Map<string, Key>();
function ecuKey(json: string): Key {
  let k = keyCache.get(json);
  if (k === undefined) {
    k = Key.fromJSON(JSON.parse(json));
    if (keyCache.size >= 100_000) keyCache.clear();
    keyCache.set(json, k);
  }
  return k;
}

/** Does the ECU now run the assigned image? Same length and the same sha256 (or sha512). */
function installs(a: AssignmentRow, r: EcuVersionReportFields): boolean {
  const h = r.installedImage.hashes;
  if (r.installedImage.length !== a.length) return false;
  const s256 = h['sha256']?.toLowerCase();
  const s512 = h['sha512']?.toLowerCase();
  return s256 !== undefined ? s256 === a.sha256 : s512 === a.sha512;
}

export async function checkIn(ctx: ServerContext, manifest: VehicleManifest): Promise<CheckInResult> {
  const vin = manifest.signed.vin;
  const signers = await directorSigners(ctx);
  try {
    return await withVehicleLock(ctx.db, vin, async (trx, vehicle) => {
      const ecus = await trx.selectFrom('ecus').selectAll().where('vin', '=', vin).execute();
      const bySerial = new Map(ecus.map((e) => [e.serial, e]));
      const registered = new Map<string, RegisteredEcu>(ecus.map((e) => [e.serial, {
        hardwareId: e.hardware_id, key: ecuKey(e.public_key), lastCounter: e.last_counter ?? undefined,
      }]));
      // Uptane 5.4.2.1: signatures by the Primary and each ECU; counters strictly increase.
      const verified = verifyVehicleManifest(manifest, { vin, primaryEcuSerial: vehicle.primary_ecu_serial, ecus: registered });
      const now = ctx.now();
      for (const [serial, r] of verified.reports) {
        const ecu = bySerial.get(serial)!;
        const img = r.installedImage;
        const sha256 = img.hashes['sha256']?.toLowerCase() ?? '';
        const changed = ecu.installed_filename !== img.filepath || ecu.installed_length !== img.length || ecu.installed_sha256 !== sha256;
        await trx.updateTable('ecus').set(changed
          ? { last_counter: r.reportCounter, installed_filename: img.filepath, installed_length: img.length, installed_sha256: sha256, installed_at: now }
          : { last_counter: r.reportCounter }).where('serial', '=', serial).execute();
        if (changed) {
          await trx.insertInto('ecu_history').values({ vin, serial, filename: img.filepath, length: img.length, sha256, report_counter: r.reportCounter, reported_at: now }).execute();
        }
      }
      if (verified.attacks.length > 0) {
        await trx.insertInto('attack_reports').values(verified.attacks.map((a) => ({ vin, serial: a.ecuSerial, report: a.report, reported_at: now }))).execute();
      }
      await trx.updateTable('vehicles').set({ last_seen_at: now, manifest_count: vehicle.manifest_count + 1 }).where('vin', '=', vin).execute();
      const pending = await trx.selectFrom('assignments').selectAll().where('vin', '=', vin).where('status', '=', 'pending').execute();
      const done = pending.filter((a) => {
        const r = verified.reports.get(a.ecu_serial);
        return r !== undefined && installs(a, r);
      }).map((a) => a.id);
      if (done.length > 0) {
        await trx.updateTable('assignments').set({ status: 'installed', completed_at: now }).where('id', 'in', done).execute();
      }
      const { targetsVersion } = await regenerate(trx, ctx, signers, vin, { pending: pending.filter((a) => !done.includes(a.id)) });
      ctx.metrics.checkins.inc();
      return { directorTargetsVersion: targetsVersion, pending: pending.length - done.length };
    });
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
}

/** An installation failure reported by the vehicle: that ECU's pending assignment of `filename` fails. */
export async function reportFailure(ctx: ServerContext, vin: string, ev: { ecuSerial: string; filename: string; reason: string }): Promise<FailureResult> {
  const signers = await directorSigners(ctx);
  return withVehicleLock(ctx.db, vin, async (trx) => {
    const ecu = await trx.selectFrom('ecus').select('serial').where('serial', '=', ev.ecuSerial).where('vin', '=', vin).executeTakeFirst();
    if (ecu === undefined) throw new ApiError('NOT_FOUND', `ECU ${ev.ecuSerial} is not part of vehicle ${vin}`);
    const res = await trx.updateTable('assignments').set({ status: 'failed', failure: ev.reason, completed_at: ctx.now() })
      .where('vin', '=', vin).where('ecu_serial', '=', ev.ecuSerial).where('filename', '=', ev.filename).where('status', '=', 'pending')
      .executeTakeFirst();
    const { targetsVersion } = await regenerate(trx, ctx, signers, vin);
    return { failed: Number(res.numUpdatedRows), directorTargetsVersion: targetsVersion };
  });
}

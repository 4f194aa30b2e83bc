/**
 * Vehicle inventory: provisioning (VIN, Primary, ECUs with their hardware ids and public keys),
 * listing, the last known configuration per ECU (R156 7.1 "each vehicle's last known
 * configuration") and the installed-image history with reported attacks.
 *
 * VINs: a real VIN is 17 characters of [A-HJ-NPR-Z0-9] (ISO 3779). The server accepts any
 * 1..64 characters of [A-Za-z0-9-] so that tests, simulators and fleets with their own vehicle
 * ids can register too; it does not check the VIN check digit.
 */
import { Key } from '@reflash/metadata';
import type { Selectable } from 'kysely';
import type { ServerContext } from '../context.js';
import type { AttackReportTable, EcuHistoryTable, EcuTable } from '../db/schema.js';
import { ApiError } from '../errors.js';
import type { AssignmentRow } from './assignments.js';
import { latestDirectorRoot } from './director.js';
import { latestImageRoot } from './image-targets.js';
import { isUniqueViolation } from './vehicle-lock.js';
import type { VehicleRow } from './vehicle-lock.js';
import { validTimeZone } from '../campaigns/windows.js';

export const VIN_PATTERN = '^[A-Za-z0-9-]{1,64}$';
/** ECU serials and hardware ids: printable ASCII without spaces. */
export const ID_PATTERN = '^[\\x21-\\x7e]{1,128}$';
/** Key schemes an ECU may use (request signatures support exactly these two). */
export const ECU_SCHEMES = ['ed25519', 'ecdsa-sha2-nistp256'] as const;

export interface ProvisionInput {
  readonly vin: string;
  readonly model: string;
  readonly primaryEcuSerial: string;
  readonly ecus: ReadonlyArray<{ readonly serial: string; readonly hardwareId: string; readonly publicKey: unknown }>;
  /** campaign targeting and maintenance windows (optional) */
  readonly modelYear?: number | undefined;
  readonly region?: string | undefined;
  /** IANA time zone, e.g. Europe/Berlin */
  readonly timeZone?: string | undefined;
}

export interface ProvisionResult {
  readonly vin: string;
  readonly directorRoot: unknown;
  readonly imageRoot: unknown;
}

function parseEcuKey(json: unknown, where: string): Key {
  let key: Key;
  try {
    key = Key.fromJSON(json, where);
  } catch (err) {
    throw new ApiError('VALIDATION_FAILED', `${where}: ${(err as Error).message}`, undefined, { cause: err });
  }
  if (!(ECU_SCHEMES as readonly string[]).includes(key.scheme)) throw new ApiError('VALIDATION_FAILED', `${where}: scheme must be ${ECU_SCHEMES.join(' or ')}, got ${key.scheme}`);
  if (key.keyObject() === null) throw new ApiError('VALIDATION_FAILED', `${where}: not a valid ${key.scheme} public key`);
  return key;
}

export async function provisionVehicle(ctx: ServerContext, input: ProvisionInput): Promise<ProvisionResult> {
  const serials = new Set<string>();
  const keyIds = new Set<string>();
  const ecus = input.ecus.map((e, i) => {
    if (serials.has(e.serial)) throw new ApiError('VALIDATION_FAILED', `ECU serial ${e.serial} is listed twice`);
    serials.add(e.serial);
    const key = parseEcuKey(e.publicKey, `ecus[${i}].publicKey`);
    const keyId = key.keyId();
    if (keyIds.has(keyId)) throw new ApiError('VALIDATION_FAILED', `ecus[${i}].publicKey is used by another ECU of this vehicle`);
    keyIds.add(keyId);
    return { serial: e.serial, hardwareId: e.hardwareId, key, keyId };
  });
  if (input.timeZone !== undefined && !validTimeZone(input.timeZone)) throw new ApiError('VALIDATION_FAILED', `timeZone: unknown time zone ${input.timeZone}`);
  if (!serials.has(input.primaryEcuSerial)) throw new ApiError('VALIDATION_FAILED', `the primary ECU ${input.primaryEcuSerial} is not among the ECUs`);
  const now = ctx.now();
  try {
    await ctx.db.kysely.transaction().execute(async (trx) => {
      if (await trx.selectFrom('vehicles').select('vin').where('vin', '=', input.vin).executeTakeFirst() !== undefined) {
        throw new ApiError('VEHICLE_EXISTS', `vehicle ${input.vin} already exists`);
      }
      const taken = await trx.selectFrom('ecus').select(['serial', 'key_id'])
        .where((eb) => eb.or([eb('serial', 'in', [...serials]), eb('key_id', 'in', [...keyIds])])).executeTakeFirst();
      if (taken !== undefined) {
        throw new ApiError('ECU_EXISTS', serials.has(taken.serial) ? `ECU ${taken.serial} is already registered` : 'an ECU with this public key is already registered', { serial: serials.has(taken.serial) ? taken.serial : undefined });
      }
      await trx.insertInto('vehicles').values({ vin: input.vin, model: input.model, primary_ecu_serial: input.primaryEcuSerial, created_at: now, last_seen_at: null, manifest_count: 0,
        model_year: input.modelYear ?? null, region: input.region ?? null, time_zone: input.timeZone ?? null }).execute();
      await trx.insertInto('ecus').values(ecus.map((e) => ({
        serial: e.serial, vin: input.vin, hardware_id: e.hardwareId, public_key: JSON.stringify(e.key.toJSON()), key_id: e.keyId,
        last_counter: null, installed_filename: null, installed_length: null, installed_sha256: null, installed_at: null,
      }))).execute();
    });
  } catch (err) {
    // A concurrent provisioning of the same VIN or serial won the race.
    if (isUniqueViolation(err)) throw new ApiError('VEHICLE_EXISTS', `vehicle ${input.vin} or one of its ECUs already exists`, undefined, { cause: err });
    throw err;
  }
  const directorRoot = JSON.parse((await latestDirectorRoot(ctx.db.kysely)).bytes.toString('utf8')) as unknown;
  return { vin: input.vin, directorRoot, imageRoot: await latestImageRoot(ctx.db.kysely) };
}

export async function listVehicles(ctx: ServerContext, limit: number, after?: string): Promise<VehicleRow[]> {
  let q = ctx.db.kysely.selectFrom('vehicles').selectAll();
  if (after !== undefined) q = q.where('vin', '>', after);
  return q.orderBy('vin').limit(limit).execute();
}

export interface VehicleDetail {
  readonly vehicle: VehicleRow;
  readonly ecus: Array<Selectable<EcuTable>>;
  readonly pending: AssignmentRow[];
}

export async function getVehicle(ctx: ServerContext, vin: string): Promise<VehicleDetail> {
  const q = ctx.db.kysely;
  const vehicle = await q.selectFrom('vehicles').selectAll().where('vin', '=', vin).executeTakeFirst();
  if (vehicle === undefined) throw new ApiError('VEHICLE_NOT_FOUND', `no vehicle ${vin}`);
  const ecus = await q.selectFrom('ecus').selectAll().where('vin', '=', vin).orderBy('serial').execute();
  const pending = await q.selectFrom('assignments').selectAll().where('vin', '=', vin).where('status', '=', 'pending').orderBy('id').execute();
  return { vehicle, ecus, pending };
}

export interface VehicleHistory {
  readonly history: Array<Selectable<EcuHistoryTable>>;
  readonly attacks: Array<Selectable<AttackReportTable>>;
}

/** Installed-image history (oldest first) and reported attacks, at most `limit` of each. */
export async function vehicleHistory(ctx: ServerContext, vin: string, limit: number): Promise<VehicleHistory> {
  const q = ctx.db.kysely;
  if (await q.selectFrom('vehicles').select('vin').where('vin', '=', vin).executeTakeFirst() === undefined) throw new ApiError('VEHICLE_NOT_FOUND', `no vehicle ${vin}`);
  const history = await q.selectFrom('ecu_history').selectAll().where('vin', '=', vin).orderBy('id').limit(limit).execute();
  const attacks = await q.selectFrom('attack_reports').selectAll().where('vin', '=', vin).orderBy('id').limit(limit).execute();
  return { history, attacks };
}

/**
 * The steady-state check-in on PostgreSQL, in two round trips where the locked check-in
 * (checkin.ts) takes eight: most check-ins of a fleet change nothing but the report counters.
 *
 * 1. One statement reads a snapshot (READ COMMITTED, no lock): the vehicle, its ECUs, its pending
 *    and scheduled assignments and its newest Director metadata (headsQuery).
 * 2. Every check of the locked check-in runs on that snapshot (verifyVehicleManifest: Uptane 2.1
 *    §5.4.2.1 signatures by the registered keys, counters that grow, known ECUs). The fast path
 *    applies only when the check-in would change nothing else: no ECU reports another image, no
 *    attack is reported, no pending assignment is completed, none is scheduled, and the Director
 *    metadata stay as they are (directorSteady: targets list exactly the pending assignments,
 *    timestamp fresh and signed after the newest root).
 * 3. One call, reflash_checkin_cas (migration 0008), writes all or nothing: the request's nonce
 *    (a replay changes nothing), each reported ECU's new counter provided its stored counter and
 *    key are still those verified against, and the vehicle's last check-in. If anything changed
 *    meanwhile (a concurrent check-in of the same vehicle, a new key) it raises RF001 and the
 *    caller runs the locked check-in, which decides on fresh rows under the lock.
 *
 * Whenever the fast path does not apply, or a check fails, `fastCheckIn` returns undefined and
 * the locked check-in runs (and reports the failure with its code, as always).
 */
import type { EcuVersionReportFields, VehicleManifest } from '@reflash/metadata';
import { Key } from '@reflash/metadata';
import { verifyVehicleManifest } from '@reflash/verify';
import type { ManifestSignatures, RegisteredEcu } from '@reflash/verify';
import { sql } from 'kysely';
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres';
import type { ServerContext } from '../context.js';
import { prepared } from '../db/prepared.js';
import { ApiError } from '../errors.js';
import type { AuthenticatedVehicle } from '../plugins/auth.js';
import type { DirectorFiles, DirectorSigners } from './director.js';
import { directorSteady, headsOf, headsQuery } from './director.js';

/**
 * Parsed ECU public keys by their stored JSON: parsing a key and deriving its identity costs more
 * than verifying a signature with it, and keys never change for an ECU. Bounded.
 */
const keyCache = new Map<string, Key>();
export function ecuKey(json: string): Key {
  let k = keyCache.get(json);
  if (k === undefined) {
    k = Key.fromJSON(JSON.parse(json));
    if (keyCache.size >= 100_000) keyCache.clear();
    keyCache.set(json, k);
  }
  return k;
}

/** Does the ECU now run the assigned image? Same length and the same sha256 (or sha512). */
export function installs(a: { length: number; sha256: string; sha512: string }, r: EcuVersionReportFields): boolean {
  const h = r.installedImage.hashes;
  if (r.installedImage.length !== a.length) return false;
  const s256 = h['sha256']?.toLowerCase();
  const s512 = h['sha512']?.toLowerCase();
  return s256 !== undefined ? s256 === a.sha256 : s512 === a.sha512;
}

/** The snapshot, in one statement (PostgreSQL JSON aggregation: four result shapes, one row). */
const snapshot = prepared<{ v1: string; v2: string; v3: string; v4: string; v5: string; v6: string }>()((db, p, dialect) => db.selectNoFrom([
  jsonObjectFrom(db.selectFrom('vehicles').select(['vin', 'primary_ecu_serial']).where('vin', '=', p.v1)).as('vehicle'),
  jsonArrayFrom(db.selectFrom('ecus')
    .select(['serial', 'hardware_id', 'public_key', 'key_id', 'last_counter', 'installed_filename', 'installed_length', 'installed_sha256'])
    .where('vin', '=', p.v2)).as('ecus'),
  jsonArrayFrom(db.selectFrom('assignments')
    .select(['id', 'ecu_serial', 'hardware_id', 'filename', 'length', 'sha256', 'sha512', 'release_counter', 'campaign_id', 'status'])
    .where('vin', '=', p.v3).where('status', 'in', ['pending', 'scheduled'])).as('open'),
  jsonArrayFrom(headsQuery(db, p.v4, p.v5, p.v6, dialect)).as('heads'),
]));

/** reflash_checkin_cas (migration 0008): 1 written, 0 a replayed nonce; raises RF001 if anything changed. */
const cas = prepared<{
  vin: string; primary: string; keyId: string; nonce: string; expires: number; now: number;
  serials: string[]; keyIds: string[]; old: Array<number | null>; next: number[];
}>()((db, p) => db.selectNoFrom(sql<number>`reflash_checkin_cas(${p.vin}, ${p.primary}, ${p.keyId}, ${p.nonce}, ${p.expires}, ${p.now}, ${p.serials}::text[], ${p.keyIds}::text[], ${p.old}::bigint[], ${p.next}::bigint[])`.as('ok')));

export interface SteadyCheckIn {
  readonly directorTargetsVersion: number;
  readonly pending: number;
  readonly director?: DirectorFiles;
}

/**
 * The steady-state check-in (see the file comment), PostgreSQL only; undefined when it does not
 * apply. `auth` is the request's signer: its nonce is recorded here when the check-in is.
 */
export async function fastCheckIn(
  ctx: ServerContext, manifest: VehicleManifest, signatures: ManifestSignatures, signers: DirectorSigners,
  auth: AuthenticatedVehicle, directorRoot: number | undefined,
): Promise<SteadyCheckIn | undefined> {
  const n = auth.nonce;
  if (ctx.db.dialect !== 'postgres' || n === undefined || n.recorded) return undefined;
  const vin = manifest.signed.vin;
  const row = await snapshot.first(ctx.db.kysely, { v1: vin, v2: vin, v3: vin, v4: vin, v5: vin, v6: vin });
  const vehicle = row?.vehicle;
  if (row === undefined || vehicle === null || vehicle === undefined) return undefined;
  const ecus = row.ecus;
  const open = row.open;
  if (open.some((a) => a.status !== 'pending')) return undefined;
  const bySerial = new Map(ecus.map((e) => [e.serial, e]));
  const registered = new Map<string, RegisteredEcu>(ecus.map((e) => [e.serial, {
    hardwareId: e.hardware_id, key: ecuKey(e.public_key), lastCounter: e.last_counter ?? undefined,
  }]));
  let verified;
  try {
    verified = verifyVehicleManifest(manifest, { vin, primaryEcuSerial: vehicle.primary_ecu_serial, ecus: registered }, { signatures });
  } catch {
    return undefined; // the locked check-in refuses it, with its code and metrics
  }
  if (verified.attacks.length > 0) return undefined;
  const serials: string[] = [];
  const keyIds: string[] = [];
  const old: Array<number | null> = [];
  const next: number[] = [];
  for (const [serial, r] of verified.reports) {
    const ecu = bySerial.get(serial)!;
    const img = r.installedImage;
    if (ecu.installed_filename !== img.filepath || ecu.installed_length !== img.length || ecu.installed_sha256 !== (img.hashes['sha256']?.toLowerCase() ?? '')) return undefined;
    serials.push(serial);
    keyIds.push(ecu.key_id);
    old.push(ecu.last_counter);
    next.push(r.reportCounter);
  }
  if (open.some((a) => {
    const r = verified.reports.get(a.ecu_serial);
    return r !== undefined && installs(a, r);
  })) return undefined;
  // headsQuery's bytes arrive inside JSON as PostgreSQL's bytea text, `\x<hex>`.
  const heads = headsOf((row.heads as unknown as Array<{ role: string; version: number; bytes: string | null; expires_at: number; created_at: number }>).map((h) => ({
    ...h, bytes: h.bytes === null ? Buffer.alloc(0) : Buffer.from(h.bytes.slice(2), 'hex'),
  })));
  if (!(await directorSteady(ctx.db.kysely, ctx, signers, vin, open, heads))) return undefined;
  if (directorRoot !== undefined && directorRoot < heads.root!.version) return undefined; // newer roots to send
  let ok: number | undefined;
  try {
    ok = (await cas.first(ctx.db.kysely, {
      vin, primary: vehicle.primary_ecu_serial, keyId: auth.keyId, nonce: n.nonce, expires: n.expiresAt, now: ctx.now(), serials, keyIds, old, next,
    }))?.ok;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'RF001') return undefined; // changed meanwhile: the locked check-in decides
    throw err;
  }
  if (ok === 0) throw new ApiError('REPLAYED_REQUEST');
  n.recorded = true;
  const { targets, snapshot: snap, timestamp } = heads;
  return {
    directorTargetsVersion: targets!.version,
    pending: open.length,
    ...(directorRoot === undefined ? {} : {
      director: {
        files: new Map([['timestamp.json', timestamp!.bytes], [`${snap!.version}.snapshot.json`, snap!.bytes], [`${targets!.version}.targets.json`, targets!.bytes]]),
        rootVersion: heads.root!.version,
        targetsVersion: targets!.version,
      },
    }),
  };
}

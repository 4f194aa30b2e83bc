/**
 * Inspection statements (R156 §7.1 / STANDARDS.md §5: "periodic technical inspection must be
 * able to identify the right versions"): the vehicle's last attested configuration (per ECU:
 * image, length, sha256, report counter) and its derived RXSWINs, as a c2sp.org/signed-note
 * signed with a dedicated Ed25519 inspection key. The key is created on first start, sealed with
 * the master key (the log key's mechanism, audit/keys.ts), and its verifier key is published at
 * GET /api/v1/inspect/key so the statement verifies offline (`reflash inspect verify`).
 *
 * Note text: `reflash-inspection/v1\n<canonical JSON statement>\n`.
 */
import { randomBytes } from 'node:crypto';
import { canonicalize } from '@reflash/metadata';
import { generateSigner, parseSignerKey, signNote } from '@reflash/log';
import type { NoteSigner } from '@reflash/log';
import type { ServerContext } from '../context.js';
import { withLock } from '../db/lock.js';
import { ApiError } from '../errors.js';
import { definitions, deriveRxswins } from './registry.js';
import type { DerivedRxswin } from './registry.js';

export const STATEMENT_HEADER = 'reflash-inspection/v1';
const ROW_ID = 'inspection';

export interface InspectionKey {
  readonly name: string;
  readonly verifierKey: string;
  readonly signer: NoteSigner;
}

const loaded = new WeakMap<ServerContext, Promise<InspectionKey>>();

/** The inspection key, created on first call (under a cross-process lock). Name: `<logOrigin>/inspection`. */
export function inspectionKey(ctx: ServerContext): Promise<InspectionKey> {
  let p = loaded.get(ctx);
  if (p === undefined) {
    p = load(ctx);
    loaded.set(ctx, p);
    p.catch(() => loaded.delete(ctx));
  }
  return p;
}

async function load(ctx: ServerContext): Promise<InspectionKey> {
  const db = ctx.db;
  const read = (): Promise<{ name: string; verifier_key: string; sealed_seed: string } | undefined> =>
    db.kysely.selectFrom('sums_keys').select(['name', 'verifier_key', 'sealed_seed']).where('id', '=', ROW_ID).executeTakeFirst();
  let row = await read();
  if (row === undefined) {
    row = await withLock(db, 'reflash:sums-keys', async () => {
      const again = await read();
      if (again !== undefined) return again;
      const name = `${ctx.config.logOrigin}/inspection`;
      const seed = randomBytes(32);
      const fresh = { name, verifier_key: generateSigner(name, seed).verifierKey, sealed_seed: ctx.keys.seal('inspection-seed', seed) };
      await db.kysely.insertInto('sums_keys').values({ id: ROW_ID, ...fresh, created_at: ctx.now() }).execute();
      return fresh;
    });
  }
  const signer = parseSignerKey(generateSigner(row.name, ctx.keys.unseal('inspection-seed', row.sealed_seed)).signerKey);
  if (signer.verifierKey !== row.verifier_key) throw new Error('the sealed inspection key does not match its stored verifier key');
  return { name: row.name, verifierKey: row.verifier_key, signer };
}

export interface InspectionStatement {
  readonly type: typeof STATEMENT_HEADER;
  readonly vin: string;
  readonly model: string;
  /** when the server issued the statement (ISO 8601 UTC) */
  readonly issuedAt: string;
  /** when the vehicle last checked in (ISO 8601 UTC), null if never */
  readonly lastSeenAt: string | null;
  readonly ecus: ReadonlyArray<{
    readonly serial: string;
    readonly hardwareId: string;
    readonly filename: string | null;
    readonly length: number | null;
    readonly sha256: string | null;
    readonly reportCounter: number | null;
    readonly installedAt: string | null;
  }>;
  readonly rxswins: readonly DerivedRxswin[];
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export async function inspectionStatement(ctx: ServerContext, vin: string): Promise<{ statement: InspectionStatement; note: string; verifierKey: string }> {
  const q = ctx.db.kysely;
  const vehicle = await q.selectFrom('vehicles').select(['model', 'last_seen_at']).where('vin', '=', vin).executeTakeFirst();
  if (vehicle === undefined) throw new ApiError('VEHICLE_NOT_FOUND', `no vehicle ${vin}`);
  const ecus = await q.selectFrom('ecus').select(['serial', 'hardware_id', 'installed_filename', 'installed_length', 'installed_sha256', 'last_counter', 'installed_at'])
    .where('vin', '=', vin).orderBy('serial').execute();
  const rxswins = deriveRxswins(await definitions(q, vehicle.model), ecus.map((e) => ({ serial: e.serial, hardwareId: e.hardware_id, filename: e.installed_filename, length: e.installed_length, sha256: e.installed_sha256 })));
  const statement: InspectionStatement = {
    type: STATEMENT_HEADER, vin, model: vehicle.model, issuedAt: new Date(ctx.now()).toISOString(), lastSeenAt: iso(vehicle.last_seen_at),
    ecus: ecus.map((e) => ({
      serial: e.serial, hardwareId: e.hardware_id, filename: e.installed_filename, length: e.installed_length, sha256: e.installed_sha256,
      reportCounter: e.last_counter, installedAt: iso(e.installed_at),
    })),
    rxswins,
  };
  const key = await inspectionKey(ctx);
  const note = signNote(`${STATEMENT_HEADER}\n${canonicalize(statement)}\n`, [key.signer]);
  return { statement, note, verifierKey: key.verifierKey };
}

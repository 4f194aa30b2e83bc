/**
 * Image-repository rows in `repo_metadata` (repo 'image', vin ''): every version of every role
 * is kept as the exact bytes served. Callers pass the Kysely handle to use: the pool, or the
 * transaction they are in (with SQLite a query outside an open transaction would wait for it).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export const IMAGE_REPO = 'image';
/** Roles the server signs or that have their own route; every other role name is a targets role. */
export const NON_TARGETS_ROLES: readonly string[] = ['root', 'snapshot', 'timestamp'];

export interface MetadataRow {
  readonly role: string;
  readonly version: number;
  readonly bytes: Buffer;
  readonly expiresAt: number;
  readonly createdAt: number;
}

type Q = Kysely<Database>;

function base(db: Q) {
  return db.selectFrom('repo_metadata').select(['role', 'version', 'bytes', 'expires_at', 'created_at'])
    .where('repo', '=', IMAGE_REPO).where('vin', '=', '');
}

function toRow(r: { role: string; version: number; bytes: Buffer; expires_at: number; created_at: number }): MetadataRow {
  return { role: r.role, version: Number(r.version), bytes: Buffer.from(r.bytes), expiresAt: Number(r.expires_at), createdAt: Number(r.created_at) };
}

/** The newest version of `role`, if any. */
export async function latestMetadata(db: Q, role: string): Promise<MetadataRow | undefined> {
  const r = await base(db).where('role', '=', role).orderBy('version', 'desc').limit(1).executeTakeFirst();
  return r === undefined ? undefined : toRow(r);
}

/** Version `version` of `role`, if stored. */
export async function metadataVersion(db: Q, role: string, version: number): Promise<MetadataRow | undefined> {
  const r = await base(db).where('role', '=', role).where('version', '=', version).executeTakeFirst();
  return r === undefined ? undefined : toRow(r);
}

/** Newest version number of `role`, or 0. */
export async function latestVersion(db: Q, role: string): Promise<number> {
  const r = await db.selectFrom('repo_metadata').select('version')
    .where('repo', '=', IMAGE_REPO).where('vin', '=', '').where('role', '=', role)
    .orderBy('version', 'desc').limit(1).executeTakeFirst();
  return r === undefined ? 0 : Number(r.version);
}

/** Rows for exact (role, version) pairs, fetched in batches. */
export async function metadataVersions(db: Q, wanted: ReadonlyArray<readonly [string, number]>): Promise<MetadataRow[]> {
  const out: MetadataRow[] = [];
  const BATCH = 200;
  for (let i = 0; i < wanted.length; i += BATCH) {
    const chunk = wanted.slice(i, i + BATCH);
    const rows = await base(db).where((eb) => eb.or(chunk.map(([role, version]) => eb.and([eb('role', '=', role), eb('version', '=', version)])))).execute();
    out.push(...rows.map(toRow));
  }
  return out;
}

export async function insertMetadata(db: Q, role: string, version: number, bytes: Uint8Array, expiresAt: number, now: number): Promise<void> {
  await db.insertInto('repo_metadata').values({
    repo: IMAGE_REPO, vin: '', role, version, bytes: Buffer.from(bytes), expires_at: expiresAt, created_at: now,
  }).execute();
}

/**
 * The Image repository's online roles: the server signs snapshot and timestamp (TUF 1.0 §4.5,
 * §4.6) with the online keys that the current root names, every time a targets role or the root
 * changes and, through the freshness job, before they expire.
 */
import { createHash } from 'node:crypto';
import { Metadata, MetaFile, SPEC_VERSION, Snapshot, Timestamp, checkThreshold, formatExpires } from '@reflash/metadata';
import type { Root, Signer } from '@reflash/metadata';
import type { Kysely } from 'kysely';
import type { ServerContext } from '../context.js';
import type { Database } from '../db/schema.js';
import { withLock } from '../db/lock.js';
import { ApiError } from '../errors.js';
import { insertMetadata, latestMetadata } from './image-repo-db.js';

export const ONLINE_ROLES = ['snapshot', 'timestamp'] as const;
export type ImageOnlineRole = (typeof ONLINE_ROLES)[number];
export type OnlineSigners = Readonly<Record<ImageOnlineRole, readonly Signer[]>>;

/** The lock that sequences every write to the Image repository, across processes. */
export const IMAGE_REPO_LOCK = 'image-repo';

/** How often the freshness job looks at the timestamp and snapshot (ms). */
export const REFRESH_INTERVAL_MS = 60_000;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** META for a metadata file: version, length and SHA-256 of the bytes served. */
export function metaFileOf(bytes: Uint8Array, version: number): MetaFile {
  return new MetaFile({ version, length: bytes.byteLength, hashes: { sha256: sha256Hex(bytes) } });
}

/** The server's online signers (of the given statuses) that `root` names for snapshot and timestamp. */
export async function onlineSigners(ctx: ServerContext, root: Root, statuses: ReadonlyArray<'active' | 'pending'> = ['active']): Promise<OnlineSigners> {
  const pick = async (role: ImageOnlineRole): Promise<Signer[]> => {
    const named = new Set(root.role(role).keyids);
    const all: Signer[] = [];
    for (const s of statuses) all.push(...(await ctx.keys.signers('image', role, s)));
    return all.filter((s) => named.has(s.keyId));
  };
  return { snapshot: await pick('snapshot'), timestamp: await pick('timestamp') };
}

function signChecked<T extends Snapshot | Timestamp>(root: Root, signed: T, signers: readonly Signer[]): Metadata<T> {
  const md = Metadata.of(signed, ...signers);
  // Never publish what clients would refuse: the online keys must meet the root's threshold.
  const r = checkThreshold(signed.type, root.keys, root.role(signed.type), md);
  if (!r.verified) throw new ApiError('INTERNAL', `the server holds ${r.signed.length} of the ${r.threshold} ${signed.type} keys the root requires`);
  return md;
}

export interface Published {
  readonly snapshotVersion: number;
  readonly timestampVersion: number;
}

/**
 * Sign and store a new snapshot (when `changed` is given: the previous META with these entries
 * replaced; or when `resignSnapshot`) and a new timestamp naming the newest snapshot. Runs in the
 * caller's transaction. Returns undefined when there is nothing to publish (no targets yet).
 */
export async function publishSnapshotAndTimestamp(
  trx: Kysely<Database>,
  ctx: ServerContext,
  root: Root,
  signers: OnlineSigners,
  opts: { changed?: ReadonlyMap<string, MetaFile>; resignSnapshot?: boolean },
): Promise<Published | undefined> {
  const now = ctx.now();
  const prevSnap = await latestMetadata(trx, 'snapshot');
  let snapBytes: Uint8Array;
  let snapVersion: number;
  if (opts.changed !== undefined || opts.resignSnapshot === true || prevSnap === undefined) {
    const meta = new Map(prevSnap === undefined ? [] : Metadata.fromBytes(prevSnap.bytes, 'snapshot').signed.meta);
    for (const [name, m] of opts.changed ?? []) meta.set(name, m);
    // TUF §4.5: a snapshot lists targets.json; before the first targets upload there is none.
    if (!meta.has('targets.json')) return undefined;
    snapVersion = (prevSnap?.version ?? 0) + 1;
    const snapshot = new Snapshot({ specVersion: SPEC_VERSION, version: snapVersion, expires: formatExpires(now + ctx.config.snapshotExpiryMs), meta });
    const md = signChecked(root, snapshot, signers.snapshot);
    snapBytes = md.toBytes();
    await insertMetadata(trx, 'snapshot', snapVersion, snapBytes, snapshot.expiresMs, now);
  } else {
    snapBytes = prevSnap.bytes;
    snapVersion = prevSnap.version;
  }
  const prevTs = await latestMetadata(trx, 'timestamp');
  const tsVersion = (prevTs?.version ?? 0) + 1;
  const timestamp = new Timestamp({
    specVersion: SPEC_VERSION, version: tsVersion, expires: formatExpires(now + ctx.config.timestampExpiryMs), snapshotMeta: metaFileOf(snapBytes, snapVersion),
  });
  const ts = signChecked(root, timestamp, signers.timestamp);
  await insertMetadata(trx, 'timestamp', tsVersion, ts.toBytes(), timestamp.expiresMs, now);
  return { snapshotVersion: snapVersion, timestampVersion: tsVersion };
}

function lessThanHalfLeft(row: { expiresAt: number; createdAt: number }, now: number): boolean {
  return row.expiresAt - now < (row.expiresAt - row.createdAt) / 2;
}

export interface RefreshResult {
  /** set when a new snapshot was signed */
  readonly snapshotVersion?: number;
  /** set when a new timestamp was signed */
  readonly timestampVersion?: number;
}

/**
 * The freshness job: when the current timestamp has less than half of its lifetime left, sign a
 * new one (and first a new snapshot when the snapshot has less than half of its lifetime left).
 * Safe to run from several processes: it runs under the Image-repository lock.
 */
export async function refreshImageRepo(ctx: ServerContext): Promise<RefreshResult> {
  return withLock(ctx.db, IMAGE_REPO_LOCK, async () => {
    const now = ctx.now();
    const rootRow = await latestMetadata(ctx.db.kysely, 'root');
    const tsRow = await latestMetadata(ctx.db.kysely, 'timestamp');
    const snapRow = await latestMetadata(ctx.db.kysely, 'snapshot');
    if (rootRow === undefined || tsRow === undefined || snapRow === undefined) return {};
    const resignSnapshot = lessThanHalfLeft(snapRow, now);
    if (!resignSnapshot && !lessThanHalfLeft(tsRow, now)) return {};
    const root = Metadata.fromBytes(rootRow.bytes, 'root').signed;
    const signers = await onlineSigners(ctx, root);
    const out = await ctx.db.kysely.transaction().execute((trx) => publishSnapshotAndTimestamp(trx, ctx, root, signers, { resignSnapshot }));
    if (out === undefined) return {};
    ctx.log.info({ snapshot: resignSnapshot ? out.snapshotVersion : undefined, timestamp: out.timestampVersion }, 'image repository re-signed before expiry');
    return resignSnapshot ? { snapshotVersion: out.snapshotVersion, timestampVersion: out.timestampVersion } : { timestampVersion: out.timestampVersion };
  });
}

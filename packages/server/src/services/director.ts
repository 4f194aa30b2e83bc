/**
 * The Director repository (Uptane 2.1 §5.2, §5.3): one shared root (repo 'director', vin '')
 * and, per vehicle, targets / snapshot / timestamp signed with the active Director online keys,
 * consistent snapshots, lifetime `config.directorExpiryMs`.
 *
 * Director targets list, for each pending assignment of the vehicle, the image file name with
 * the Image repository's length and hashes and `custom = {ecuIdentifiers: {<serial>:
 * {hardwareId}}, releaseCounter}` (§5.2.3.1.1). A new targets version (with a new snapshot and
 * timestamp) is signed only when that content changes; versions only grow. Every write happens
 * under the vehicle's row lock (services/vehicle-lock.ts): callers pass the transaction.
 */
import { createHash } from 'node:crypto';
import { MetaFile, Metadata, SPEC_VERSION, Snapshot, TargetFile, Targets, Timestamp, canonicalBytes, formatExpires, uptaneCustom } from '@reflash/metadata';
import type { Signer } from '@reflash/metadata';
import type { ServerContext } from '../context.js';
import { SIGNER_CACHE_MS } from './keys.js';
import type { Tx } from './vehicle-lock.js';
import { withVehicleLock } from './vehicle-lock.js';
import { campaignInfos } from '../campaigns/director-info.js';
import { prepared } from '../db/prepared.js';

export const DIRECTOR = 'director';

export interface DirectorSigners {
  readonly targets: readonly Signer[];
  readonly snapshot: readonly Signer[];
  readonly timestamp: readonly Signer[];
}

/**
 * The active Director signers. Read BEFORE opening a vehicle transaction: the key store queries
 * through the shared connection (see vehicle-lock.ts).
 */
export async function directorSigners(ctx: ServerContext): Promise<DirectorSigners> {
  const [targets, snapshot, timestamp] = await Promise.all([
    ctx.keys.signers('director', 'targets'), ctx.keys.signers('director', 'snapshot'), ctx.keys.signers('director', 'timestamp'),
  ]);
  for (const [role, s] of [['targets', targets], ['snapshot', snapshot], ['timestamp', timestamp]] as const) {
    if (s.length === 0) throw new Error(`no active Director ${role} key (was the server initialised?)`);
  }
  return { targets, snapshot, timestamp };
}

export interface StoredMetadata {
  readonly version: number;
  readonly bytes: Buffer;
  readonly expires_at: number;
  readonly created_at: number;
}

const latest = prepared<{ vin: string; role: string }>()((db, p) => db.selectFrom('repo_metadata')
  .select(['version', 'bytes', 'expires_at', 'created_at'])
  .where('repo', '=', DIRECTOR).where('vin', '=', p.vin).where('role', '=', p.role)
  .orderBy('version', 'desc').limit(1));

const byVersion = prepared<{ vin: string; role: string; version: number }>()((db, p) => db.selectFrom('repo_metadata')
  .select(['version', 'bytes', 'expires_at', 'created_at'])
  .where('repo', '=', DIRECTOR).where('vin', '=', p.vin).where('role', '=', p.role).where('version', '=', p.version));

/** The newest stored version of a Director role for `vin` ('' for the shared root). */
export async function latestDirectorMetadata(q: Tx, vin: string, role: string): Promise<StoredMetadata | undefined> {
  return latest.first(q, { vin, role });
}

export async function directorMetadataVersion(q: Tx, vin: string, role: string, version: number): Promise<StoredMetadata | undefined> {
  return byVersion.first(q, { vin, role, version });
}

/** The shared Director root (latest version); created by services/init.ts. */
export async function latestDirectorRoot(q: Tx): Promise<StoredMetadata> {
  const root = await latestDirectorMetadata(q, '', 'root');
  if (root === undefined) throw new Error('the Director root is missing (was the server initialised?)');
  return root;
}

export interface PendingRow {
  readonly id: number;
  readonly ecu_serial: string;
  readonly hardware_id: string;
  readonly filename: string;
  readonly length: number;
  readonly sha256: string;
  readonly sha512: string;
  readonly release_counter: number | null;
  /** the campaign that created it (its user information goes into custom.campaign) */
  readonly campaign_id?: string | null;
}

/**
 * What the vehicle's Director targets must list now: one entry per file, from pending
 * assignments (read here, or passed in by a caller that already read them in this transaction).
 */
export async function wantedTargets(q: Tx, vin: string, pending?: readonly PendingRow[]): Promise<Map<string, TargetFile>> {
  const rows = pending !== undefined ? [...pending].sort((a, b) => a.id - b.id) : await q.selectFrom('assignments')
    .select(['id', 'ecu_serial', 'hardware_id', 'filename', 'length', 'sha256', 'sha512', 'release_counter', 'campaign_id'])
    .where('vin', '=', vin).where('status', '=', 'pending').orderBy('id').execute();
  const byPath = new Map<string, { length: number; sha256: string; sha512: string; releaseCounter: number | null; campaignId: string | null; ecus: Record<string, { hardwareId: string }> }>();
  for (const r of rows) {
    // Two ECUs may be assigned the same file: one target naming both (ecuIdentifiers is a map).
    // A file name has one content in the Image repository, so the first row's file info holds.
    const e = byPath.get(r.filename) ?? { length: r.length, sha256: r.sha256, sha512: r.sha512, releaseCounter: r.release_counter, campaignId: r.campaign_id ?? null, ecus: {} };
    e.ecus = { ...e.ecus, ...Object.fromEntries([[r.ecu_serial, { hardwareId: r.hardware_id }]]) };
    byPath.set(r.filename, e);
  }
  // Campaign targets carry the user information and safety preconditions (custom.campaign).
  const campaigns = await campaignInfos(q, [...new Set([...byPath.values()].map((e) => e.campaignId).filter((x): x is string => x !== null))]);
  const out = new Map<string, TargetFile>();
  for (const [path, e] of byPath) {
    const campaign = e.campaignId === null ? undefined : campaigns.get(e.campaignId);
    out.set(path, new TargetFile({
      path,
      length: e.length,
      hashes: { sha256: e.sha256, sha512: e.sha512 },
      custom: uptaneCustom({ ecuIdentifiers: e.ecus, ...(e.releaseCounter === null ? {} : { releaseCounter: e.releaseCounter }) }, campaign === undefined ? {} : { campaign }),
    }));
  }
  return out;
}

function targetsContent(targets: ReadonlyMap<string, TargetFile>): string {
  return createHash('sha256').update(canonicalBytes(Object.fromEntries([...targets].map(([p, f]) => [p, f.toJSON()])))).digest('hex');
}

/**
 * SHA-256 of stored Director targets bytes -> the hash of their `targets` content, so that an
 * unchanged check-in does not re-parse the stored metadata. Keyed by the exact bytes, so it can
 * never describe other bytes (whatever another process or a rolled-back transaction did). Bounded.
 */
const contentCache = new Map<string, string>();
function rememberContent(bytes: Uint8Array, content: string): void {
  if (contentCache.size >= 100_000) contentCache.clear();
  contentCache.set(sha256(bytes), content);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function store(q: Tx, vin: string, md: Metadata, now: number): Promise<Buffer> {
  const bytes = Buffer.from(md.toBytes());
  await q.insertInto('repo_metadata').values({
    repo: DIRECTOR, vin, role: md.signed.type, version: md.signed.version, bytes, expires_at: md.signed.expiresMs, created_at: now,
  }).execute();
  return bytes;
}

async function writeTimestamp(q: Tx, ctx: ServerContext, signers: DirectorSigners, vin: string, snapshot: { version: number; bytes: Buffer }, now: number): Promise<void> {
  const prev = await latestDirectorMetadata(q, vin, 'timestamp');
  const ts = new Timestamp({
    specVersion: SPEC_VERSION,
    version: (prev?.version ?? 0) + 1,
    expires: formatExpires(now + ctx.config.directorExpiryMs),
    snapshotMeta: new MetaFile({ version: snapshot.version, length: snapshot.bytes.length, hashes: { sha256: sha256(snapshot.bytes) } }),
  });
  await store(q, vin, Metadata.of(ts, ...signers.timestamp), now);
}

export interface RegenerateResult {
  readonly targetsVersion: number;
  /** a new targets version was signed */
  readonly changed: boolean;
}

/**
 * Bring the vehicle's Director metadata in line with its pending assignments: when the wanted
 * targets differ from the newest signed ones (or there are none yet, or `force`), sign targets
 * v+1, snapshot v+1 and timestamp v+1. Call inside withVehicleLock.
 */
export async function regenerate(q: Tx, ctx: ServerContext, signers: DirectorSigners, vin: string, opts: { force?: boolean; pending?: readonly PendingRow[] } = {}): Promise<RegenerateResult> {
  const now = ctx.now();
  const wanted = await wantedTargets(q, vin, opts.pending);
  const wantedContent = targetsContent(wanted);
  const current = await latestDirectorMetadata(q, vin, 'targets');
  if (current !== undefined && opts.force !== true) {
    let have = contentCache.get(sha256(current.bytes));
    if (have === undefined) {
      have = targetsContent(Metadata.fromBytes(current.bytes, 'targets').signed.targets);
      rememberContent(current.bytes, have);
    }
    if (have === wantedContent) return { targetsVersion: current.version, changed: false };
  }
  const expires = formatExpires(now + ctx.config.directorExpiryMs);
  const targetsVersion = (current?.version ?? 0) + 1;
  const targetsBytes = await store(q, vin, Metadata.of(new Targets({ specVersion: SPEC_VERSION, version: targetsVersion, expires, targets: wanted }), ...signers.targets), now);
  const prevSnapshot = await latestDirectorMetadata(q, vin, 'snapshot');
  const snapshot = new Snapshot({
    specVersion: SPEC_VERSION,
    version: (prevSnapshot?.version ?? 0) + 1,
    expires,
    meta: new Map([['targets.json', new MetaFile({ version: targetsVersion, length: targetsBytes.length, hashes: { sha256: sha256(targetsBytes) } })]]),
  });
  const snapshotBytes = await store(q, vin, Metadata.of(snapshot, ...signers.snapshot), now);
  await writeTimestamp(q, ctx, signers, vin, { version: snapshot.version, bytes: snapshotBytes }, now);
  rememberContent(targetsBytes, wantedContent);
  return { targetsVersion, changed: true };
}

/** Less than half of the Director lifetime left: re-sign before serving (freeze attack, §5.4.4.4). */
function stale(ctx: ServerContext, row: StoredMetadata | undefined): boolean {
  return row === undefined || row.expires_at - ctx.now() < ctx.config.directorExpiryMs / 2;
}

/** When the Director keys last changed: the newest shared root (version, creation time), cached per database. */
const keysChanged = new WeakMap<object, { at: number; version: number; createdAt: number }>();
async function directorKeysChange(ctx: ServerContext): Promise<{ version: number; createdAt: number }> {
  const hit = keysChanged.get(ctx.db);
  if (hit !== undefined && Date.now() - hit.at < SIGNER_CACHE_MS) return hit;
  const root = await latestDirectorRoot(ctx.db.kysely);
  const v = { at: Date.now(), version: root.version, createdAt: root.created_at };
  keysChanged.set(ctx.db, v);
  return v;
}

/** Forget the cached key-change time (after a rotation in this process). */
export function forgetDirectorKeysChange(ctx: ServerContext): void {
  keysChanged.delete(ctx.db);
}

/**
 * Metadata stored before the newest Director root may be signed by a key that root retired:
 * after a rotation (root version > 1) a vehicle's targets, snapshot and timestamp are re-signed
 * once, on its next access. (Stored in the same millisecond as the rotation: the timestamp's
 * signatures decide.)
 */
function beforeKeyChange(row: StoredMetadata | undefined, change: { version: number; createdAt: number }, timestampSigners: readonly Signer[]): boolean {
  if (row === undefined || change.version === 1 || row.created_at > change.createdAt) return false;
  if (row.created_at < change.createdAt) return true;
  const ids = new Set(timestampSigners.map((s) => s.keyId));
  return ![...Metadata.fromBytes(row.bytes).signatures.keys()].some((k) => ids.has(k));
}

/**
 * Make sure the vehicle has Director metadata (v1 with empty targets on first use) and that its
 * timestamp has at least half its lifetime left; when the snapshot or targets are that old too,
 * or were stored before a key rotation, all three are re-signed (same content, new versions) so
 * the vehicle never sees them expire or signed by a retired key.
 */
export async function ensureFreshDirector(ctx: ServerContext, vin: string): Promise<StoredMetadata | undefined> {
  const ts = await latestDirectorMetadata(ctx.db.kysely, vin, 'timestamp');
  const change = await directorKeysChange(ctx);
  const signers = await directorSigners(ctx);
  if (!stale(ctx, ts) && !beforeKeyChange(ts, change, signers.timestamp)) return ts;
  await withVehicleLock(ctx.db, vin, async (trx) => {
    // Re-check under the lock: another request (or process) may have done it meanwhile.
    const timestamp = await latestDirectorMetadata(trx, vin, 'timestamp');
    const rotated = beforeKeyChange(timestamp, change, signers.timestamp);
    if (!stale(ctx, timestamp) && !rotated) return;
    const [targets, snapshot] = [await latestDirectorMetadata(trx, vin, 'targets'), await latestDirectorMetadata(trx, vin, 'snapshot')];
    if (timestamp === undefined || stale(ctx, targets) || stale(ctx, snapshot) || rotated) {
      await regenerate(trx, ctx, signers, vin, { force: targets !== undefined });
      return;
    }
    await writeTimestamp(trx, ctx, signers, vin, snapshot!, ctx.now());
  });
  return latestDirectorMetadata(ctx.db.kysely, vin, 'timestamp');
}

/** `N.root.json`, `root.json`, `timestamp.json`, `N.snapshot.json`, `N.targets.json`. */
export const DIRECTOR_FILE = /^(?:(?:(\d{1,10})\.)?(root|snapshot|targets)|(timestamp))\.json$/;

/** The bytes of a Director file for `vin`, or undefined when there is no such version. */
export async function readDirectorFile(ctx: ServerContext, vin: string, file: string): Promise<Buffer | undefined> {
  const m = DIRECTOR_FILE.exec(file);
  if (m === null) return undefined;
  const version = m[1] === undefined ? undefined : Number(m[1]);
  const role = m[2] ?? m[3]!;
  const owner = role === 'root' ? '' : vin;
  // The timestamp is what a vehicle polls: it is created on first use and kept fresh here.
  // Versioned snapshot/targets files are immutable once written: served as stored.
  if (role === 'timestamp') return (await ensureFreshDirector(ctx, vin))?.bytes;
  const q = ctx.db.kysely;
  const row = version === undefined ? await latestDirectorMetadata(q, owner, role) : await directorMetadataVersion(q, owner, role, version);
  return row?.bytes;
}

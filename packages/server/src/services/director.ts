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
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Dialect } from '../db/migrations.js';

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

/**
 * The newest targets, snapshot and timestamp of `vin` and the newest shared root's version, in
 * one statement (four index seeks, `union all`): what a check-in that answers with the
 * Director metadata reads (PUT /device/v1/manifest?directorRoot=N).
 */
/** The `heads` query (also part of the steady-state check-in's snapshot, checkin-fast.ts). */
export function headsQuery(db: Kysely<Database>, v1: string, v2: string, v3: string, dialect: Dialect) {
  const newest = (vin: string, role: string) => db.selectFrom('repo_metadata')
    .select(['role', 'version', 'bytes', 'expires_at', 'created_at'])
    .where('repo', '=', DIRECTOR).where('vin', '=', vin).where('role', '=', role)
    .orderBy('version', 'desc').limit(1);
  return db.selectFrom(newest(v1, 'targets').as('t')).selectAll()
    .unionAll(db.selectFrom(newest(v2, 'snapshot').as('s')).selectAll())
    .unionAll(db.selectFrom(newest(v3, 'timestamp').as('m')).selectAll())
    // The shared root's version and time only: its bytes are rarely needed (a rotation).
    .unionAll(db.selectFrom(db.selectFrom('repo_metadata').select(['role', 'version', sql<Buffer>`cast(null as ${sql.raw(dialect === 'postgres' ? 'bytea' : 'blob')})`.as('bytes'), 'expires_at', 'created_at'])
      .where('repo', '=', DIRECTOR).where('vin', '=', '').where('role', '=', 'root').orderBy('version', 'desc').limit(1).as('r')).selectAll());
}

const heads = prepared<{ v1: string; v2: string; v3: string }>()((db, p, dialect) => headsQuery(db, p.v1, p.v2, p.v3, dialect));

/** The newest Director metadata of one vehicle, and the newest shared root. */
export interface DirectorHeads {
  readonly targets?: StoredMetadata;
  readonly snapshot?: StoredMetadata;
  readonly timestamp?: StoredMetadata;
  /** the newest shared root's version and creation time */
  readonly root?: Pick<StoredMetadata, 'version' | 'created_at'>;
}

export async function directorHeads(q: Tx, vin: string): Promise<DirectorHeads> {
  return headsOf(await heads.all(q, { v1: vin, v2: vin, v3: vin }));
}

/** DirectorHeads from the rows of headsQuery. */
export function headsOf(rows: ReadonlyArray<{ role: string; version: number; bytes: Buffer; expires_at: number; created_at: number }>): DirectorHeads {
  const out: { -readonly [K in keyof DirectorHeads]: DirectorHeads[K] } = {};
  for (const r of rows) {
    if (r.role === 'targets' || r.role === 'snapshot' || r.role === 'timestamp') {
      out[r.role] = { version: r.version, bytes: r.bytes, expires_at: r.expires_at, created_at: r.created_at };
    } else if (r.role === 'root') {
      out.root = { version: r.version, created_at: r.created_at };
    }
  }
  return out;
}

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

/** Campaign user information by campaign id (custom.campaign of campaign targets). */
type CampaignInfos = Awaited<ReturnType<typeof campaignInfos>>;

/**
 * What the vehicle's Director targets must list now: its pending assignments (read here, or
 * passed in by a caller that already read them in this transaction), sorted, with the user
 * information of their campaigns.
 */
async function wantedRows(q: Tx, vin: string, pending?: readonly PendingRow[]): Promise<{ rows: PendingRow[]; campaigns: CampaignInfos }> {
  const rows = pending !== undefined ? [...pending].sort((a, b) => a.id - b.id) : await q.selectFrom('assignments')
    .select(['id', 'ecu_serial', 'hardware_id', 'filename', 'length', 'sha256', 'sha512', 'release_counter', 'campaign_id'])
    .where('vin', '=', vin).where('status', '=', 'pending').orderBy('id').execute();
  const ids = [...new Set(rows.map((r) => r.campaign_id ?? null).filter((x): x is string => x !== null))];
  return { rows, campaigns: await campaignInfos(q, ids) };
}

/**
 * Everything `wantedTargets` builds the targets from, as a string: equal strings give equal
 * targets, so the (costlier) canonical content is computed once per distinct input.
 */
function wantedKey(w: { rows: readonly PendingRow[]; campaigns: CampaignInfos }): string {
  return JSON.stringify([
    w.rows.map((r) => [r.filename, r.ecu_serial, r.hardware_id, r.length, r.sha256, r.sha512, r.release_counter, r.campaign_id ?? null]),
    [...w.campaigns].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);
}

/** The Director targets for `w`: one entry per file. */
function wantedTargets(w: { rows: readonly PendingRow[]; campaigns: CampaignInfos }): Map<string, TargetFile> {
  const byPath = new Map<string, { length: number; sha256: string; sha512: string; releaseCounter: number | null; campaignId: string | null; ecus: Record<string, { hardwareId: string }> }>();
  for (const r of w.rows) {
    // Two ECUs may be assigned the same file: one target naming both (ecuIdentifiers is a map).
    // A file name has one content in the Image repository, so the first row's file info holds.
    const e = byPath.get(r.filename) ?? { length: r.length, sha256: r.sha256, sha512: r.sha512, releaseCounter: r.release_counter, campaignId: r.campaign_id ?? null, ecus: {} };
    e.ecus = { ...e.ecus, ...Object.fromEntries([[r.ecu_serial, { hardwareId: r.hardware_id }]]) };
    byPath.set(r.filename, e);
  }
  // Campaign targets carry the user information and safety preconditions (custom.campaign).
  const out = new Map<string, TargetFile>();
  for (const [path, e] of byPath) {
    const campaign = e.campaignId === null ? undefined : w.campaigns.get(e.campaignId);
    out.set(path, new TargetFile({
      path,
      length: e.length,
      hashes: { sha256: e.sha256, sha512: e.sha512 },
      custom: uptaneCustom({ ecuIdentifiers: e.ecus, ...(e.releaseCounter === null ? {} : { releaseCounter: e.releaseCounter }) }, campaign === undefined ? {} : { campaign }),
    }));
  }
  return out;
}

/** wantedKey -> targetsContent of the targets it builds (bounded). */
const wantedContentCache = new Map<string, string>();

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
 * Do the signed targets `current` list exactly what the pending assignments want now? The
 * wanted content is computed once per distinct input (wantedKey), the stored one once per
 * distinct bytes (contentCache).
 */
async function compareTargets(q: Tx, vin: string, pending: readonly PendingRow[] | undefined, current: StoredMetadata | undefined): Promise<{ same: boolean; content: string; inputs: Awaited<ReturnType<typeof wantedRows>>; wanted?: Map<string, TargetFile> }> {
  const inputs = await wantedRows(q, vin, pending);
  const key = wantedKey(inputs);
  let wanted: Map<string, TargetFile> | undefined;
  let wantedContent = wantedContentCache.get(key);
  if (wantedContent === undefined) {
    wanted = wantedTargets(inputs);
    wantedContent = targetsContent(wanted);
    if (wantedContentCache.size >= 10_000) wantedContentCache.clear();
    wantedContentCache.set(key, wantedContent);
  }
  if (current === undefined) return { same: false, content: wantedContent, inputs, ...(wanted === undefined ? {} : { wanted }) };
  let have = contentCache.get(sha256(current.bytes));
  if (have === undefined) {
    have = targetsContent(Metadata.fromBytes(current.bytes, 'targets').signed.targets);
    rememberContent(current.bytes, have);
  }
  return { same: have === wantedContent, content: wantedContent, inputs, ...(wanted === undefined ? {} : { wanted }) };
}

/**
 * Bring the vehicle's Director metadata in line with its pending assignments: when the wanted
 * targets differ from the newest signed ones (or there are none yet, or `force`), sign targets
 * v+1, snapshot v+1 and timestamp v+1. Call inside withVehicleLock.
 */
export async function regenerate(q: Tx, ctx: ServerContext, signers: DirectorSigners, vin: string, opts: { force?: boolean; pending?: readonly PendingRow[]; heads?: DirectorHeads } = {}): Promise<RegenerateResult> {
  const now = ctx.now();
  // The caller may have read the newest targets in this transaction already (directorHeads).
  const current = opts.heads !== undefined ? opts.heads.targets : await latestDirectorMetadata(q, vin, 'targets');
  const cmp = await compareTargets(q, vin, opts.pending, current);
  if (current !== undefined && opts.force !== true && cmp.same) return { targetsVersion: current.version, changed: false };
  const inputs = cmp.inputs;
  const expires = formatExpires(now + ctx.config.directorExpiryMs);
  const targetsVersion = (current?.version ?? 0) + 1;
  const wanted = cmp.wanted ?? wantedTargets(inputs);
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
  rememberContent(targetsBytes, cmp.content);
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
  // Re-checked under the lock: another request (or process) may have done it meanwhile.
  await withVehicleLock(ctx.db, vin, async (trx) => freshen(trx, ctx, signers, vin, change, await directorHeads(trx, vin)));
  return latestDirectorMetadata(ctx.db.kysely, vin, 'timestamp');
}

/**
 * Under the vehicle's lock, given its newest metadata `h`: a timestamp with less than half its
 * lifetime left (or none yet) is re-signed; when the snapshot or targets are that old too, or
 * were stored before the key change `change`, all three are re-signed. True if anything was.
 */
async function freshen(trx: Tx, ctx: ServerContext, signers: DirectorSigners, vin: string, change: { version: number; createdAt: number }, h: DirectorHeads): Promise<boolean> {
  const rotated = beforeKeyChange(h.timestamp, change, signers.timestamp);
  if (!stale(ctx, h.timestamp) && !rotated) return false;
  if (h.timestamp === undefined || h.snapshot === undefined || stale(ctx, h.targets) || stale(ctx, h.snapshot) || rotated) {
    await regenerate(trx, ctx, signers, vin, { force: h.targets !== undefined });
  } else {
    await writeTimestamp(trx, ctx, signers, vin, h.snapshot, ctx.now());
  }
  return true;
}

/**
 * Would a locked check-in leave the vehicle's Director metadata `h` as they are? True when the
 * targets list exactly the pending assignments and the timestamp neither needs re-signing
 * (freshen: more than half its lifetime left, signed after the newest root) nor is missing.
 * The steady-state check-in (checkin-fast.ts) answers with `h` only then.
 */
export async function directorSteady(q: Tx, ctx: ServerContext, signers: DirectorSigners, vin: string, pending: readonly PendingRow[], h: DirectorHeads): Promise<boolean> {
  const { targets, snapshot, timestamp, root } = h;
  if (targets === undefined || snapshot === undefined || timestamp === undefined || root === undefined) return false;
  if (stale(ctx, timestamp) || beforeKeyChange(timestamp, { version: root.version, createdAt: root.created_at }, signers.timestamp)) return false;
  return (await compareTargets(q, vin, pending, targets)).same;
}

/** Most roots one check-in answer carries (a vehicle further behind fetches the rest). */
export const MAX_ANSWER_ROOTS = 32;

/** A vehicle's Director files as GET /repo/director/{vin}/{file} serves them, by file name. */
export interface DirectorFiles {
  /** `N.root.json` (each root newer than the vehicle's), `timestamp.json`, `V.snapshot.json`, `V.targets.json` */
  readonly files: Map<string, Buffer>;
  /** the newest Director root version (a vehicle asking for a later one would get 404) */
  readonly rootVersion: number;
  readonly targetsVersion: number;
}

/**
 * For a check-in that answers with the Director metadata (Uptane 2.1 §5.4.4.2 does not care how
 * the Primary obtains the metadata; it verifies them all the same): under the vehicle's lock,
 * after `regenerate`, its newest files, kept fresh exactly as GET timestamp.json keeps them
 * (`freshen`), and every root after `rootVersion` (the one the vehicle trusts), at most
 * MAX_ANSWER_ROOTS. `h` are the heads read in this transaction (undefined: read them now).
 */
export async function directorFilesUnderLock(trx: Tx, ctx: ServerContext, signers: DirectorSigners, vin: string, rootVersion: number, h?: DirectorHeads): Promise<DirectorFiles> {
  let heads = h ?? await directorHeads(trx, vin);
  const root = heads.root;
  if (root === undefined) throw new Error('the Director root is missing (was the server initialised?)');
  if (await freshen(trx, ctx, signers, vin, { version: root.version, createdAt: root.created_at }, heads)) heads = await directorHeads(trx, vin);
  const { targets, snapshot, timestamp } = heads;
  if (targets === undefined || snapshot === undefined || timestamp === undefined) throw new Error(`vehicle ${vin} has no Director metadata after regenerating it`);
  const files = new Map<string, Buffer>();
  for (let v = rootVersion + 1; v <= Math.min(root.version, rootVersion + MAX_ANSWER_ROOTS); v++) {
    const r = await directorMetadataVersion(trx, '', 'root', v);
    if (r === undefined) break;
    files.set(`${v}.root.json`, r.bytes);
  }
  files.set('timestamp.json', timestamp.bytes);
  files.set(`${snapshot.version}.snapshot.json`, snapshot.bytes);
  files.set(`${targets.version}.targets.json`, targets.bytes);
  return { files, rootVersion: root.version, targetsVersion: targets.version };
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

/**
 * Accepting offline-signed metadata into the Image repository (Uptane 2.1 §5.3: offline root
 * and targets keys, online snapshot and timestamp keys). The server verifies what a release
 * manager uploads exactly as a vehicle will (TUF 1.0 §5.3 root rotation, §5.6 targets and
 * delegations), refuses anything a client would refuse, then signs a new snapshot and
 * timestamp in the same transaction. Every write runs under one cross-process lock.
 */
import { Metadata, ReflashError, RepositoryError, checkThreshold, readUptaneCustom } from '@reflash/metadata';
import type { Root, TargetFile, Targets, VerificationResult } from '@reflash/metadata';
import { DEFAULT_LIMITS, verifyRootUpdate } from '@reflash/verify';
import type { ServerContext } from '../context.js';
import { withLock } from '../db/lock.js';
import { ApiError } from '../errors.js';
import { currentTargets } from './image-repo-current.js';
import { NON_TARGETS_ROLES, insertMetadata, latestMetadata, latestVersion } from './image-repo-db.js';
import { checkRootOnlineKeys, serverKeys } from './image-repo-keys.js';
import { IMAGE_REPO_LOCK, metaFileOf, onlineSigners, publishSnapshotAndTimestamp } from './image-repo-sign.js';
import { missingImages } from './image-store.js';
import { auditEvents } from '../audit/events.js';

export interface Accepted {
  readonly role: string;
  readonly version: number;
  /** versions signed by the server in the same transaction (absent before the first targets) */
  readonly snapshotVersion?: number;
  readonly timestampVersion?: number;
}

export interface AcceptedRoot extends Accepted {
  readonly activatedKeys: readonly string[];
  readonly retiredKeys: readonly string[];
}

function rejected(message: string, details?: unknown, options?: { cause?: unknown }): ApiError {
  return new ApiError('METADATA_REJECTED', message, details, options);
}

/** Parse uploaded metadata; anything malformed is BAD_METADATA (400). */
export function parseUpload(bytes: Uint8Array): Metadata {
  try {
    return Metadata.fromBytes(bytes);
  } catch (err) {
    if (err instanceof ReflashError) throw new ApiError('BAD_METADATA', err.message, { code: err.code }, { cause: err });
    throw err;
  }
}

function thresholdDetails(r: VerificationResult): Record<string, unknown> {
  return { role: r.roleName, threshold: r.threshold, signed: r.signed, missing: r.missing, invalid: r.invalid };
}

function unsigned(r: VerificationResult, what: string): ApiError {
  const bad = r.invalid.length > 0 ? `; ${r.invalid.length} signature(s) did not verify` : '';
  return rejected(`${what}: ${r.signed.length} of ${r.threshold} required signatures verified${bad}`, thresholdDetails(r));
}

function notExpired(ctx: ServerContext, md: Metadata, what: string): void {
  // TUF 5.3.10 / 5.6.5: a client refuses expired metadata, so the server does not publish it.
  if (md.signed.isExpired(ctx.now())) throw rejected(`${what} expired at ${md.signed.expires}`, { expires: md.signed.expires });
}

/** PUT /api/v1/image-repo/root: root v1 (self-signed) or N+1 (TUF 5.3.4-5.3.5). */
export async function acceptRoot(ctx: ServerContext, bytes: Uint8Array, by = 'system'): Promise<AcceptedRoot> {
  const parsed = parseUpload(bytes);
  if (parsed.signed.type !== 'root') throw new ApiError('BAD_METADATA', `expected root metadata, got ${parsed.signed.type}`);
  const md = parsed as Metadata<Root>;
  const root = md.signed;
  if (bytes.byteLength > DEFAULT_LIMITS.rootMaxLength) throw rejected(`root is ${bytes.byteLength} bytes; clients accept at most ${DEFAULT_LIMITS.rootMaxLength}`);
  return withLock(ctx.db, IMAGE_REPO_LOCK, async () => {
    const current = await latestMetadata(ctx.db.kysely, 'root');
    if (current === undefined) {
      if (root.version !== 1) throw rejected(`the first root must be version 1, got ${root.version}`, { expectedVersion: 1 });
      // TUF 5.2: a first root is trusted when a threshold of its own root keys signed it.
      const r = checkThreshold('root', root.keys, root.role('root'), md);
      if (!r.verified) throw unsigned(r, 'root v1 is not signed by a threshold of its own root keys');
    } else {
      if (root.version === 1) throw new ApiError('REPO_ALREADY_INITIALISED', `the Image repository already has root v${current.version}; upload version ${current.version + 1} signed by the old and new root keys`);
      const trusted = Metadata.fromBytes(current.bytes, 'root');
      try {
        // TUF 5.3.4-5.3.5: threshold of the old and of the new root keys, version N+1.
        verifyRootUpdate(trusted, bytes, DEFAULT_LIMITS.rootMaxLength);
      } catch (err) {
        if (!(err instanceof RepositoryError)) throw err;
        throw rejected(`root v${root.version} does not verify against root v${trusted.signed.version}: ${err.message}`, {
          code: err.code,
          expectedVersion: trusted.signed.version + 1,
          oldKeys: thresholdDetails(checkThreshold('root (old keys)', trusted.signed.keys, trusted.signed.role('root'), md)),
          newKeys: thresholdDetails(checkThreshold('root (new keys)', root.keys, root.role('root'), md)),
        }, { cause: err });
      }
    }
    notExpired(ctx, md, `root v${root.version}`);
    // The server serves consistent snapshots only (N.snapshot.json, hash-prefixed targets).
    if (root.consistentSnapshot !== true) throw rejected('root must set consistent_snapshot to true: the server serves versioned metadata and hash-prefixed images');
    const keys = await serverKeys(ctx.db);
    const report = checkRootOnlineKeys(root, keys);
    if (!report.ok) throw rejected(`root v${root.version} does not name the server's online keys correctly: ${report.problems.join('; ')}`, report);
    const signers = await onlineSigners(ctx, root, ['active', 'pending']);
    const named = new Set([...root.role('snapshot').keyids, ...root.role('timestamp').keyids]);
    const live = keys.filter((k) => (k.role === 'snapshot' || k.role === 'timestamp') && (k.status === 'active' || k.status === 'pending'));
    const activate = live.filter((k) => named.has(k.keyId) && k.status === 'pending').map((k) => k.keyId);
    // Active keys the root no longer names stop signing; pending keys not named yet stay pending.
    const retire = live.filter((k) => !named.has(k.keyId) && k.status === 'active').map((k) => k.keyId);
    const stored = md.toBytes();
    const now = ctx.now();
    const published = await ctx.db.kysely.transaction().execute(async (trx) => {
      await insertMetadata(trx, 'root', root.version, stored, root.expiresMs, now);
      if (activate.length > 0) await trx.updateTable('online_keys').set({ status: 'active' }).where('key_id', 'in', activate).execute();
      if (retire.length > 0) await trx.updateTable('online_keys').set({ status: 'retired' }).where('key_id', 'in', retire).execute();
      return publishSnapshotAndTimestamp(trx, ctx, root, signers, { resignSnapshot: true });
    });
    ctx.keys.invalidate();
    ctx.log.info({ version: root.version, activated: activate, retired: retire }, 'image repository root accepted');
    // Accountability log: one entry per role whose keys (or threshold) changed.
    const before = current === undefined ? undefined : Metadata.fromBytes(current.bytes, 'root').signed;
    for (const name of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
      const now = root.role(name);
      const old = before?.role(name);
      const added = now.keyids.filter((k) => !(old?.keyids.includes(k) ?? false));
      const removed = (old?.keyids ?? []).filter((k) => !now.keyids.includes(k));
      if (added.length === 0 && removed.length === 0 && old?.threshold === now.threshold) continue;
      await ctx.audit.append(auditEvents.keyRotation({ repo: 'image', role: name, rootVersion: root.version, added, removed, threshold: now.threshold, by }));
    }
    return { role: 'root', version: root.version, ...published, activatedKeys: activate, retiredKeys: retire };
  });
}

/** Is `role` a name a targets role may have (and not one of the server's own roles)? */
export function isTargetsRoleName(role: string): boolean {
  return !NON_TARGETS_ROLES.includes(role);
}

/**
 * PUT /api/v1/image-repo/metadata/{role}: top-level or delegated targets (TUF 5.6): version
 * current + 1, threshold of the root (or of every role delegating to it), unexpired, only
 * delegated paths, every listed image uploaded with the same length and hashes.
 */
export async function acceptTargets(ctx: ServerContext, role: string, bytes: Uint8Array, by = 'system'): Promise<Accepted> {
  if (!isTargetsRoleName(role)) throw rejected(`${role} is not a targets role: snapshot and timestamp are signed by the server, root has its own route`);
  const parsed = parseUpload(bytes);
  if (parsed.signed.type !== 'targets') throw new ApiError('BAD_METADATA', `expected targets metadata for role ${role}, got ${parsed.signed.type}`);
  const md = parsed as Metadata<Targets>;
  const t = md.signed;
  try {
    for (const tf of t.targets.values()) readUptaneCustom(tf);
  } catch (err) {
    if (err instanceof ReflashError) throw new ApiError('BAD_METADATA', err.message, { code: err.code }, { cause: err });
    throw err;
  }
  return withLock(ctx.db, IMAGE_REPO_LOCK, async () => {
    const rootRow = await latestMetadata(ctx.db.kysely, 'root');
    if (rootRow === undefined) throw new ApiError('REPO_NOT_INITIALISED', 'upload a root (PUT /api/v1/image-repo/root) first');
    const root = Metadata.fromBytes(rootRow.bytes, 'root').signed;
    const current = await currentTargets(ctx.db);
    // TUF 5.6.3 / Uptane 5.4.4.6 step 3: a threshold of the delegator's keys.
    let delegators: ReturnType<typeof current.delegators> = [];
    const signerKeyIds = new Set<string>();
    if (role === 'targets') {
      const r = checkThreshold('targets', root.keys, root.role('targets'), md);
      if (!r.verified) throw unsigned(r, `targets v${t.version} is not signed by a threshold of the root's targets keys`);
      for (const k of r.signed) signerKeyIds.add(k);
    } else {
      delegators = current.delegators(role);
      if (delegators.length === 0) throw rejected(`no current targets role delegates to ${role}: upload the delegating role first`, { role });
      for (const d of delegators) {
        const r = checkThreshold(role, d.keys, d.role, md);
        if (!r.verified) throw unsigned(r, `${role} v${t.version} is not signed by a threshold of the keys ${d.parent} delegates to it`);
        for (const k of r.signed) signerKeyIds.add(k);
      }
    }
    // Versions only grow by one: clients refuse rollback (TUF 5.5.5) and the snapshot names it.
    const expected = (await latestVersion(ctx.db.kysely, role)) + 1;
    if (t.version !== expected) throw rejected(`${role}: expected version ${expected}, got ${t.version}`, { expectedVersion: expected, version: t.version });
    notExpired(ctx, md, `${role} v${t.version}`);
    if (delegators.length > 0) {
      const outside = [...t.targets.keys()].filter((p) => !delegators.every((d) => d.covers(p)));
      if (outside.length > 0) {
        throw rejected(`${role} lists ${outside.length} target(s) outside the paths delegated to it`, { outside: outside.slice(0, 100), count: outside.length });
      }
    }
    const missing = await missingImages(ctx.db, t.targets.values());
    if (missing.length > 0) {
      throw new ApiError('IMAGE_NOT_UPLOADED', `${role} names ${missing.length} image(s) whose bytes were not uploaded with the same length and hashes: ${missing.slice(0, 5).map((m) => m.path).join(', ')}`, { missing: missing.slice(0, 100), count: missing.length });
    }
    const signers = await onlineSigners(ctx, root);
    const stored = md.toBytes();
    const now = ctx.now();
    const previousRow = await latestMetadata(ctx.db.kysely, role);
    const previous = previousRow === undefined ? new Map<string, TargetFile>() : Metadata.fromBytes(previousRow.bytes, 'targets').signed.targets;
    const published = await ctx.db.kysely.transaction().execute(async (trx) => {
      await insertMetadata(trx, role, t.version, stored, t.expiresMs, now);
      return publishSnapshotAndTimestamp(trx, ctx, root, signers, { changed: new Map([[`${role}.json`, metaFileOf(stored, t.version)]]) });
    });
    ctx.log.info({ role, version: t.version, targets: t.targets.size }, 'image repository targets accepted');
    // Accountability log: every image this version newly lists (or lists with other content).
    for (const tf of t.targets.values()) {
      const old = previous.get(tf.path);
      if (old !== undefined && old.sameFileAs(tf)) continue;
      const sha256 = tf.hashes['sha256'];
      if (sha256 === undefined) continue;
      await ctx.audit.append(auditEvents.imagePublished({
        filename: tf.path, length: tf.length,
        hashes: tf.hashes['sha512'] === undefined ? { sha256 } : { sha256, sha512: tf.hashes['sha512'] },
        hardwareIds: readUptaneCustom(tf).hardwareIds ?? [], role, version: t.version, signerKeyIds: [...signerKeyIds], by,
      }));
    }
    return { role, version: t.version, ...published };
  });
}

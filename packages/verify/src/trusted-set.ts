/**
 * One trusted set per repository (CONVENTIONS.md §2): takes raw bytes, verifies them, keeps
 * only verified metadata, is read-only from outside, and enforces the load order of the TUF 1.0
 * client workflow (§5.2 root, §5.3 root updates, §5.4 timestamp, §5.5 snapshot, §5.6 targets).
 * Uptane 2.1 §5.4.4.3-5.4.4.6 apply the same checks to both repositories.
 *
 * The reference time is fixed once per update cycle and injected (TUF 5.1).
 */
import {
  DownloadLengthError, Metadata, UsageError, checkLengthAndHashes, verifyThreshold,
} from '@reflash/metadata';
import type { MetaFile, Root, Snapshot, Targets, Timestamp } from '@reflash/metadata';
import { limits as makeLimits } from './config.js';
import type { Limits } from './config.js';
import {
  BadVersionError, DelegationError, EqualVersionError, ExpiredMetadataError, RollbackError,
} from './errors.js';

function checkSize(role: string, bytes: Uint8Array, max: number): void {
  // Uptane 4.3.3 endless data / TUF 5.3.3 "up to some W number of bytes"
  if (bytes.byteLength > max) throw new DownloadLengthError(`${role}: ${bytes.byteLength} bytes exceeds the limit of ${max}`);
}

/**
 * Verify `bytes` as root version N+1 of `trusted` (TUF 5.3.4, 5.3.5; Uptane 5.4.4.3 steps 2.3-2.5).
 * Expiry is not checked here (TUF 5.3.6): only the final root must be unexpired (5.3.10).
 */
export function verifyRootUpdate(trusted: Metadata<Root>, bytes: Uint8Array, maxLength: number): Metadata<Root> {
  checkSize('root', bytes, maxLength);
  const next = Metadata.fromBytes(bytes, 'root');
  // TUF 5.3.4: signed by a threshold of keys from the trusted root ...
  verifyThreshold('root (old keys)', trusted.signed.keys, trusted.signed.role('root'), next);
  // ... and by a threshold of keys from the new root itself.
  verifyThreshold('root (new keys)', next.signed.keys, next.signed.role('root'), next);
  // TUF 5.3.5: the version must be exactly N+1 (rollback or skipped version otherwise).
  if (next.signed.version !== trusted.signed.version + 1) {
    const E = next.signed.version <= trusted.signed.version ? RollbackError : BadVersionError;
    throw new E(`root: expected version ${trusted.signed.version + 1}, got ${next.signed.version}`);
  }
  return next;
}

export class TrustedMetadataSet {
  readonly referenceTime: number;
  readonly limits: Limits;
  #root: Metadata<Root>;
  #timestamp: Metadata<Timestamp> | undefined;
  #snapshot: Metadata<Snapshot> | undefined;
  readonly #targets = new Map<string, Metadata<Targets>>();

  /**
   * TUF 5.2: load the trusted root. It must be signed by a threshold of its own root keys; its
   * expiry does not matter yet.
   */
  constructor(rootBytes: Uint8Array, referenceTime: number, limits?: Partial<Limits>) {
    this.referenceTime = referenceTime;
    this.limits = makeLimits(limits);
    checkSize('root', rootBytes, this.limits.rootMaxLength);
    const root = Metadata.fromBytes(rootBytes, 'root');
    verifyThreshold('root', root.signed.keys, root.signed.role('root'), root);
    this.#root = root;
  }

  get root(): Metadata<Root> { return this.#root; }
  get timestamp(): Metadata<Timestamp> | undefined { return this.#timestamp; }
  get snapshot(): Metadata<Snapshot> | undefined { return this.#snapshot; }
  get targets(): Metadata<Targets> | undefined { return this.#targets.get('targets'); }
  getTargets(role: string): Metadata<Targets> | undefined { return this.#targets.get(role); }
  hasRole(role: string): boolean { return this.#targets.has(role); }

  /** TUF 5.3.4-5.3.7 (Uptane 5.4.4.3 step 2): one step of the root chain. */
  updateRoot(bytes: Uint8Array): Metadata<Root> {
    if (this.#timestamp !== undefined) throw new UsageError('cannot update root after timestamp (TUF 5.3 precedes 5.4)');
    this.#root = verifyRootUpdate(this.#root, bytes, this.limits.rootMaxLength);
    return this.#root;
  }

  /**
   * TUF 5.4 (Uptane 5.4.4.4). The final root must be unexpired first (5.3.10). A timestamp that
   * is expired is still kept as trusted, so that it protects against rollback of the next one,
   * and then ExpiredMetadataError is raised (freeze attack).
   */
  updateTimestamp(bytes: Uint8Array): Metadata<Timestamp> {
    if (this.#snapshot !== undefined) throw new UsageError('cannot update timestamp after snapshot (TUF 5.4 precedes 5.5)');
    // TUF 5.3.10 / Uptane 5.4.4.3 step 3: freeze attack on root.
    if (this.#root.signed.isExpired(this.referenceTime)) throw new ExpiredMetadataError(`root v${this.#root.signed.version} expired at ${this.#root.signed.expires}`);
    checkSize('timestamp', bytes, this.limits.timestampMaxLength);
    const ts = Metadata.fromBytes(bytes, 'timestamp');
    // TUF 5.4.2 / Uptane 5.4.4.4 step 2: threshold of timestamp keys from root.
    verifyThreshold('timestamp', this.#root.signed.keys, this.#root.signed.role('timestamp'), ts);
    const old = this.#timestamp;
    if (old !== undefined) {
      // TUF 5.4.3.1 / Uptane 5.4.4.4 step 3: version must not decrease; equal means nothing new.
      if (ts.signed.version < old.signed.version) throw new RollbackError(`timestamp: version ${ts.signed.version} < trusted ${old.signed.version}`);
      if (ts.signed.version === old.signed.version) throw new EqualVersionError(`timestamp: version ${ts.signed.version} unchanged`);
      // TUF 5.4.3.2: snapshot version named in timestamp META must not decrease.
      if (ts.signed.snapshotMeta.version < old.signed.snapshotMeta.version) {
        throw new RollbackError(`timestamp: snapshot version ${ts.signed.snapshotMeta.version} < trusted ${old.signed.snapshotMeta.version}`);
      }
    }
    this.#timestamp = ts;
    this.checkFinalTimestamp();
    return ts;
  }

  /** TUF 5.4.4 / Uptane 5.4.4.4 step 4: freeze attack on timestamp. */
  checkFinalTimestamp(): void {
    const ts = this.#timestamp;
    if (ts === undefined) throw new UsageError('no timestamp loaded');
    if (ts.signed.isExpired(this.referenceTime)) throw new ExpiredMetadataError(`timestamp v${ts.signed.version} expired at ${ts.signed.expires}`);
  }

  /**
   * TUF 5.5 (Uptane 5.4.4.5). `trusted` = bytes loaded from local storage that were verified in
   * an earlier cycle: their hashes are not checked against timestamp META (which may have
   * moved on), everything else is.
   */
  updateSnapshot(bytes: Uint8Array, trusted = false): Metadata<Snapshot> {
    const ts = this.#timestamp;
    if (ts === undefined) throw new UsageError('cannot update snapshot before timestamp (TUF 5.4 precedes 5.5)');
    if (this.#targets.size > 0) throw new UsageError('cannot update snapshot after targets (TUF 5.5 precedes 5.6)');
    this.checkFinalTimestamp();
    const meta = ts.signed.snapshotMeta;
    // A trusted local copy was sized against an earlier timestamp: only the configured limit
    // applies to it. Checking it against the new META length would drop it as the baseline of
    // the TUF 5.5.5 rollback checks whenever the new snapshot is shorter (e.g. a role removed).
    checkSize('snapshot', bytes, trusted ? this.limits.snapshotMaxLength : meta.length ?? this.limits.snapshotMaxLength);
    // TUF 5.5.2 / Uptane 5.4.4.5 step 2: hashes and length from timestamp META.
    if (!trusted) checkLengthAndHashes('snapshot', bytes, meta.length, meta.hashes);
    const snap = Metadata.fromBytes(bytes, 'snapshot');
    // TUF 5.5.3 / Uptane 5.4.4.5 step 3: threshold of snapshot keys from root.
    verifyThreshold('snapshot', this.#root.signed.keys, this.#root.signed.role('snapshot'), snap);
    const old = this.#snapshot;
    if (old !== undefined) {
      // TUF 5.5.5 / Uptane 5.4.4.5 steps 5-6: no targets file rolls back, none disappears.
      for (const [name, oldMeta] of old.signed.meta) {
        const m = snap.signed.meta.get(name);
        if (m === undefined) throw new RollbackError(`snapshot: ${name} was removed`);
        if (m.version < oldMeta.version) throw new RollbackError(`snapshot: ${name} version ${m.version} < trusted ${oldMeta.version}`);
      }
    }
    this.#snapshot = snap;
    this.checkFinalSnapshot();
    return snap;
  }

  /** TUF 5.5.4 + 5.5.6 / Uptane 5.4.4.5 steps 4 and 7. */
  checkFinalSnapshot(): void {
    const snap = this.#snapshot;
    const ts = this.#timestamp;
    if (snap === undefined || ts === undefined) throw new UsageError('no snapshot loaded');
    if (snap.signed.isExpired(this.referenceTime)) throw new ExpiredMetadataError(`snapshot v${snap.signed.version} expired at ${snap.signed.expires}`);
    if (snap.signed.version !== ts.signed.snapshotMeta.version) {
      throw new BadVersionError(`snapshot: version ${snap.signed.version} does not match timestamp META version ${ts.signed.snapshotMeta.version}`);
    }
  }

  /** Top-level targets (TUF 5.6, Uptane 5.4.4.6): delegated by root. */
  updateTargets(bytes: Uint8Array): Metadata<Targets> {
    return this.updateDelegatedTargets(bytes, 'targets', 'root');
  }

  /** META for `role` in the trusted snapshot, or a DelegationError. */
  metaFor(role: string): MetaFile {
    const snap = this.#snapshot;
    if (snap === undefined) throw new UsageError('cannot load targets before snapshot (TUF 5.5 precedes 5.6)');
    const meta = snap.signed.meta.get(`${role}.json`);
    if (meta === undefined) throw new DelegationError('DELEGATION_MISSING_META', `snapshot does not list ${role}.json`);
    return meta;
  }

  /** TUF 5.6.1-5.6.5 for `role`, delegated by `delegator` ("root" for top-level targets). */
  updateDelegatedTargets(bytes: Uint8Array, role: string, delegator: string): Metadata<Targets> {
    this.checkFinalSnapshot();
    const meta = this.metaFor(role);
    checkSize(role, bytes, meta.length ?? this.limits.targetsMaxLength);
    // TUF 5.6.2: hashes and length when snapshot META lists them.
    checkLengthAndHashes(role, bytes, meta.length, meta.hashes);
    const md = Metadata.fromBytes(bytes, 'targets');
    // TUF 5.6.3 / Uptane 5.4.4.6 step 3: threshold of the delegator's keys for this role.
    if (delegator === 'root') {
      verifyThreshold(role, this.#root.signed.keys, this.#root.signed.role('targets'), md);
    } else {
      const parent = this.#targets.get(delegator);
      if (parent === undefined) throw new UsageError(`delegator ${delegator} not loaded`);
      const d = parent.signed.delegations;
      const r = d?.role(role);
      if (d === undefined || r === undefined) throw new DelegationError('DELEGATION_NOT_DELEGATED', `${delegator} does not delegate to ${role}`);
      verifyThreshold(role, d.keys, r, md);
    }
    // TUF 5.6.4 / Uptane 5.4.4.6 steps 2 and 4: version as named in snapshot META (the snapshot
    // rollback check of 5.5.5 covers rollback of targets).
    if (md.signed.version !== meta.version) {
      throw new BadVersionError(`${role}: version ${md.signed.version} does not match snapshot META version ${meta.version}`);
    }
    // TUF 5.6.5 / Uptane 5.4.4.6 step 5: freeze attack.
    if (md.signed.isExpired(this.referenceTime)) throw new ExpiredMetadataError(`${role} v${md.signed.version} expired at ${md.signed.expires}`);
    this.#targets.set(role, md);
    return md;
  }
}

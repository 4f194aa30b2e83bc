/**
 * Repository-side helpers: build and sign a TUF/Uptane repository in memory with several keys
 * per role (thresholds), add and remove targets, delegate, bump versions and expiry, rotate the
 * root N -> N+1 (signed by the old and the new root keys). Used by the server, the CLI and the
 * repository simulator in tests. Pure: the caller supplies the time and persists the files.
 */
import { UsageError } from './errors.js';
import { DelegatedRole, Delegations, SuccinctRoles } from './delegations.js';
import type { Key, Signer } from './keys.js';
import { Metadata } from './metadata.js';
import { Root } from './root.js';
import { MetaFile, SPEC_VERSION, formatExpires } from './signed.js';
import type { CommonFields, RoleType, Signed } from './signed.js';
import { Role } from './signed.js';
import { TargetFile } from './targetfile.js';
import { Targets } from './targets.js';
import { Snapshot, Timestamp } from './timestamp.js';
import { createHash } from 'node:crypto';

/**
 * A role name as it appears in a URL or a file name: percent-encoded with nothing kept safe
 * (python-tuf `parse.quote(name, "")`), so "a/b" is one path segment "a%2Fb".
 */
export function encodeRole(role: string): string {
  return encodeURIComponent(role).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const DAY = 86_400_000;
export const DEFAULT_EXPIRY_MS: Readonly<Record<RoleType, number>> = { root: 365 * DAY, targets: 90 * DAY, snapshot: 7 * DAY, timestamp: DAY };

export function commonOf(s: Signed): CommonFields {
  return { specVersion: s.specVersion, version: s.version, expires: s.expires, unrecognized: s.unrecognized };
}

export interface RoleKeys {
  readonly signers: readonly Signer[];
  readonly threshold?: number;
}

export interface RepositoryOptions {
  readonly keys: Readonly<Record<RoleType, RoleKeys>>;
  readonly now: number;
  readonly consistentSnapshot?: boolean;
  readonly expiryMs?: Partial<Record<RoleType, number>>;
  /** List length and hashes of targets files in snapshot META (TUF §4.5 optional). Default false. */
  readonly snapshotMetaHashes?: boolean;
}

function keyMap(signers: readonly Signer[]): Map<string, Key> {
  return new Map(signers.map((s) => [s.keyId, s.key]));
}

function hashes(bytes: Uint8Array): Record<string, string> {
  return { sha256: createHash('sha256').update(bytes).digest('hex') };
}

export class RepositoryBuilder {
  now: number;
  readonly consistentSnapshot: boolean;
  readonly expiryMs: Record<RoleType, number>;
  readonly snapshotMetaHashes: boolean;
  /** Signers for every role, top-level and delegated. */
  readonly signers = new Map<string, Signer[]>();
  root: Metadata<Root>;
  timestamp!: Metadata<Timestamp>;
  snapshot!: Metadata<Snapshot>;
  readonly targets = new Map<string, Metadata<Targets>>();
  /** Published files by name (versioned and unversioned), like a static HTTP repository. */
  readonly files = new Map<string, Uint8Array>();
  /** Target bytes by path. */
  readonly targetData = new Map<string, Uint8Array>();
  readonly #dirty = new Set<string>();

  constructor(opts: RepositoryOptions) {
    this.now = opts.now;
    this.consistentSnapshot = opts.consistentSnapshot ?? true;
    this.expiryMs = { ...DEFAULT_EXPIRY_MS, ...opts.expiryMs };
    this.snapshotMetaHashes = opts.snapshotMetaHashes ?? false;
    const allKeys = new Map<string, Key>();
    const roles = new Map<RoleType, Role>();
    for (const r of ['root', 'timestamp', 'snapshot', 'targets'] as const) {
      const rk = opts.keys[r];
      this.signers.set(r, [...rk.signers]);
      for (const [id, k] of keyMap(rk.signers)) allKeys.set(id, k);
      roles.set(r, new Role(rk.signers.map((s) => s.keyId), rk.threshold ?? 1));
    }
    this.root = this.sign('root', new Root({ ...this.fresh('root', 1), consistentSnapshot: this.consistentSnapshot, keys: allKeys, roles }));
    this.targets.set('targets', this.sign('targets', new Targets({ ...this.fresh('targets', 1), targets: new Map() })));
    this.storeRoot();
    this.#dirty.add('targets');
    this.publish();
  }

  fresh(role: RoleType, version: number): CommonFields {
    return { specVersion: SPEC_VERSION, version, expires: formatExpires(this.now + this.expiryMs[role]) };
  }

  /** Sign `signed` with every signer of `role`. */
  sign<T extends Signed>(role: string, signed: T): Metadata<T> {
    const signers = this.signers.get(role);
    if (signers === undefined) throw new UsageError(`no signers for role ${role}`);
    return Metadata.of(signed, ...signers);
  }

  targetsOf(role = 'targets'): Metadata<Targets> {
    const t = this.targets.get(role);
    if (t === undefined) throw new UsageError(`no targets role ${role}`);
    return t;
  }

  /** Add (or replace) a target in `role`; published on the next publish(). */
  addTarget(path: string, data: Uint8Array, custom?: Readonly<Record<string, unknown>>, role = 'targets'): TargetFile {
    const tf = TargetFile.fromData(path, data, custom);
    this.targetData.set(path, data);
    this.putTargetFile(tf, role);
    return tf;
  }

  putTargetFile(tf: TargetFile, role = 'targets'): void {
    const old = this.targetsOf(role).signed;
    const targets = new Map(old.targets);
    targets.set(tf.path, tf);
    this.replaceTargets(role, new Targets({ ...commonOf(old), targets, delegations: old.delegations }));
  }

  removeTarget(path: string, role = 'targets'): void {
    const old = this.targetsOf(role).signed;
    const targets = new Map(old.targets);
    if (!targets.delete(path)) throw new UsageError(`no target ${path} in ${role}`);
    this.replaceTargets(role, new Targets({ ...commonOf(old), targets, delegations: old.delegations }));
  }

  /** Replace a targets role's content; it is signed (once) by the next publish(). */
  replaceTargets(role: string, t: Targets): void {
    this.targets.set(role, new Metadata(t));
    this.#dirty.add(role);
  }

  /** Delegate from `parent` to a new role with its own signers. */
  delegate(parent: string, role: { name: string; paths?: string[]; pathHashPrefixes?: string[]; terminating?: boolean; threshold?: number }, signers: readonly Signer[]): void {
    const old = this.targetsOf(parent).signed;
    const dr = new DelegatedRole({
      name: role.name,
      keyids: signers.map((s) => s.keyId),
      threshold: role.threshold ?? 1,
      terminating: role.terminating ?? false,
      paths: role.paths,
      pathHashPrefixes: role.pathHashPrefixes,
    });
    const prev = old.delegations;
    if (prev?.succinctRoles !== undefined) throw new UsageError(`${parent} already uses succinct roles`);
    const keys = new Map(prev?.keys ?? []);
    for (const [id, k] of keyMap(signers)) keys.set(id, k);
    const roles = [...(prev?.roles?.values() ?? [])].filter((r) => r.name !== role.name);
    roles.push(dr);
    this.replaceTargets(parent, new Targets({ ...commonOf(old), targets: old.targets, delegations: new Delegations({ keys, roles }) }));
    this.signers.set(role.name, [...signers]);
    if (!this.targets.has(role.name)) this.replaceTargets(role.name, new Targets({ ...this.fresh('targets', 1), targets: new Map() }));
  }

  /** TAP 15 succinct hash-bin delegation from `parent`: creates every bin role (empty). */
  delegateSuccinct(parent: string, bitLength: number, namePrefix: string, signers: readonly Signer[], threshold = 1): SuccinctRoles {
    const old = this.targetsOf(parent).signed;
    const sr = new SuccinctRoles({ keyids: signers.map((s) => s.keyId), threshold, bitLength, namePrefix });
    this.replaceTargets(parent, new Targets({ ...commonOf(old), targets: old.targets, delegations: new Delegations({ keys: keyMap(signers), succinctRoles: sr }) }));
    for (let b = 0; b < sr.numberOfBins; b++) {
      const name = sr.binName(b);
      this.signers.set(name, [...signers]);
      this.replaceTargets(name, new Targets({ ...this.fresh('targets', 1), targets: new Map() }));
    }
    return sr;
  }

  /**
   * Publish: every changed targets role gets version+1 (first publish keeps 1), then a new
   * snapshot listing all targets roles, then a new timestamp. Returns the new timestamp.
   */
  publish(): Metadata<Timestamp> {
    for (const role of this.#dirty) {
      const cur = this.targetsOf(role);
      const published = this.files.has(this.metaName(role, cur.signed.version));
      const version = published ? cur.signed.version + 1 : cur.signed.version;
      const t = new Targets({ ...commonOf(cur.signed), version, expires: formatExpires(this.now + this.expiryMs.targets), targets: cur.signed.targets, delegations: cur.signed.delegations });
      const md = this.sign(role, t);
      this.targets.set(role, md);
      this.storeMeta(role, md);
    }
    this.#dirty.clear();
    this.bumpSnapshot();
    return this.bumpTimestamp();
  }

  bumpSnapshot(): Metadata<Snapshot> {
    const meta = new Map<string, MetaFile>();
    for (const [role, md] of this.targets) {
      const bytes = this.files.get(this.metaName(role, md.signed.version));
      meta.set(`${role}.json`, this.snapshotMetaHashes && bytes !== undefined
        ? new MetaFile({ version: md.signed.version, length: bytes.byteLength, hashes: hashes(bytes) })
        : new MetaFile({ version: md.signed.version }));
    }
    const version = this.snapshot === undefined ? 1 : this.snapshot.signed.version + 1;
    this.snapshot = this.sign('snapshot', new Snapshot({ ...this.fresh('snapshot', version), meta }));
    this.storeMeta('snapshot', this.snapshot);
    return this.snapshot;
  }

  bumpTimestamp(): Metadata<Timestamp> {
    const bytes = this.files.get(this.metaName('snapshot', this.snapshot.signed.version))!;
    const version = this.timestamp === undefined ? 1 : this.timestamp.signed.version + 1;
    const snapshotMeta = new MetaFile({ version: this.snapshot.signed.version, length: bytes.byteLength, hashes: hashes(bytes) });
    this.timestamp = this.sign('timestamp', new Timestamp({ ...this.fresh('timestamp', version), snapshotMeta }));
    this.storeMeta('timestamp', this.timestamp);
    return this.timestamp;
  }

  /**
   * Root rotation N -> N+1 (TUF 5.3.4): the new root is signed by the old root keys (threshold
   * of the old root) and the new ones. `keys` replaces the signers of the named roles.
   */
  rotate(keys: Partial<Record<RoleType, RoleKeys>>, opts: { signWithOld?: boolean; signWithNew?: boolean } = {}): Metadata<Root> {
    const oldSigners = this.signers.get('root')!;
    const old = this.root.signed;
    const roles = new Map(old.roles);
    for (const [r, rk] of Object.entries(keys) as [RoleType, RoleKeys][]) {
      this.signers.set(r, [...rk.signers]);
      roles.set(r, new Role(rk.signers.map((s) => s.keyId), rk.threshold ?? 1));
    }
    const used = new Set([...roles.values()].flatMap((r) => r.keyids));
    const allKeys = new Map<string, Key>();
    for (const r of ['root', 'timestamp', 'snapshot', 'targets'] as const) {
      for (const s of this.signers.get(r)!) if (used.has(s.keyId)) allKeys.set(s.keyId, s.key);
    }
    const next = new Root({ ...commonOf(old), version: old.version + 1, expires: formatExpires(this.now + this.expiryMs.root), consistentSnapshot: old.consistentSnapshot, keys: allKeys, roles });
    const signers = [...(opts.signWithOld === false ? [] : oldSigners), ...(opts.signWithNew === false ? [] : this.signers.get('root')!)];
    const unique = [...new Map(signers.map((s) => [s.keyId, s])).values()];
    this.root = Metadata.of(next, ...unique);
    this.storeRoot();
    return this.root;
  }

  /** Re-sign the current timestamp/snapshot/targets with the current (possibly rotated) keys. */
  resignAll(): void {
    for (const role of this.targets.keys()) this.#dirty.add(role);
    this.publish();
  }

  metaName(role: string, version: number): string {
    const enc = encodeRole(role);
    if (role === 'timestamp') return 'timestamp.json';
    return this.consistentSnapshot || role === 'root' ? `${version}.${enc}.json` : `${enc}.json`;
  }

  storeMeta(role: string, md: Metadata): void {
    const bytes = md.toBytes();
    this.files.set(this.metaName(role, md.signed.version), bytes);
    this.files.set(`${encodeRole(role)}.json`, bytes);
  }

  storeRoot(): void {
    this.storeMeta('root', this.root);
  }

  /** The bytes served for a target path (hash-prefixed when consistent snapshots are on). */
  targetFileNames(path: string): string[] {
    const data = this.targetData.get(path);
    if (data === undefined) return [];
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash + 1);
    const base = path.slice(slash + 1);
    const names = [path];
    if (this.consistentSnapshot) {
      names.push(`${dir}${createHash('sha256').update(data).digest('hex')}.${base}`);
      names.push(`${dir}${createHash('sha512').update(data).digest('hex')}.${base}`);
    }
    return names;
  }
}

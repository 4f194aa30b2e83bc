/**
 * The current signed state of the Image repository's targets: the newest snapshot and, at the
 * versions it names, every targets role (top-level and delegated), parsed once per snapshot
 * version and cached per database. Used to find a role's delegators when it is uploaded and to
 * decide which images may be downloaded (only those listed in current signed metadata reachable
 * from the top-level targets: a role whose delegation was revoked no longer counts).
 */
import { Metadata } from '@reflash/metadata';
import type { DelegatedRole, Key, Role, Snapshot, SuccinctRoles, TargetFile, Targets } from '@reflash/metadata';
import type { Db } from '../db/connect.js';
import { latestMetadata, latestVersion, metadataVersions } from './image-repo-db.js';

export interface Delegator {
  /** the delegating role */
  readonly parent: string;
  /** keys of the parent's delegations */
  readonly keys: ReadonlyMap<string, Key>;
  /** keyids and threshold for the delegated role */
  readonly role: Role;
  /** is `path` delegated to the role by this parent? */
  covers(path: string): boolean;
}

export interface SignedTarget {
  readonly role: string;
  readonly target: TargetFile;
}

export class CurrentTargets {
  readonly snapshotVersion: number;
  readonly snapshot: Metadata<Snapshot> | undefined;
  readonly roles: ReadonlyMap<string, Metadata<Targets>>;
  #reachable: string[] | undefined;
  #byPath: Map<string, SignedTarget> | undefined;

  constructor(snapshot: Metadata<Snapshot> | undefined, roles: ReadonlyMap<string, Metadata<Targets>>) {
    this.snapshot = snapshot;
    this.snapshotVersion = snapshot?.signed.version ?? 0;
    this.roles = roles;
  }

  /** Roles reachable from top-level targets through delegations, breadth first, each once. */
  reachable(): readonly string[] {
    if (this.#reachable !== undefined) return this.#reachable;
    const order: string[] = [];
    const seen = new Set<string>();
    const queue = this.roles.has('targets') ? ['targets'] : [];
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (seen.has(name)) continue;
      seen.add(name);
      order.push(name);
      const d = this.roles.get(name)?.signed.delegations;
      if (d === undefined) continue;
      if (d.roles !== undefined) {
        for (const child of d.roles.keys()) if (this.roles.has(child) && !seen.has(child)) queue.push(child);
      } else if (d.succinctRoles !== undefined) {
        const sr = d.succinctRoles;
        for (const child of [...this.roles.keys()].sort()) if (sr.isDelegatedRole(child) && !seen.has(child)) queue.push(child);
      }
    }
    this.#reachable = order;
    return order;
  }

  /** Every reachable role that delegates to `role` (TUF 5.6.3: its keys sign for it). */
  delegators(role: string): Delegator[] {
    const out: Delegator[] = [];
    for (const parent of this.reachable()) {
      const d = this.roles.get(parent)!.signed.delegations;
      const r = d?.role(role);
      if (d === undefined || r === undefined) continue;
      const named: DelegatedRole | undefined = d.roles?.get(role);
      const succinct: SuccinctRoles | undefined = d.succinctRoles;
      out.push({
        parent,
        keys: d.keys,
        role: r,
        covers: (path) => (named !== undefined ? named.isDelegatedPath(path) : succinct?.roleForTarget(path) === role),
      });
    }
    return out;
  }

  /** The first reachable role (breadth first) that lists `path`. */
  find(path: string): SignedTarget | undefined {
    if (this.#byPath === undefined) {
      const m = new Map<string, SignedTarget>();
      for (const role of this.reachable()) {
        for (const [p, target] of this.roles.get(role)!.signed.targets) if (!m.has(p)) m.set(p, { role, target });
      }
      this.#byPath = m;
    }
    return this.#byPath.get(path);
  }
}

const cache = new WeakMap<Db, { version: number; value: Promise<CurrentTargets> }>();

async function load(db: Db): Promise<CurrentTargets> {
  const row = await latestMetadata(db.kysely, 'snapshot');
  if (row === undefined) return new CurrentTargets(undefined, new Map());
  const snapshot = Metadata.fromBytes(row.bytes, 'snapshot');
  const wanted: Array<[string, number]> = [];
  for (const [file, meta] of snapshot.signed.meta) wanted.push([file.slice(0, -'.json'.length), meta.version]);
  const roles = new Map<string, Metadata<Targets>>();
  for (const r of await metadataVersions(db.kysely, wanted)) roles.set(r.role, Metadata.fromBytes(r.bytes, 'targets'));
  return new CurrentTargets(snapshot, roles);
}

/** The current targets state (one cheap query when nothing changed since the last call). */
export async function currentTargets(db: Db): Promise<CurrentTargets> {
  const version = await latestVersion(db.kysely, 'snapshot');
  const hit = cache.get(db);
  if (hit !== undefined && hit.version === version) return hit.value;
  const value = load(db);
  cache.set(db, { version, value });
  try {
    const v = await value;
    // Another process may have published between the two queries: cache under what was read.
    if (v.snapshotVersion !== version) cache.set(db, { version: v.snapshotVersion, value });
    return v;
  } catch (err) {
    if (cache.get(db)?.value === value) cache.delete(db);
    throw err;
  }
}

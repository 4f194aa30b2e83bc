/**
 * Delegations (TUF 1.0 §4.5 "delegations"; TAP 15 succinct hash-bin delegations): who may sign
 * for which target paths.
 */
import { createHash } from 'node:crypto';
import { FormatError } from './errors.js';
import type { Key } from './keys.js';
import { matchesPathPattern } from './pathmatch.js';
import { keyMapJSON, parseKeyMap } from './root.js';
import { Role, TOP_LEVEL_ROLES, parseKeyids } from './signed.js';
import { expectArray, expectBoolean, expectHex, expectObject, expectString, expectUint, unrecognized, EMPTY } from './shape.js';
import type { JSONObject } from './shape.js';

export class DelegatedRole extends Role {
  readonly name: string;
  readonly terminating: boolean;
  readonly paths: readonly string[] | undefined;
  readonly pathHashPrefixes: readonly string[] | undefined;

  constructor(opts: {
    name: string;
    keyids: readonly string[];
    threshold: number;
    terminating: boolean;
    paths?: readonly string[] | undefined;
    pathHashPrefixes?: readonly string[] | undefined;
    unrecognized?: Readonly<Record<string, unknown>>;
  }) {
    super(opts.keyids, opts.threshold, opts.unrecognized ?? EMPTY);
    this.name = opts.name;
    this.terminating = opts.terminating;
    this.paths = opts.paths;
    this.pathHashPrefixes = opts.pathHashPrefixes;
    if (this.paths !== undefined && this.pathHashPrefixes !== undefined) {
      throw new FormatError(`delegated role ${this.name}: only one of paths and path_hash_prefixes may be set`);
    }
  }

  static override fromJSON(json: unknown, path: string): DelegatedRole {
    const o = expectObject(json, path);
    const strings = (v: unknown, p: string): string[] | undefined =>
      v === undefined ? undefined : expectArray(v, p).map((x, i) => expectString(x, `${p}[${i}]`));
    return new DelegatedRole({
      name: expectString(o['name'], `${path}.name`),
      keyids: parseKeyids(o['keyids'], `${path}.keyids`),
      threshold: expectUint(o['threshold'], `${path}.threshold`, 1),
      terminating: expectBoolean(o['terminating'], `${path}.terminating`),
      paths: strings(o['paths'], `${path}.paths`),
      pathHashPrefixes: strings(o['path_hash_prefixes'], `${path}.path_hash_prefixes`),
      unrecognized: unrecognized(o, ['name', 'keyids', 'threshold', 'terminating', 'paths', 'path_hash_prefixes']),
    });
  }

  /** Is `targetPath` delegated to this role? (TUF §4.5 paths / path_hash_prefixes.) */
  isDelegatedPath(targetPath: string): boolean {
    if (this.paths !== undefined) return this.paths.some((p) => matchesPathPattern(targetPath, p));
    if (this.pathHashPrefixes !== undefined) {
      const h = createHash('sha256').update(targetPath, 'utf8').digest('hex');
      return this.pathHashPrefixes.some((p) => h.startsWith(p));
    }
    return false;
  }

  override toJSON(): JSONObject {
    const out: JSONObject = { ...super.toJSON(), name: this.name, terminating: this.terminating };
    if (this.paths !== undefined) out['paths'] = [...this.paths];
    if (this.pathHashPrefixes !== undefined) out['path_hash_prefixes'] = [...this.pathHashPrefixes];
    return out;
  }
}

/** TAP 15: 2^bit_length bins named `<prefix>-<hex bin>`, all with the same keys and threshold. */
export class SuccinctRoles extends Role {
  readonly bitLength: number;
  readonly namePrefix: string;
  readonly numberOfBins: number;
  readonly suffixLength: number;

  constructor(opts: { keyids: readonly string[]; threshold: number; bitLength: number; namePrefix: string; unrecognized?: Readonly<Record<string, unknown>> }) {
    super(opts.keyids, opts.threshold, opts.unrecognized ?? EMPTY);
    if (!Number.isInteger(opts.bitLength) || opts.bitLength < 1 || opts.bitLength > 32) {
      throw new FormatError('succinct_roles.bit_length: expected 1..32');
    }
    this.bitLength = opts.bitLength;
    this.namePrefix = opts.namePrefix;
    this.numberOfBins = 2 ** opts.bitLength;
    this.suffixLength = (this.numberOfBins - 1).toString(16).length;
  }

  static override fromJSON(json: unknown, path: string): SuccinctRoles {
    const o = expectObject(json, path);
    return new SuccinctRoles({
      keyids: parseKeyids(o['keyids'], `${path}.keyids`),
      threshold: expectUint(o['threshold'], `${path}.threshold`, 1),
      bitLength: expectUint(o['bit_length'], `${path}.bit_length`, 1),
      namePrefix: expectString(o['name_prefix'], `${path}.name_prefix`),
      unrecognized: unrecognized(o, ['keyids', 'threshold', 'bit_length', 'name_prefix']),
    });
  }

  binName(bin: number): string {
    return `${this.namePrefix}-${bin.toString(16).padStart(this.suffixLength, '0')}`;
  }

  /** The bin of a target: the first 32 bits of SHA-256(path), shifted to bit_length bits. */
  roleForTarget(targetPath: string): string {
    const h = createHash('sha256').update(targetPath, 'utf8').digest();
    const bin = h.readUInt32BE(0) >>> (32 - this.bitLength);
    return this.binName(bin);
  }

  isDelegatedRole(name: string): boolean {
    const prefix = `${this.namePrefix}-`;
    if (!name.startsWith(prefix)) return false;
    const suffix = name.slice(prefix.length);
    if (suffix.length !== this.suffixLength || !/^[0-9a-f]+$/.test(suffix)) return false;
    return parseInt(suffix, 16) < this.numberOfBins;
  }

  override toJSON(): JSONObject {
    return { ...super.toJSON(), bit_length: this.bitLength, name_prefix: this.namePrefix };
  }
}

export class Delegations {
  readonly keys: ReadonlyMap<string, Key>;
  readonly roles: ReadonlyMap<string, DelegatedRole> | undefined;
  readonly succinctRoles: SuccinctRoles | undefined;
  readonly unrecognized: Readonly<Record<string, unknown>>;

  constructor(opts: { keys: ReadonlyMap<string, Key>; roles?: readonly DelegatedRole[] | undefined; succinctRoles?: SuccinctRoles | undefined; unrecognized?: Readonly<Record<string, unknown>> }) {
    this.keys = opts.keys;
    this.succinctRoles = opts.succinctRoles;
    this.unrecognized = opts.unrecognized ?? EMPTY;
    if ((opts.roles === undefined) === (opts.succinctRoles === undefined)) {
      throw new FormatError('delegations: exactly one of roles and succinct_roles must be set');
    }
    if (opts.roles !== undefined) {
      const m = new Map<string, DelegatedRole>();
      for (const r of opts.roles) {
        if ((TOP_LEVEL_ROLES as readonly string[]).includes(r.name)) throw new FormatError(`delegations: role name "${r.name}" is reserved`);
        if (m.has(r.name)) throw new FormatError(`delegations: role "${r.name}" listed twice`);
        m.set(r.name, r);
      }
      this.roles = m;
    } else this.roles = undefined;
  }

  static fromJSON(json: unknown, path = 'signed.delegations'): Delegations {
    const o = expectObject(json, path);
    const roles = o['roles'] === undefined ? undefined : expectArray(o['roles'], `${path}.roles`).map((r, i) => DelegatedRole.fromJSON(r, `${path}.roles[${i}]`));
    const succinct = o['succinct_roles'] === undefined ? undefined : SuccinctRoles.fromJSON(o['succinct_roles'], `${path}.succinct_roles`);
    const keys = parseKeyMap(o['keys'], `${path}.keys`);
    for (const id of keys.keys()) expectHex(id, `${path}.keys (key id)`);
    return new Delegations({ keys, roles, succinctRoles: succinct, unrecognized: unrecognized(o, ['keys', 'roles', 'succinct_roles']) });
  }

  /**
   * The child roles responsible for `targetPath`, in order (TUF 5.6.7.2), each with whether it
   * is terminating. Succinct roles yield exactly one bin, which is terminating.
   */
  *rolesForTarget(targetPath: string): Generator<{ name: string; terminating: boolean }> {
    if (this.roles !== undefined) {
      for (const r of this.roles.values()) if (r.isDelegatedPath(targetPath)) yield { name: r.name, terminating: r.terminating };
    } else if (this.succinctRoles !== undefined) {
      yield { name: this.succinctRoles.roleForTarget(targetPath), terminating: true };
    }
  }

  /** keyids + threshold for a delegated role name, or undefined if not delegated here. */
  role(name: string): Role | undefined {
    if (this.roles !== undefined) return this.roles.get(name);
    if (this.succinctRoles?.isDelegatedRole(name) === true) return this.succinctRoles;
    return undefined;
  }

  toJSON(): JSONObject {
    const out: JSONObject = { ...(this.unrecognized as JSONObject), keys: keyMapJSON(this.keys) };
    if (this.roles !== undefined) out['roles'] = [...this.roles.values()].map((r) => r.toJSON());
    if (this.succinctRoles !== undefined) out['succinct_roles'] = this.succinctRoles.toJSON();
    return out;
  }
}

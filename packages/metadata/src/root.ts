/** Root metadata (TUF 1.0 §4.3): trusted keys and the keyids/threshold of each top-level role. */
import { FormatError } from './errors.js';
import { Key } from './keys.js';
import { Role, Signed, parseCommon, TOP_LEVEL_ROLES } from './signed.js';
import type { CommonFields, RoleType } from './signed.js';
import { expectBoolean, expectObject } from './shape.js';
import type { JSONObject } from './shape.js';

export function parseKeyMap(v: unknown, path: string): Map<string, Key> {
  const o = expectObject(v, path);
  const keys = new Map<string, Key>();
  for (const id of Object.keys(o)) keys.set(id, Key.fromJSON(o[id], `${path}.${id}`));
  return keys;
}

export function keyMapJSON(keys: ReadonlyMap<string, Key>): JSONObject {
  return Object.fromEntries([...keys].map(([id, k]) => [id, k.toJSON()])); // own "__proto__" too
}

export class Root extends Signed {
  readonly type = 'root';
  readonly consistentSnapshot: boolean | undefined;
  readonly keys: ReadonlyMap<string, Key>;
  readonly roles: ReadonlyMap<RoleType, Role>;

  constructor(c: CommonFields & { consistentSnapshot?: boolean | undefined; keys: ReadonlyMap<string, Key>; roles: ReadonlyMap<RoleType, Role> }) {
    super(c);
    this.consistentSnapshot = c.consistentSnapshot;
    this.keys = c.keys;
    this.roles = c.roles;
    for (const r of TOP_LEVEL_ROLES) if (!this.roles.has(r)) throw new FormatError(`root: role "${r}" missing`);
  }

  static fromJSON(json: unknown): Root {
    const o = expectObject(json, 'signed');
    const common = parseCommon(o, 'root', ['consistent_snapshot', 'keys', 'roles']);
    const rolesObj = expectObject(o['roles'], 'signed.roles');
    const roles = new Map<RoleType, Role>();
    for (const name of Object.keys(rolesObj)) {
      if (!(TOP_LEVEL_ROLES as readonly string[]).includes(name)) throw new FormatError(`signed.roles: unknown role "${name}"`);
      roles.set(name as RoleType, Role.fromJSON(rolesObj[name], `signed.roles.${name}`));
    }
    return new Root({
      ...common,
      consistentSnapshot: o['consistent_snapshot'] === undefined ? undefined : expectBoolean(o['consistent_snapshot'], 'signed.consistent_snapshot'),
      keys: parseKeyMap(o['keys'], 'signed.keys'),
      roles,
    });
  }

  role(name: RoleType): Role {
    const r = this.roles.get(name);
    if (r === undefined) throw new FormatError(`root: role "${name}" missing`);
    return r;
  }

  toJSON(): JSONObject {
    const roles: JSONObject = {};
    for (const [n, r] of this.roles) roles[n] = r.toJSON();
    const out: JSONObject = { ...this.commonJSON(), keys: keyMapJSON(this.keys), roles };
    if (this.consistentSnapshot !== undefined) out['consistent_snapshot'] = this.consistentSnapshot;
    return out;
  }
}

/**
 * Which online keys a root uploaded to the Image repository may name. The server signs snapshot
 * and timestamp, so a root must name, for each of them, only keys the server holds for that role
 * (active, or pending: created to be rotated in) with the very same public key, enough of them to
 * meet the threshold; and root and targets (offline roles) must not use any server key.
 */
import type { Root } from '@reflash/metadata';
import { Key } from '@reflash/metadata';
import type { Db } from '../db/connect.js';
import { IMAGE_REPO } from './image-repo-db.js';
import { ONLINE_ROLES } from './image-repo-sign.js';
import type { ImageOnlineRole } from './image-repo-sign.js';

export interface ServerKey {
  readonly keyId: string;
  readonly role: string;
  readonly status: string;
  readonly key: Key;
  readonly createdAt: number;
}

export async function serverKeys(db: Db): Promise<ServerKey[]> {
  const rows = await db.kysely.selectFrom('online_keys').select(['key_id', 'role', 'status', 'public_json', 'created_at'])
    .where('repo', '=', IMAGE_REPO).orderBy('created_at').orderBy('key_id').execute();
  return rows.map((r) => ({ keyId: r.key_id, role: r.role, status: r.status, key: Key.fromJSON(JSON.parse(r.public_json)), createdAt: Number(r.created_at) }));
}

export interface OnlineRoleReport {
  readonly threshold: number;
  readonly named: readonly string[];
  /** named key ids the server does not hold (or holds only retired) */
  readonly unknown: readonly string[];
  /** named key ids the server holds for the other online role */
  readonly wrongRole: readonly string[];
  /** named key ids whose public key in the root differs from the server's */
  readonly keyMismatch: readonly string[];
  /** the server's usable keys for this role: what the root should name */
  readonly serverKeys: ReadonlyArray<{ keyId: string; status: string }>;
}

export interface OnlineKeyReport {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly roles: Readonly<Record<ImageOnlineRole, OnlineRoleReport>>;
  /** offline roles (root, targets) naming a server key */
  readonly offlineRolesUsingServerKeys: ReadonlyArray<{ role: string; keyId: string }>;
}

const short = (id: string): string => `${id.slice(0, 12)}…`;

export function checkRootOnlineKeys(root: Root, keys: readonly ServerKey[]): OnlineKeyReport {
  const problems: string[] = [];
  const usable = keys.filter((k) => k.status === 'active' || k.status === 'pending');
  const byId = new Map(usable.map((k) => [k.keyId, k]));
  const roles = {} as Record<ImageOnlineRole, OnlineRoleReport>;
  for (const role of ONLINE_ROLES) {
    const r = root.role(role);
    const unknown: string[] = [];
    const wrongRole: string[] = [];
    const keyMismatch: string[] = [];
    let good = 0;
    for (const id of r.keyids) {
      const mine = byId.get(id);
      if (mine === undefined) unknown.push(id);
      else if (mine.role !== role) wrongRole.push(id);
      else if (root.keys.get(id)?.identity() !== mine.key.identity()) keyMismatch.push(id);
      else good++;
    }
    const serverForRole = usable.filter((k) => k.role === role).map((k) => ({ keyId: k.keyId, status: k.status }));
    const want = serverForRole.map((k) => short(k.keyId)).join(', ') || 'none';
    if (unknown.length > 0) problems.push(`${role} names key(s) the server does not hold: ${unknown.map(short).join(', ')} (the server's ${role} keys: ${want})`);
    if (wrongRole.length > 0) problems.push(`${role} names the server's ${role === 'snapshot' ? 'timestamp' : 'snapshot'} key(s) ${wrongRole.map(short).join(', ')}`);
    if (keyMismatch.length > 0) problems.push(`${role} key(s) ${keyMismatch.map(short).join(', ')} have a public key other than the server's`);
    if (r.keyids.length === 0) problems.push(`${role} names no key (the server's ${role} keys: ${want})`);
    else if (unknown.length + wrongRole.length + keyMismatch.length === 0 && good < r.threshold) {
      problems.push(`${role} threshold ${r.threshold} exceeds the ${good} named key(s) the server can sign with`);
    }
    roles[role] = { threshold: r.threshold, named: [...r.keyids], unknown, wrongRole, keyMismatch, serverKeys: serverForRole };
  }
  const all = new Set(keys.map((k) => k.keyId));
  const offline: Array<{ role: string; keyId: string }> = [];
  for (const role of ['root', 'targets'] as const) {
    for (const id of root.role(role).keyids) if (all.has(id)) offline.push({ role, keyId: id });
  }
  for (const o of offline) problems.push(`${o.role} must use offline keys, but names the server's online key ${short(o.keyId)}`);
  return { ok: problems.length === 0, problems, roles, offlineRolesUsingServerKeys: offline };
}

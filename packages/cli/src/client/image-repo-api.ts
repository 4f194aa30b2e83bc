/**
 * The Image-repository part of the admin API (docs/SERVER-API.md "Image repository") as typed
 * calls: online keys, current role bytes, signed uploads, image info. Every key the server names
 * is re-identified here (key id = SHA-256 of its canonical JSON): a key id the server states is
 * checked, never trusted.
 */
import { Key, Metadata, expectArray, expectObject, expectString, expectUint, isObject } from '@reflash/metadata';
import type { Root, Targets } from '@reflash/metadata';
import type { AdminClient } from './admin.js';
import { encodePath } from './admin.js';
import { ApiClientError, readResponse } from './errors.js';

export type OnlineRole = 'snapshot' | 'timestamp';
export const ONLINE_ROLES: readonly OnlineRole[] = ['snapshot', 'timestamp'];

export interface OnlineKeySet {
  readonly active: readonly Key[];
  readonly pending: readonly Key[];
}

export type OnlineKeys = Readonly<Record<OnlineRole, OnlineKeySet>>;

/** One key entry: `{keyid|keyId, key|publicKey: <TUF key>}` or a bare TUF key (with an optional keyid). */
function parseKeyEntry(v: unknown, path: string): Key {
  const o = expectObject(v, path);
  const inner = o['key'] ?? o['publicKey'] ?? o['public_key'];
  const key = isObject(inner) ? Key.fromJSON(inner, `${path}.key`) : Key.fromJSON(
    Object.fromEntries(Object.entries(o).filter(([k]) => k === 'keytype' || k === 'scheme' || k === 'keyval')), path);
  const statedValue = o['keyid'] ?? o['keyId'] ?? o['key_id'];
  const stated = statedValue === undefined ? undefined : expectString(statedValue, `${path}.keyid`);
  if (stated !== undefined && stated !== key.keyId()) {
    throw new ApiClientError('BAD_RESPONSE', 0, `${path}: the server's key id ${stated} is not the id of the key it sent (${key.keyId()})`);
  }
  return key;
}

function parseKeyList(v: unknown, path: string): Key[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.map((e, i) => parseKeyEntry(e, `${path}[${i}]`));
  // { "<keyid>": <key entry> }
  const o = expectObject(v, path);
  return Object.keys(o).map((id) => {
    const entry = o[id];
    const k = parseKeyEntry(isObject(entry) && entry['keyid'] === undefined ? { ...entry, keyid: id } : entry, `${path}.${id}`);
    return k;
  });
}

/**
 * GET /api/v1/image-repo/online-keys. Accepted shapes: `{snapshot: {active, pending}, timestamp:
 * {...}}` (possibly under `roles` or `keys`), or a list `[{role, status, keyid, key}]` (possibly
 * under `keys`).
 */
export function parseOnlineKeys(json: unknown): OnlineKeys {
  const what = 'GET /api/v1/image-repo/online-keys';
  return readResponse(what, () => {
    let body: unknown = json;
    if (isObject(body) && body['snapshot'] === undefined) body = body['roles'] ?? body['keys'] ?? body;
    const out: Record<OnlineRole, { active: Key[]; pending: Key[] }> = { snapshot: { active: [], pending: [] }, timestamp: { active: [], pending: [] } };
    if (Array.isArray(body)) {
      expectArray(body, 'keys').forEach((e, i) => {
        const o = expectObject(e, `keys[${i}]`);
        const role = expectString(o['role'], `keys[${i}].role`);
        const status = expectString(o['status'], `keys[${i}].status`);
        if (role !== 'snapshot' && role !== 'timestamp') return;
        if (status !== 'active' && status !== 'pending') return;
        out[role][status].push(parseKeyEntry(o, `keys[${i}]`));
      });
      return out;
    }
    const o = expectObject(body, 'online keys');
    for (const role of ONLINE_ROLES) {
      const r = expectObject(o[role], role);
      out[role] = { active: parseKeyList(r['active'], `${role}.active`), pending: parseKeyList(r['pending'], `${role}.pending`) };
    }
    return out;
  });
}

export async function getOnlineKeys(client: AdminClient): Promise<OnlineKeys> {
  return parseOnlineKeys(await client.get('/api/v1/image-repo/online-keys'));
}

/** POST /api/v1/image-repo/online-keys: a new pending key for `role`. */
export async function createOnlineKey(client: AdminClient, role: OnlineRole): Promise<unknown> {
  return client.json('POST', '/api/v1/image-repo/online-keys', { role });
}

function rolePath(role: string): string {
  return `/api/v1/image-repo/metadata/${encodeURIComponent(role)}`;
}

/** Current bytes of a role, or undefined when the server has none (404). */
export async function getRoleBytes(client: AdminClient, role: string): Promise<Uint8Array | undefined> {
  try {
    return await client.getBytes(rolePath(role));
  } catch (err) {
    if (err instanceof ApiClientError && err.status === 404 && err.code !== 'REPO_NOT_INITIALISED') return undefined;
    throw err;
  }
}

export async function getRoot(client: AdminClient): Promise<Metadata<Root>> {
  const bytes = await getRoleBytes(client, 'root');
  if (bytes === undefined) throw new ApiClientError('REPO_NOT_INITIALISED', 409, 'the Image repository has no root yet: run `reflash image-repo init` first');
  return Metadata.fromBytes(bytes, 'root');
}

export async function getTargetsRole(client: AdminClient, role: string): Promise<Metadata<Targets> | undefined> {
  const bytes = await getRoleBytes(client, role);
  return bytes === undefined ? undefined : Metadata.fromBytes(bytes, 'targets');
}

export async function putRoot(client: AdminClient, md: Metadata<Root>): Promise<unknown> {
  return client.putJSONBytes('/api/v1/image-repo/root', md.toBytes());
}

export async function putRole(client: AdminClient, role: string, md: Metadata): Promise<unknown> {
  return client.putJSONBytes(rolePath(role), md.toBytes());
}

export interface ImageInfo {
  readonly filename: string;
  readonly length: number;
  readonly sha256: string;
  readonly sha512: string;
}

export function parseImageInfo(json: unknown, filename: string): ImageInfo {
  return readResponse(`image ${filename}`, () => {
    let o = expectObject(json, 'image');
    if (isObject(o['image'])) o = o['image'];
    const hashes = isObject(o['hashes']) ? o['hashes'] : o;
    const hex = (v: unknown, alg: string, len: number): string => {
      const s = expectString(v, `image.${alg}`).toLowerCase();
      if (!new RegExp(`^[0-9a-f]{${len}}$`).test(s)) throw new ApiClientError('BAD_RESPONSE', 0, `image ${filename}: ${alg} is not a ${alg} digest`);
      return s;
    };
    return {
      filename: typeof o['filename'] === 'string' ? o['filename'] : filename,
      length: expectUint(o['length'], 'image.length'),
      sha256: hex(hashes['sha256'], 'sha256', 64),
      sha512: hex(hashes['sha512'], 'sha512', 128),
    };
  });
}

export async function getImage(client: AdminClient, filename: string): Promise<ImageInfo> {
  return parseImageInfo(await client.get(`/api/v1/images/${encodePath(filename)}`), filename);
}

/**
 * Test helpers for the Image repository, playing the release officer with offline keys:
 * - `offlineKeys(n)`: new ed25519 signers (root, targets, supplier keys);
 * - `initImageRepo(h, { rootKeys, targetsKeys })`: root v1 naming the server's online keys;
 * - `uploadImage(h, path, bytes)` and `publishImage(h, path, bytes, { hardwareIds, releaseCounter })`:
 *   upload the bytes, then sign and upload the next version of targets (or of a delegated role)
 *   that lists them;
 * - `delegateRole(h, { name, paths, keys })`: top-level targets delegates to a supplier role;
 * - `rotateRoot(h, ...)`: root N+1 signed by the old and new root keys;
 * - `InjectFetcher` / `imageUpdater(h)`: a real @reflash/verify Updater against the served files.
 * The state (current root and the signers of every targets role) is kept per harness.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import {
  DelegatedRole, Delegations, DownloadLengthError, FetchError, Key, Metadata, Role, Root, SPEC_VERSION, TargetFile, Targets, formatExpires, generateSigner, uptaneCustom,
} from '@reflash/metadata';
import type { RoleType, Signer } from '@reflash/metadata';
import { Updater } from '@reflash/verify';
import type { Fetcher, MetadataStore } from '@reflash/verify';
import type { Harness } from './harness.js';

const DAY = 86_400_000;
export const ROOT_LIFETIME_MS = 365 * DAY;
export const TARGETS_LIFETIME_MS = 365 * DAY;

export interface ImageRepoState {
  /** the latest root the server accepted */
  root: Metadata<Root>;
  rootKeys: Signer[];
  /** signers by targets role ('targets' and delegated roles) */
  readonly roleSigners: Map<string, Signer[]>;
}

const states = new WeakMap<Harness, ImageRepoState>();

export function imageRepoState(h: Harness): ImageRepoState {
  const s = states.get(h);
  if (s === undefined) throw new Error('initImageRepo(h, ...) has not run for this harness');
  return s;
}

export function offlineKeys(n = 1): Signer[] {
  return Array.from({ length: n }, () => generateSigner('ed25519'));
}

export interface OnlineKeyInfo {
  readonly keyId: string;
  readonly key: Key;
}

/** The server's online keys (GET /api/v1/image-repo/online-keys). */
export async function onlineKeys(h: Harness): Promise<Record<'snapshot' | 'timestamp', { active: OnlineKeyInfo[]; pending: OnlineKeyInfo[] }>> {
  const r = await h.app.inject({ url: '/api/v1/image-repo/online-keys', headers: h.auth('auditor') });
  assert.equal(r.statusCode, 200, r.body);
  type Raw = Record<'snapshot' | 'timestamp', Record<'active' | 'pending', Array<{ keyId: string; key: unknown }>>>;
  const body = r.json<Raw>();
  const conv = (l: Array<{ keyId: string; key: unknown }>): OnlineKeyInfo[] => l.map((k) => ({ keyId: k.keyId, key: Key.fromJSON(k.key) }));
  return {
    snapshot: { active: conv(body.snapshot.active), pending: conv(body.snapshot.pending) },
    timestamp: { active: conv(body.timestamp.active), pending: conv(body.timestamp.pending) },
  };
}

/** Create a pending online key (POST /api/v1/image-repo/online-keys, admin). */
export async function createPendingKey(h: Harness, role: 'snapshot' | 'timestamp'): Promise<OnlineKeyInfo> {
  const r = await h.app.inject({ method: 'POST', url: '/api/v1/image-repo/online-keys', headers: h.auth('admin'), payload: { role } });
  assert.equal(r.statusCode, 201, r.body);
  const body = r.json<{ keyId: string; key: unknown }>();
  return { keyId: body.keyId, key: Key.fromJSON(body.key) };
}

export interface RootSpec {
  readonly version: number;
  readonly rootKeys: readonly Signer[];
  readonly targetsKeys: readonly Signer[];
  readonly snapshotKeys: readonly OnlineKeyInfo[];
  readonly timestampKeys: readonly OnlineKeyInfo[];
  readonly rootThreshold?: number;
  readonly targetsThreshold?: number;
  readonly snapshotThreshold?: number;
  readonly timestampThreshold?: number;
  /** default: now + 1 year */
  readonly expiresMs?: number;
  readonly consistentSnapshot?: boolean;
}

/** A root (unsigned) for the spec, with the given keys per role. */
export function buildRoot(h: Harness, s: RootSpec): Root {
  const keys = new Map<string, Key>();
  const roles = new Map<RoleType, Role>();
  const add = (role: RoleType, ks: ReadonlyArray<{ keyId: string; key: Key }>, threshold = 1): void => {
    for (const k of ks) keys.set(k.keyId, k.key);
    roles.set(role, new Role(ks.map((k) => k.keyId), threshold));
  };
  add('root', s.rootKeys, s.rootThreshold);
  add('targets', s.targetsKeys, s.targetsThreshold);
  add('snapshot', s.snapshotKeys, s.snapshotThreshold);
  add('timestamp', s.timestampKeys, s.timestampThreshold);
  return new Root({
    specVersion: SPEC_VERSION, version: s.version, expires: formatExpires(s.expiresMs ?? h.clock.now + ROOT_LIFETIME_MS),
    consistentSnapshot: s.consistentSnapshot ?? true, keys, roles,
  });
}

export async function putRoot(h: Harness, md: Metadata | Uint8Array): Promise<LightMyRequestResponse> {
  const payload = md instanceof Metadata ? Buffer.from(md.toBytes()) : Buffer.from(md);
  return h.app.inject({ method: 'PUT', url: '/api/v1/image-repo/root', headers: { ...h.auth('release-manager'), 'content-type': 'application/json' }, payload });
}

export async function putMetadata(h: Harness, role: string, md: Metadata | Uint8Array): Promise<LightMyRequestResponse> {
  const payload = md instanceof Metadata ? Buffer.from(md.toBytes()) : Buffer.from(md);
  return h.app.inject({
    method: 'PUT', url: `/api/v1/image-repo/metadata/${encodeURIComponent(role)}`, headers: { ...h.auth('release-manager'), 'content-type': 'application/json' }, payload,
  });
}

/** The current metadata of `role` (GET /api/v1/image-repo/metadata/{role}), if any. */
export async function currentMetadata(h: Harness, role: string): Promise<Metadata | undefined> {
  const r = await h.app.inject({ url: `/api/v1/image-repo/metadata/${encodeURIComponent(role)}`, headers: h.auth('auditor') });
  if (r.statusCode === 404) return undefined;
  assert.equal(r.statusCode, 200, r.body);
  return Metadata.fromBytes(r.rawPayload);
}

export async function currentTargetsOf(h: Harness, role: string): Promise<Targets | undefined> {
  const md = await currentMetadata(h, role);
  return md === undefined ? undefined : (md.signed as Targets);
}

export interface InitOptions {
  readonly rootKeys: readonly Signer[];
  readonly targetsKeys: readonly Signer[];
  readonly rootThreshold?: number;
  readonly targetsThreshold?: number;
}

/** Upload root v1 naming the server's active online keys; remembers the keys for later helpers. */
export async function initImageRepo(h: Harness, opts: InitOptions): Promise<ImageRepoState> {
  const online = await onlineKeys(h);
  const root = buildRoot(h, {
    version: 1, rootKeys: opts.rootKeys, targetsKeys: opts.targetsKeys, snapshotKeys: online.snapshot.active, timestampKeys: online.timestamp.active,
    ...(opts.rootThreshold === undefined ? {} : { rootThreshold: opts.rootThreshold }),
    ...(opts.targetsThreshold === undefined ? {} : { targetsThreshold: opts.targetsThreshold }),
  });
  const md = Metadata.of(root, ...opts.rootKeys);
  const r = await putRoot(h, md);
  assert.equal(r.statusCode, 200, r.body);
  const state: ImageRepoState = { root: md, rootKeys: [...opts.rootKeys], roleSigners: new Map([['targets', [...opts.targetsKeys]]]) };
  states.set(h, state);
  return state;
}

export interface RotateOptions {
  readonly rootKeys?: readonly Signer[];
  readonly targetsKeys?: readonly Signer[];
  readonly snapshotKeys?: readonly OnlineKeyInfo[];
  readonly timestampKeys?: readonly OnlineKeyInfo[];
  readonly signWithOld?: boolean;
  readonly signWithNew?: boolean;
}

/** Root N+1 (unsigned keys replaced as given), signed by the old and/or new root keys. */
export function nextRoot(h: Harness, o: RotateOptions = {}): { md: Metadata<Root>; rootKeys: Signer[]; targetsKeys: Signer[] } {
  const s = imageRepoState(h);
  const old = s.root.signed;
  const keysOf = (role: RoleType): OnlineKeyInfo[] => old.role(role).keyids.map((id) => ({ keyId: id, key: old.keys.get(id)! }));
  const rootKeys = [...(o.rootKeys ?? s.rootKeys)];
  const targetsKeys = [...(o.targetsKeys ?? s.roleSigners.get('targets')!)];
  const root = buildRoot(h, {
    version: old.version + 1, rootKeys, targetsKeys,
    snapshotKeys: o.snapshotKeys ?? keysOf('snapshot'), timestampKeys: o.timestampKeys ?? keysOf('timestamp'),
    rootThreshold: old.role('root').threshold > rootKeys.length ? rootKeys.length : old.role('root').threshold,
    targetsThreshold: Math.min(old.role('targets').threshold, targetsKeys.length),
  });
  const signers = [...(o.signWithOld === false ? [] : s.rootKeys), ...(o.signWithNew === false ? [] : rootKeys)];
  const unique = [...new Map(signers.map((k) => [k.keyId, k])).values()];
  return { md: Metadata.of(root, ...unique), rootKeys, targetsKeys };
}

/** Rotate the root to N+1 (must be accepted); the state follows. */
export async function rotateRoot(h: Harness, o: RotateOptions = {}): Promise<Metadata<Root>> {
  const { md, rootKeys, targetsKeys } = nextRoot(h, o);
  const r = await putRoot(h, md);
  assert.equal(r.statusCode, 200, r.body);
  const s = imageRepoState(h);
  s.root = md;
  s.rootKeys = rootKeys;
  s.roleSigners.set('targets', targetsKeys);
  return md;
}

/** PUT /api/v1/images/{path} with the whole body. */
export async function uploadImage(h: Harness, path: string, bytes: Uint8Array | Readable, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const isBuffer = bytes instanceof Uint8Array;
  return h.app.inject({
    method: 'PUT',
    url: `/api/v1/images/${path.split('/').map(encodeURIComponent).join('/')}`,
    headers: {
      ...h.auth('release-manager'),
      'content-type': 'application/octet-stream',
      ...(isBuffer ? { 'content-length': String(bytes.byteLength) } : {}),
      ...headers,
    },
    payload: isBuffer ? Buffer.from(bytes) : bytes,
  });
}

/** The next version of `role`'s targets (version + 1, or 1), with `change` applied to a copy. */
export async function nextTargets(
  h: Harness,
  role: string,
  change: (targets: Map<string, TargetFile>, delegations: Delegations | undefined) => Delegations | undefined | void,
): Promise<Targets> {
  const cur = await currentTargetsOf(h, role);
  const targets = new Map(cur?.targets ?? []);
  const changed = change(targets, cur?.delegations);
  return new Targets({
    specVersion: SPEC_VERSION, version: (cur?.version ?? 0) + 1, expires: formatExpires(h.clock.now + TARGETS_LIFETIME_MS),
    targets, delegations: changed === undefined ? cur?.delegations : changed,
  });
}

/** Sign `t` with the remembered signers of `role` (or `signers`) and upload it; must be accepted. */
export async function signAndPut(h: Harness, role: string, t: Targets, signers?: readonly Signer[]): Promise<Metadata<Targets>> {
  const keys = signers ?? imageRepoState(h).roleSigners.get(role);
  if (keys === undefined) throw new Error(`no signers known for role ${role}`);
  const md = Metadata.of(t, ...keys);
  const r = await putMetadata(h, role, md);
  assert.equal(r.statusCode, 200, r.body);
  return md;
}

export interface PublishOptions {
  readonly hardwareIds: readonly string[];
  readonly releaseCounter: number;
  /** the targets role that lists it (default 'targets') */
  readonly role?: string;
  readonly custom?: Readonly<Record<string, unknown>>;
}

/** Upload `bytes` as `path` and list it in the next signed version of `role`. */
export async function publishImage(h: Harness, path: string, bytes: Uint8Array, o: PublishOptions): Promise<TargetFile> {
  const up = await uploadImage(h, path, bytes);
  assert.ok(up.statusCode === 201 || up.statusCode === 200, up.body);
  const tf = TargetFile.fromData(path, bytes, uptaneCustom({ hardwareIds: o.hardwareIds, releaseCounter: o.releaseCounter }, o.custom));
  const role = o.role ?? 'targets';
  await signAndPut(h, role, await nextTargets(h, role, (targets) => { targets.set(path, tf); }));
  return tf;
}

export interface DelegateOptions {
  readonly name: string;
  readonly paths: readonly string[];
  readonly keys: readonly Signer[];
  readonly threshold?: number;
  readonly terminating?: boolean;
  /** default 'targets' */
  readonly parent?: string;
}

/** The parent (top-level targets by default) delegates `name` for `paths` to `keys`. */
export async function delegateRole(h: Harness, o: DelegateOptions): Promise<void> {
  const parent = o.parent ?? 'targets';
  const t = await nextTargets(h, parent, (_targets, prev) => {
    const keys = new Map(prev?.keys ?? []);
    for (const k of o.keys) keys.set(k.keyId, k.key);
    const roles = [...(prev?.roles?.values() ?? [])].filter((r) => r.name !== o.name);
    roles.push(new DelegatedRole({ name: o.name, keyids: o.keys.map((k) => k.keyId), threshold: o.threshold ?? 1, terminating: o.terminating ?? false, paths: [...o.paths] }));
    return new Delegations({ keys, roles });
  });
  await signAndPut(h, parent, t);
  imageRepoState(h).roleSigners.set(o.name, [...o.keys]);
}

// ---------------------------------------------------------------------------------------------
// A real TUF client against the served repository

/** Fetches `url` (a path on the app) through inject; 404 -> FetchError(404). */
export class InjectFetcher implements Fetcher {
  readonly fetched: string[] = [];
  constructor(readonly h: Harness, readonly headers: Record<string, string> = {}) {}

  async fetch(url: string, maxLength: number): Promise<Uint8Array> {
    this.fetched.push(url);
    const r = await this.h.app.inject({ url, headers: this.headers });
    if (r.statusCode !== 200) throw new FetchError(r.statusCode, `GET ${url}: ${r.statusCode}`);
    if (r.rawPayload.byteLength > maxLength) throw new DownloadLengthError(`${url}: ${r.rawPayload.byteLength} bytes exceeds ${maxLength}`);
    return r.rawPayload;
  }
}

export class MemoryStore implements MetadataStore {
  readonly files = new Map<string, Uint8Array>();
  load(role: string): Promise<Uint8Array | undefined> { return Promise.resolve(this.files.get(role)); }
  save(role: string, bytes: Uint8Array): Promise<void> { this.files.set(role, bytes); return Promise.resolve(); }
  remove(role: string): Promise<void> { this.files.delete(role); return Promise.resolve(); }
}

export const IMAGE_METADATA_BASE = '/repo/image/';
export const IMAGE_TARGETS_BASE = '/repo/image/targets/';

/**
 * An Updater for the served Image repository trusting `store`'s root (default: a new store
 * holding the served 1.root.json), at the harness time.
 */
export async function imageUpdater(h: Harness, store?: MetadataStore, referenceTime = h.clock.now): Promise<{ updater: Updater; store: MetadataStore; fetcher: InjectFetcher }> {
  const s = store ?? new MemoryStore();
  if (store === undefined) {
    const r = await h.app.inject({ url: `${IMAGE_METADATA_BASE}1.root.json` });
    assert.equal(r.statusCode, 200, r.body);
    await s.save('root', r.rawPayload);
  }
  const fetcher = new InjectFetcher(h);
  return { updater: new Updater({ metadataBaseUrl: IMAGE_METADATA_BASE, fetcher, store: s, referenceTime }), store: s, fetcher };
}

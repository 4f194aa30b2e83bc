/**
 * A real Reflash server in this process (@reflash/server startServer: SQLite in a temp folder,
 * 127.0.0.1 port 0) set up as a release officer and an operator would: an Image repository with
 * offline keys made here, release 2 of each ECU's firmware published, one vehicle provisioned
 * (its ECUs on disk with release 1 as factory image) and the release assigned.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Key, Metadata, Role, Root, SPEC_VERSION, TargetFile, Targets, formatExpires, generateSigner, uptaneCustom } from '@reflash/metadata';
import type { PrivateKeySigner, RoleType } from '@reflash/metadata';
import { defaults, startServer } from '@reflash/server';
import type { RunningServer } from '@reflash/server';
import { Ecu } from '../../src/ecu/ecu.js';
import { provisionEcu } from '../../src/ecu/provision.js';
import { Primary } from '../../src/primary/primary.js';
import { seededBytes } from './deterministic.js';

const DAY = 86_400_000;

export interface LiveEcu {
  readonly serial: string;
  readonly hardwareId: string;
  readonly v1: { readonly path: string; readonly data: Buffer };
  readonly v2: { readonly path: string; readonly data: Buffer };
}

export class LiveServer {
  private constructor(readonly dir: string, readonly server: RunningServer, readonly token: string) {}

  get url(): string {
    return this.server.url;
  }

  static async start(): Promise<LiveServer> {
    const dir = await mkdtemp(join(tmpdir(), 'reflash-live-'));
    const dataDir = join(dir, 'data');
    const server = await startServer({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), port: 0, logLevel: 'silent', sqliteSynchronous: 'normal' }, { env: {} });
    const token = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    return new LiveServer(dir, server, token);
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
    const isBytes = body instanceof Uint8Array;
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': isBytes ? 'application/octet-stream' : 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: isBytes ? body : JSON.stringify(body) }),
    });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }

  async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.request(method, path, body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${r.body.toString()}`);
    return r.body.byteLength === 0 ? undefined : JSON.parse(r.body.toString('utf8'));
  }

  /** Image repository with offline keys made here; release 2 of every hardware id published. */
  async publish(ecus: readonly LiveEcu[]): Promise<void> {
    const rootKey = generateSigner('ed25519');
    const targetsKey = generateSigner('ed25519');
    const online = await this.json('GET', '/api/v1/image-repo/online-keys') as Record<'snapshot' | 'timestamp', { active: Array<{ keyId: string; key: unknown }> }>;
    const keys = new Map<string, Key>();
    const roles = new Map<RoleType, Role>();
    const put = (role: RoleType, ks: ReadonlyArray<{ keyId: string; key: Key }>): void => {
      for (const k of ks) keys.set(k.keyId, k.key);
      roles.set(role, new Role(ks.map((k) => k.keyId), 1));
    };
    const own = (s: PrivateKeySigner): { keyId: string; key: Key } => ({ keyId: s.keyId, key: s.key });
    put('root', [own(rootKey)]);
    put('targets', [own(targetsKey)]);
    for (const r of ['snapshot', 'timestamp'] as const) put(r, online[r].active.map((k) => ({ keyId: k.keyId, key: Key.fromJSON(k.key) })));
    const root = new Root({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(Date.now() + 365 * DAY), consistentSnapshot: true, keys, roles });
    await this.json('PUT', '/api/v1/image-repo/root', JSON.parse(Buffer.from(Metadata.of(root, rootKey).toBytes()).toString('utf8')));
    const targets = new Map<string, TargetFile>();
    for (const e of ecus) {
      const r = await this.request('PUT', `/api/v1/images/${e.v2.path}`, e.v2.data, { 'content-length': String(e.v2.data.length) });
      assert.ok(r.status === 200 || r.status === 201, r.body.toString());
      const tf = TargetFile.fromData(e.v2.path, e.v2.data);
      targets.set(e.v2.path, new TargetFile({ path: e.v2.path, length: tf.length, hashes: tf.hashes, custom: uptaneCustom({ hardwareIds: [e.hardwareId], releaseCounter: 2 }) }));
    }
    const t = new Targets({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(Date.now() + 90 * DAY), targets });
    await this.json('PUT', '/api/v1/image-repo/metadata/targets', JSON.parse(Buffer.from(Metadata.of(t, targetsKey).toBytes()).toString('utf8')));
  }

  /** Provision a vehicle under `root` (ECU folders + Primary), register it, assign release 2. */
  async vehicle(root: string, vin: string, ecus: readonly LiveEcu[]): Promise<{ ecus: Ecu[]; primaryDir: string }> {
    const signers = ecus.map(() => generateSigner('ed25519'));
    const res = await this.json('POST', '/api/v1/vehicles', {
      vin, model: 'test', primaryEcuSerial: ecus[0]!.serial,
      ecus: ecus.map((e, i) => ({ serial: e.serial, hardwareId: e.hardwareId, publicKey: signers[i]!.key.toJSON() })),
    }) as { directorRoot: unknown; imageRoot: unknown };
    const director = Buffer.from(JSON.stringify(res.directorRoot));
    const image = Buffer.from(JSON.stringify(res.imageRoot));
    const out: Ecu[] = [];
    for (const [i, e] of ecus.entries()) {
      const dir = join(root, 'ecus', e.serial);
      await provisionEcu(dir, {
        serial: e.serial, hardwareId: e.hardwareId, verification: i === 0 ? 'full' : 'partial',
        factoryImage: { filepath: e.v1.path, data: e.v1.data, releaseCounter: 1 },
        directorRoot: director, imageRoot: image, secureTimeMs: Date.now(), signer: signers[i]!,
      });
      out.push(await Ecu.open(dir));
    }
    const primaryDir = join(root, 'primary');
    await Primary.provision(primaryDir, { director, image });
    await this.json('POST', '/api/v1/assignments', { vins: [vin], images: Object.fromEntries(ecus.map((e) => [e.hardwareId, e.v2.path])) });
    return { ecus: out, primaryDir };
  }

  async close(): Promise<void> {
    await this.server.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** ECUs `<vin>-e<i>` with hardware ids `<tag>-hw<i>` and release 1/2 images of `size` bytes. */
export function liveEcus(vin: string, tag: string, n: number, size: number): LiveEcu[] {
  return Array.from({ length: n }, (_, i) => {
    const hw = `${tag}-hw${i}`;
    return {
      serial: `${vin}-e${i}`, hardwareId: hw,
      v1: { path: `fw/${hw}-v1.bin`, data: seededBytes(tag, `${hw}/1`, 512) },
      v2: { path: `fw/${hw}-v2.bin`, data: seededBytes(tag, `${hw}/2`, size) },
    };
  });
}

/**
 * Offline signing against a stub of the server's Image-repository API (127.0.0.1, only the
 * routes these commands call): `image-repo init` and `rotate-root`, and `sign` with a
 * threshold of 2: the first officer's partially signed file, the second officer completing and
 * uploading it, a stale file refused, delegations to suppliers. Also the command line itself
 * (output, exit codes, error format) in a child process.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metadata, Role, Root, SPEC_VERSION, checkThreshold, formatExpires, generateSigner, readUptaneCustom } from '@reflash/metadata';
import type { Key, PrivateKeySigner, Targets } from '@reflash/metadata';
import { AdminClient } from '../src/client/admin.js';
import { ApiClientError } from '../src/client/errors.js';
import { captureOutput } from '../src/client/output.js';
import { initImageRepo, rotateRoot } from '../src/commands/image-repo.js';
import { Keystore } from '../src/commands/keystore.js';
import { signCommand } from '../src/commands/sign.js';
import type { SigningContext } from '../src/commands/sign.js';
import { TestServer } from './support/http.js';

const TOKEN = 'rft_stubstubstubstubstubstubstub';
const PASS = 'officer passphrase';
const NOW = Date.parse('2026-11-21T12:00:00Z');
const REFLASH = fileURLToPath(new URL('../../bin/reflash', import.meta.url));
const SHA256 = 'a'.repeat(64);
const SHA512 = 'b'.repeat(128);

/** The routes of docs/SERVER-API.md that the signing commands use, over in-memory state. */
class StubImageRepo {
  readonly roles = new Map<string, Uint8Array>();
  readonly uploads: Array<{ path: string; body: Buffer }> = [];
  readonly snapshotKey = generateSigner();
  readonly timestampKey = generateSigner();
  pendingTimestamp: PrivateKeySigner | undefined;

  reset(): void {
    this.roles.clear();
    this.uploads.length = 0;
    this.pendingTimestamp = undefined;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(body instanceof Uint8Array ? body : JSON.stringify(body));
      };
      const error = (status: number, code: string): void => send(status, { error: { code, message: code.toLowerCase() } });
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return error(401, 'UNAUTHENTICATED');
      const url = req.url ?? '';
      const body = Buffer.concat(chunks);
      const key = (s: PrivateKeySigner): unknown => ({ keyId: s.keyId, role: 'x', status: 'x', key: s.key.toJSON(), createdAt: '' });
      if (req.method === 'GET' && url === '/api/v1/image-repo/online-keys') {
        return send(200, {
          snapshot: { active: [key(this.snapshotKey)], pending: [] },
          timestamp: { active: [key(this.timestampKey)], pending: this.pendingTimestamp === undefined ? [] : [key(this.pendingTimestamp)] },
        });
      }
      const m = /^\/api\/v1\/image-repo\/metadata\/([^/]+)$/.exec(url);
      if (m !== null && req.method === 'GET') {
        const bytes = this.roles.get(decodeURIComponent(m[1]!));
        return bytes === undefined ? error(404, 'METADATA_NOT_FOUND') : send(200, bytes);
      }
      if ((m !== null && req.method === 'PUT') || (req.method === 'PUT' && url === '/api/v1/image-repo/root')) {
        const role = m === null ? 'root' : decodeURIComponent(m[1]!);
        this.uploads.push({ path: url, body });
        const md = Metadata.fromBytes(body);
        this.roles.set(role, body);
        return send(200, { role, version: md.signed.version });
      }
      const img = /^\/api\/v1\/images\/(.+)$/.exec(url);
      if (img !== null && req.method === 'GET') {
        return send(200, { filename: decodeURIComponent(img[1]!), length: 1234, hashes: { sha256: SHA256, sha512: SHA512 } });
      }
      return error(404, 'NOT_FOUND');
    });
  };
}

/** A root naming `root` and `targets` keys with thresholds, and the stub's online keys. */
function rootWith(stub: StubImageRepo, version: number, rootKeys: readonly Key[], rootThreshold: number, targetsKeys: readonly Key[], targetsThreshold: number): Root {
  const keys = new Map<string, Key>();
  for (const k of [...rootKeys, ...targetsKeys, stub.snapshotKey.key, stub.timestampKey.key]) keys.set(k.keyId(), k);
  const ids = (ks: readonly Key[]): string[] => ks.map((k) => k.keyId());
  return new Root({
    specVersion: SPEC_VERSION, version, expires: formatExpires(NOW + 365 * 86_400_000), consistentSnapshot: true, keys,
    roles: new Map([
      ['root', new Role(ids(rootKeys), rootThreshold)], ['targets', new Role(ids(targetsKeys), targetsThreshold)],
      ['snapshot', new Role([stub.snapshotKey.keyId], 1)], ['timestamp', new Role([stub.timestampKey.keyId], 1)],
    ]),
  });
}

function run(args: readonly string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [REFLASH, ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new Error(`reflash did not run to completion: ${err.message}`, { cause: err }));
        return;
      }
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

void describe('reflash sign and image-repo (offline keys)', () => {
  const stub = new StubImageRepo();
  let server: TestServer;
  let dir: string;
  let ks: Keystore;
  const names = ['root1', 'root2', 'targets1', 'targets2', 'supplier'];
  const keys = new Map<string, Key>();

  const context = (): SigningContext & { out: ReturnType<typeof captureOutput> } => ({
    client: new AdminClient({ baseUrl: server.origin, token: TOKEN }),
    keystore: ks,
    passphrase: () => Promise.resolve(PASS),
    allowTest: false,
    now: NOW,
    out: captureOutput(),
  });

  /** Root v1 (targets: threshold 2 of targets1, targets2) and empty targets v1 on the stub. */
  const initialise = async (): Promise<void> => {
    await initImageRepo(context(), { rootKeys: ['root1', 'root2'], rootThreshold: 2, targetsKeys: ['targets1', 'targets2'], targetsThreshold: 2 });
    stub.uploads.length = 0;
  };

  before(async () => {
    server = await TestServer.start(stub.handle);
    dir = await mkdtemp(join(tmpdir(), 'reflash-sign-'));
    ks = new Keystore(join(dir, 'keys'));
    for (const n of names) keys.set(n, (await ks.generate(n, { passphrase: PASS })).key);
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => stub.reset());

  void it('image-repo init: root v1 names offline and online keys, self-signed; then empty targets v1', async () => {
    await initImageRepo(context(), { rootKeys: ['root1', 'root2'], rootThreshold: 2, targetsKeys: ['targets1', 'targets2'], targetsThreshold: 2 });
    assert.deepEqual(stub.uploads.map((u) => u.path), ['/api/v1/image-repo/root', '/api/v1/image-repo/metadata/targets']);
    const root = Metadata.fromBytes(stub.uploads[0]!.body, 'root');
    assert.equal(root.signed.version, 1);
    assert.equal(root.signed.consistentSnapshot, true);
    assert.deepEqual(root.signed.role('snapshot').keyids, [stub.snapshotKey.keyId]);
    assert.deepEqual(root.signed.role('timestamp').keyids, [stub.timestampKey.keyId]);
    assert.deepEqual(root.signed.role('targets').keyids, [keys.get('targets1')!.keyId(), keys.get('targets2')!.keyId()]);
    assert.ok(checkThreshold('root', root.signed.keys, root.signed.role('root'), root).verified);
    const targets = Metadata.fromBytes(stub.uploads[1]!.body, 'targets');
    assert.equal(targets.signed.version, 1);
    assert.equal(targets.signed.targets.size, 0);
    assert.ok(checkThreshold('targets', root.signed.keys, root.signed.role('targets'), targets).verified);
  });

  void it('sign: below the threshold writes the partial file; a second signer completes and uploads it', async () => {
    await initialise();
    const partial = join(dir, 'targets.partial.json');
    const first = context();
    const r1 = await signCommand({ ...first, keystore: ks }, { role: 'targets', keys: ['targets1'], adds: [{ path: 'ecu/brake.bin', hardwareIds: ['brake-hw'] }], out: partial });
    assert.deepEqual(r1, { uploaded: false, missing: 1 });
    assert.equal(stub.uploads.length, 0, 'nothing is uploaded below the threshold');
    assert.match(first.out.lines.join('\n'), /1 more signature\(s\) needed/);
    const md = Metadata.fromBytes(await readFile(partial), 'targets');
    assert.equal(md.signed.version, 2);
    assert.equal(md.signatures.size, 1);
    const t = md.signed.targets.get('ecu/brake.bin')!;
    assert.equal(t.length, 1234);
    assert.deepEqual(t.hashes, { sha256: SHA256, sha512: SHA512 });
    assert.deepEqual(readUptaneCustom(t), { hardwareIds: ['brake-hw'], releaseCounter: 1, targetFormat: 'BINARY' });

    const second = context();
    const r2 = await signCommand(second, { role: 'targets', keys: ['targets2'], in: partial });
    assert.deepEqual(r2, { uploaded: true, missing: 0 });
    assert.deepEqual(stub.uploads.map((u) => u.path), ['/api/v1/image-repo/metadata/targets']);
    const uploaded = Metadata.fromBytes(stub.uploads[0]!.body, 'targets');
    const root = Metadata.fromBytes(stub.roles.get('root')!, 'root');
    const check = checkThreshold('targets', root.signed.keys, root.signed.role('targets'), uploaded);
    assert.ok(check.verified);
    assert.equal(check.signed.length, 2);
    // The signed content is the first officer's, unchanged.
    assert.deepEqual(Buffer.from(uploaded.signedBytes()), Buffer.from(md.signedBytes()));
  });

  void it('sign --in refuses a file that is no longer the next version', async () => {
    await initialise();
    const partial = join(dir, 'stale.partial.json');
    await signCommand(context(), { role: 'targets', keys: ['targets1'], adds: [{ path: 'ecu/a.bin', hardwareIds: ['hw'] }], out: partial });
    // Meanwhile both officers publish another version.
    await signCommand(context(), { role: 'targets', keys: ['targets1', 'targets2'], adds: [{ path: 'ecu/b.bin', hardwareIds: ['hw'] }] });
    await assert.rejects(signCommand(context(), { role: 'targets', keys: ['targets2'], in: partial }),
      (err: unknown) => err instanceof ApiClientError && err.code === 'STALE_METADATA');
  });

  void it('sign without --out below the threshold says how many signatures are missing', async () => {
    await initialise();
    await assert.rejects(signCommand(context(), { role: 'targets', keys: ['targets1'] }), /1 more signature\(s\) needed; pass --out FILE/);
    assert.equal(stub.uploads.length, 0);
  });

  void it('release counters never go down; the same file keeps its counter, new bytes get +1', async () => {
    await initialise();
    const both = ['targets1', 'targets2'];
    await signCommand(context(), { role: 'targets', keys: both, adds: [{ path: 'ecu/c.bin', hardwareIds: ['hw'], releaseCounter: 5 }] });
    await signCommand(context(), { role: 'targets', keys: both, adds: [{ path: 'ecu/c.bin', hardwareIds: ['hw'] }] });
    const t = Metadata.fromBytes(stub.roles.get('targets')!, 'targets').signed.targets.get('ecu/c.bin')!;
    assert.equal(readUptaneCustom(t).releaseCounter, 5);
    await assert.rejects(signCommand(context(), { role: 'targets', keys: both, adds: [{ path: 'ecu/c.bin', hardwareIds: ['hw'], releaseCounter: 4 }] }), /below the current 5/);
  });

  void it('sign --delegate adds a supplier delegation; the supplier then signs its own role', async () => {
    await initialise();
    await signCommand(context(), {
      role: 'targets', keys: ['targets1', 'targets2'],
      delegate: { name: 'supplier-brakes', keys: ['supplier'], paths: ['supplier/*'], terminating: true, threshold: 1 },
    });
    const targets: Targets = Metadata.fromBytes(stub.roles.get('targets')!, 'targets').signed;
    const d = targets.delegations!.roles!.get('supplier-brakes')!;
    assert.deepEqual([d.keyids, d.paths, d.terminating, d.threshold], [[keys.get('supplier')!.keyId()], ['supplier/*'], true, 1]);
    stub.uploads.length = 0;
    await signCommand(context(), { role: 'supplier-brakes', keys: ['supplier'], adds: [{ path: 'supplier/pad.bin', hardwareIds: ['pad-hw'] }] });
    assert.deepEqual(stub.uploads.map((u) => u.path), ['/api/v1/image-repo/metadata/supplier-brakes']);
    assert.equal(Metadata.fromBytes(stub.uploads[0]!.body, 'targets').signed.version, 1);
  });

  void it('rotate-root: N+1 signed by the old and the new root keys; --online names pending online keys', async () => {
    await initialise();
    stub.pendingTimestamp = generateSigner();
    const md = await rotateRoot(context(), { oldRootKeys: ['root1', 'root2'], rootKeys: ['root2', 'supplier'], rootThreshold: 1, online: true });
    assert.deepEqual(stub.uploads.map((u) => u.path), ['/api/v1/image-repo/root']);
    assert.equal(md.signed.version, 2);
    assert.deepEqual(md.signed.role('timestamp').keyids, [stub.pendingTimestamp.keyId]);
    assert.deepEqual(md.signed.role('snapshot').keyids, [stub.snapshotKey.keyId]);
    const oldRoot = rootWith(stub, 1, [keys.get('root1')!, keys.get('root2')!], 2, [], 1);
    assert.ok(checkThreshold('root', oldRoot.keys, oldRoot.role('root'), md).verified, 'old root threshold');
    assert.ok(checkThreshold('root', md.signed.keys, md.signed.role('root'), md).verified, 'new root threshold');
    assert.ok(!md.signed.keys.has(keys.get('root1')!.keyId()), 'keys no role names are dropped');
  });

  void it('image-repo init by two officers: root v1 waits for the second root key, then targets v1 follows', async () => {
    // Officer A holds root1 and the targets keys; root2's private key is with officer B.
    const dirA = join(dir, 'officer-a');
    await mkdir(dirA);
    for (const f of await readdir(ks.dir)) if (!f.startsWith('root2.key')) await copyFile(join(ks.dir, f), join(dirA, f));
    const a = { ...context(), keystore: new Keystore(dirA) };
    const partial = join(dir, 'root.partial.json');
    const r = await initImageRepo(a, { rootKeys: ['root1', 'root2'], rootThreshold: 2, targetsKeys: ['targets1'], targetsThreshold: 1, out: partial });
    assert.equal(r.targets, undefined);
    assert.equal(stub.uploads.length, 0);
    assert.match(a.out.notes.join('\n'), /no private key for root2/);
    assert.match(a.out.lines.join('\n'), /1 more signature\(s\) needed/);
    // Officer B adds the second root signature: root v1 is uploaded.
    assert.deepEqual(await signCommand(context(), { role: 'targets', keys: ['root2'], in: partial }), { uploaded: true, missing: 0 });
    assert.deepEqual(stub.uploads.map((u) => u.path), ['/api/v1/image-repo/root']);
    // Then officer A makes targets v1 (there is none yet).
    await signCommand(a, { role: 'targets', keys: ['targets1'] });
    assert.equal(Metadata.fromBytes(stub.uploads[1]!.body, 'targets').signed.version, 1);
  });

  void it('the command line: partial signing output, exit codes, coded errors', async () => {
    await initialise();
    const env = { REFLASH_SERVER: server.origin, REFLASH_TOKEN: TOKEN, REFLASH_KEYSTORE: ks.dir, REFLASH_KEY_PASSPHRASE: PASS };
    const partial = join(dir, 'cli.partial.json');
    const a = await run(['sign', '--key', 'targets1', '--add', 'ecu/x.bin', '--hardware-id', 'hw-a', '--hardware-id', 'hw-b', '--add', 'ecu/y.bin', '--hardware-id', 'hw-c', '--release-counter', '3', '--out', partial], env);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^1 more signature\(s\) needed; wrote /m);
    assert.equal((await stat(partial)).isFile(), true);
    const md = Metadata.fromBytes(await readFile(partial), 'targets');
    assert.deepEqual(readUptaneCustom(md.signed.targets.get('ecu/x.bin')!).hardwareIds, ['hw-a', 'hw-b']);
    assert.deepEqual(readUptaneCustom(md.signed.targets.get('ecu/y.bin')!), { hardwareIds: ['hw-c'], releaseCounter: 3, targetFormat: 'BINARY' });
    const bad = await run(['sign', '--in', partial, '--key', 'targets2'], { ...env, REFLASH_KEY_PASSPHRASE: 'wrong passphrase' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^reflash: KEYSTORE_BAD_PASSPHRASE: /m);
    const b = await run(['sign', '--in', partial, '--key', 'targets2'], env);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^targets v2 uploaded/m);
    const denied = await run(['sign', '--key', 'targets1', '--out', partial], { ...env, REFLASH_TOKEN: 'rft_wrongwrongwrongwrongwrong' });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^reflash: UNAUTHENTICATED: /m);
    assert.ok(!denied.stderr.includes('rft_'), 'the token is never printed');
    const usage = await run(['sign', '--hardware-id', 'hw'], env);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /^reflash: USAGE: .*must follow an --add PATH/m);
  });
});

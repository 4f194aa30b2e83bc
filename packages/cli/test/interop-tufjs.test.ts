/**
 * Interoperability with tuf-js, both ways, over real HTTP on 127.0.0.1:
 * (a) tuf-js@5 Updater refreshes and downloads from repositories written by our
 *     RepositoryBuilder (ed25519, ecdsa-sha2-nistp256 and rsassa-pss-sha256 keys, a delegation,
 *     consistent snapshots, a root rotation);
 * (b) our Updater (HttpFetcher + FsStore) and the tuf-client binary accept repositories written
 *     by @tufjs/models (signed with node:crypto ed25519 and ecdsa keys) and by
 *     @tufjs/repo-mock, and reject them once tampered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater as TufJsUpdater } from 'tuf-js';
import {
  Key as TKey, MetaFile as TMetaFile, Metadata as TMetadata, Root as TRoot, Signature as TSignature,
  Snapshot as TSnapshot, TargetFile as TTargetFile, Targets as TTargets, Timestamp as TTimestamp,
} from '@tufjs/models';
// The entry point of @tufjs/repo-mock also loads nock, which patches http and fetch in this
// process; the repository generator alone is enough here (we serve it ourselves).
import { initializeTUFRepo } from '@tufjs/repo-mock/dist/repo.js';
import { RepositoryBuilder, canonicalize, formatExpires, generateSigner } from '@reflash/metadata';
import type { Scheme, Signer } from '@reflash/metadata';
import { Updater } from '@reflash/verify';
import { HttpFetcher } from '../src/io/http-fetcher.js';
import { FsStore } from '../src/io/fs-store.js';
import { downloadTarget } from '../src/io/download.js';
import { TestServer, bytesHandler } from './support/http.js';
import { ServedRepository, TempDirs, flipByte, listDir, tamper } from './support/repo.js';
import { runClient } from './support/client.js';

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const sha512 = (b: Uint8Array | string): string => createHash('sha512').update(b).digest('hex');
const YEAR = 365 * 86_400_000;
const SHA512_FIRST = Buffer.from('a target whose hashes list sha512 first');

void describe('interop with tuf-js', () => {
  let server: TestServer;
  /** full request path -> bytes, for repositories not built by RepositoryBuilder */
  const files = new Map<string, Uint8Array>();
  let served: ServedRepository | undefined;
  const dirs = new TempDirs();
  let rsa: Signer;

  before(async () => {
    rsa = generateSigner('rsassa-pss-sha256', 2048);
    server = await TestServer.start(bytesHandler((p) => (served !== undefined ? served.lookup(p) : files.get(p))));
  });
  after(async () => {
    await server.close();
    await dirs.cleanup();
  });

  const signer = (s: Scheme): Signer => (s === 'rsassa-pss-sha256' ? rsa : generateSigner(s));

  async function tufJs(rootBytes: Uint8Array): Promise<{ updater: TufJsUpdater; metadataDir: string; targetDir: string }> {
    const metadataDir = await dirs.make('tufjs-meta-');
    const targetDir = await dirs.make('tufjs-targets-');
    await writeFile(join(metadataDir, 'root.json'), rootBytes);
    const updater = new TufJsUpdater({ metadataDir, metadataBaseUrl: `${server.origin}/metadata`, targetDir, targetBaseUrl: `${server.origin}/targets` });
    return { updater, metadataDir, targetDir };
  }

  void describe('(a) tuf-js reads repositories written by RepositoryBuilder', () => {
    const cases: Array<{ name: string; roles: Record<'root' | 'timestamp' | 'snapshot' | 'targets' | 'role1', Scheme[]>; snapshotMetaHashes: boolean }> = [
      { name: 'ed25519', roles: { root: ['ed25519', 'ed25519'], timestamp: ['ed25519'], snapshot: ['ed25519'], targets: ['ed25519'], role1: ['ed25519'] }, snapshotMetaHashes: false },
      { name: 'ecdsa-sha2-nistp256', roles: { root: ['ecdsa-sha2-nistp256'], timestamp: ['ecdsa-sha2-nistp256'], snapshot: ['ecdsa-sha2-nistp256'], targets: ['ecdsa-sha2-nistp256'], role1: ['ecdsa-sha2-nistp256'] }, snapshotMetaHashes: true },
      { name: 'rsassa-pss-sha256', roles: { root: ['rsassa-pss-sha256'], timestamp: ['rsassa-pss-sha256'], snapshot: ['rsassa-pss-sha256'], targets: ['rsassa-pss-sha256'], role1: ['rsassa-pss-sha256'] }, snapshotMetaHashes: false },
      { name: 'mixed (root threshold 3 of ed25519+ecdsa+rsa)', roles: { root: ['ed25519', 'ecdsa-sha2-nistp256', 'rsassa-pss-sha256'], timestamp: ['ecdsa-sha2-nistp256'], snapshot: ['rsassa-pss-sha256'], targets: ['ed25519'], role1: ['ecdsa-sha2-nistp256'] }, snapshotMetaHashes: true },
    ];
    for (const c of cases) {
      void it(`${c.name}: refresh, delegated target search and hash-prefixed download`, async () => {
        const k = (r: keyof typeof c.roles): Signer[] => c.roles[r].map(signer);
        const rootSigners = k('root');
        const repo = new RepositoryBuilder({
          now: Date.now(),
          snapshotMetaHashes: c.snapshotMetaHashes,
          keys: { root: { signers: rootSigners, threshold: rootSigners.length }, timestamp: { signers: k('timestamp') }, snapshot: { signers: k('snapshot') }, targets: { signers: k('targets') } },
        });
        repo.delegate('targets', { name: 'role1', paths: ['a/*'] }, k('role1'));
        const data = Buffer.from(`delegated target for ${c.name}\n`);
        const tf = repo.addTarget('a/b.txt', data, { note: 'custom field' }, 'role1');
        repo.addTarget('top.txt', Buffer.from('top'));
        repo.publish();
        served = new ServedRepository(repo);
        const { updater, metadataDir, targetDir } = await tufJs(repo.files.get('1.root.json')!);
        server.take();
        await updater.refresh();
        const info = await updater.getTargetInfo('a/b.txt');
        assert.ok(info, 'tuf-js finds the delegated target');
        assert.equal(info.length, data.byteLength);
        const path = await updater.downloadTarget(info);
        assert.equal(path, join(targetDir, 'a%2Fb.txt'));
        assert.deepEqual(await readFile(path), data);
        assert.deepEqual(server.take(), [
          '/metadata/2.root.json', '/metadata/timestamp.json', '/metadata/2.snapshot.json', '/metadata/2.targets.json', '/metadata/1.role1.json',
          `/targets/a/${tf.hashes['sha256']}.b.txt`,
        ]);
        assert.deepEqual(await listDir(metadataDir), ['role1.json', 'root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
      });
    }

    void it('delegated role names with special characters: same file tuf-js requests and stores', async () => {
      const repo = new RepositoryBuilder({
        now: Date.now(),
        keys: { root: { signers: [signer('ed25519')] }, timestamp: { signers: [signer('ed25519')] }, snapshot: { signers: [signer('ed25519')] }, targets: { signers: [signer('ed25519')] } },
      });
      repo.delegate('targets', { name: 'team a/b', paths: ['t/*'] }, [signer('ecdsa-sha2-nistp256')]);
      repo.addTarget('t/x', Buffer.from('x'), undefined, 'team a/b');
      repo.publish();
      served = new ServedRepository(repo);
      const { updater, metadataDir } = await tufJs(repo.files.get('1.root.json')!);
      server.take();
      assert.ok(await updater.getTargetInfo('t/x'));
      assert.ok(server.take().includes('/metadata/1.team%20a%2Fb.json'));
      assert.ok((await listDir(metadataDir)).includes('team%20a%2Fb.json'));
    });

    void it('follows a root rotation made by RepositoryBuilder and rejects tampered targets metadata', async () => {
      const repo = new RepositoryBuilder({
        now: Date.now(),
        keys: { root: { signers: [signer('ed25519')] }, timestamp: { signers: [signer('ed25519')] }, snapshot: { signers: [signer('ecdsa-sha2-nistp256')] }, targets: { signers: [rsa] } },
      });
      repo.addTarget('f.txt', Buffer.from('f'));
      repo.publish();
      repo.rotate({ root: { signers: [signer('ecdsa-sha2-nistp256'), signer('ed25519')], threshold: 2 }, snapshot: { signers: [signer('ed25519')] } });
      repo.resignAll();
      served = new ServedRepository(repo);
      const { updater, metadataDir } = await tufJs(repo.files.get('1.root.json')!);
      await updater.refresh();
      assert.deepEqual(await readFile(join(metadataDir, 'root.json')), Buffer.from(repo.files.get('2.root.json')!));
      assert.ok(await updater.getTargetInfo('f.txt'));

      const name = `/metadata/${repo.targetsOf('targets').signed.version}.targets.json`;
      served.overrides.set(name, tamper(repo.files.get(`${repo.targetsOf('targets').signed.version}.targets.json`)!, '"f.txt"', '"g.txt"'));
      const fresh = await tufJs(repo.files.get('1.root.json')!);
      await assert.rejects(fresh.updater.refresh(), /targets was signed by 0\/1 keys/);
    });
  });

  void describe('(b) our client reads repositories written by @tufjs/models and @tufjs/repo-mock', () => {
    /** A @tufjs/models key and a signer for it, from a node:crypto key pair. */
    function tufjsKey(kind: 'ed25519' | 'ecdsa'): { key: TKey; sign: (data: Buffer) => TSignature } {
      const pair = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const meta = kind === 'ed25519'
        ? { keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex') } }
        : { keyType: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyVal: { public: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString() } };
      // @tufjs/models takes the key id as given; use the TUF one (SHA-256 of the canonical key).
      const keyID = sha256(canonicalize(new TKey({ keyID: '', ...meta }).toJSON()));
      const key = new TKey({ keyID, ...meta });
      const sign = (data: Buffer): TSignature =>
        new TSignature({ keyID, sig: cryptoSign(kind === 'ed25519' ? null : 'sha256', data, pair.privateKey).toString('hex') });
      return { key, sign };
    }

    const bytesOf = (md: { toJSON(): unknown }): Buffer => Buffer.from(JSON.stringify(md.toJSON()));

    function buildWithModels(): { root: Buffer; top: Buffer; delegated: Buffer } {
      files.clear();
      served = undefined;
      const expires = formatExpires(Date.now() + YEAR);
      const common = { specVersion: '1.0.31', expires };
      const rootKey = tufjsKey('ed25519');
      const targetsKey = tufjsKey('ed25519');
      const snapshotKey = tufjsKey('ecdsa');
      const timestampKey = tufjsKey('ecdsa');
      const role1Key = tufjsKey('ecdsa');

      const root = new TMetadata(new TRoot({ ...common, version: 1, consistentSnapshot: true }));
      root.signed.addKey(rootKey.key, 'root');
      root.signed.addKey(timestampKey.key, 'timestamp');
      root.signed.addKey(snapshotKey.key, 'snapshot');
      root.signed.addKey(targetsKey.key, 'targets');
      root.sign(rootKey.sign);

      const top = Buffer.from('top-level target from @tufjs/models');
      const delegated = Buffer.from('delegated target from @tufjs/models');
      // Delegations are not exported by @tufjs/models: build them from JSON.
      const targets = new TMetadata(TTargets.fromJSON({
        _type: 'targets', spec_version: common.specVersion, version: 1, expires,
        targets: {},
        delegations: {
          keys: { [role1Key.key.keyID]: role1Key.key.toJSON() },
          roles: [{ name: 'role1', keyids: [role1Key.key.keyID], threshold: 1, terminating: true, paths: ['a/*'] }],
        },
      }));
      targets.signed.addTarget(new TTargetFile({ path: 'top.txt', length: top.byteLength, hashes: { sha256: sha256(top) } }));
      targets.sign(targetsKey.sign);

      const role1 = new TMetadata(new TTargets({ ...common, version: 1 }));
      role1.signed.addTarget(new TTargetFile({ path: 'a/b.txt', length: delegated.byteLength, hashes: { sha256: sha256(delegated), sha512: sha512(delegated) } }));
      // Hashes listed sha512 first, and the file stored under that prefix only.
      role1.signed.addTarget(new TTargetFile({ path: 'a/c.txt', length: SHA512_FIRST.byteLength, hashes: { sha512: sha512(SHA512_FIRST), sha256: sha256(SHA512_FIRST) } }));
      role1.sign(role1Key.sign);

      const snapshot = new TMetadata(new TSnapshot({ ...common, version: 1, meta: { 'targets.json': new TMetaFile({ version: 1 }), 'role1.json': new TMetaFile({ version: 1 }) } }));
      snapshot.sign(snapshotKey.sign);
      const snapshotBytes = bytesOf(snapshot);
      const timestamp = new TMetadata(new TTimestamp({ ...common, version: 1, snapshotMeta: new TMetaFile({ version: 1, length: snapshotBytes.byteLength, hashes: { sha256: sha256(snapshotBytes) } }) }));
      timestamp.sign(timestampKey.sign);

      const rootBytes = bytesOf(root);
      files.set('/metadata/1.root.json', rootBytes);
      files.set('/metadata/timestamp.json', bytesOf(timestamp));
      files.set('/metadata/1.snapshot.json', snapshotBytes);
      files.set('/metadata/1.targets.json', bytesOf(targets));
      files.set('/metadata/1.role1.json', bytesOf(role1));
      files.set(`/targets/${sha256(top)}.top.txt`, top);
      files.set(`/targets/a/${sha256(delegated)}.b.txt`, delegated);
      files.set(`/targets/a/${sha512(SHA512_FIRST)}.c.txt`, SHA512_FIRST);
      return { root: rootBytes, top, delegated };
    }

    async function ours(rootBytes: Uint8Array): Promise<{ updater: Updater; metadataDir: string }> {
      const metadataDir = await dirs.make('ours-meta-');
      await writeFile(join(metadataDir, 'root.json'), rootBytes);
      const updater = new Updater({ metadataBaseUrl: `${server.origin}/metadata/`, fetcher: new HttpFetcher(), store: new FsStore(metadataDir), referenceTime: Date.now() });
      return { updater, metadataDir };
    }

    async function fetchTarget(updater: Updater, path: string, dir: string): Promise<string> {
      const found = await updater.search(path);
      assert.ok(found.target, `${path} found`);
      const dest = join(dir, encodeURIComponent(path));
      await downloadTarget(new HttpFetcher(), updater.targetUrl(found.target, `${server.origin}/targets/`), found.target, dest);
      return dest;
    }

    void it('@tufjs/models repository (ed25519 + ecdsa, delegation, consistent snapshot): refresh and download', async () => {
      const { root, top, delegated } = buildWithModels();
      const { updater, metadataDir } = await ours(root);
      server.take();
      await updater.refresh();
      const targetDir = await dirs.make();
      assert.deepEqual(await readFile(await fetchTarget(updater, 'a/b.txt', targetDir)), delegated);
      assert.deepEqual(await readFile(await fetchTarget(updater, 'top.txt', targetDir)), top);
      assert.deepEqual(server.take(), [
        '/metadata/2.root.json', '/metadata/timestamp.json', '/metadata/1.snapshot.json', '/metadata/1.targets.json', '/metadata/1.role1.json',
        `/targets/a/${sha256(delegated)}.b.txt`, `/targets/${sha256(top)}.top.txt`,
      ]);
      assert.deepEqual(await listDir(metadataDir), ['role1.json', 'root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
    });

    void it('@tufjs/models repository: a changed byte in signed targets fails UNSIGNED_METADATA; a tampered target HASH_MISMATCH', async () => {
      const { root } = buildWithModels();
      files.set('/metadata/1.targets.json', tamper(files.get('/metadata/1.targets.json')!, '"top.txt"', '"tOp.txt"'));
      await assert.rejects((await ours(root)).updater.refresh(), { code: 'UNSIGNED_METADATA' });

      const good = buildWithModels();
      const targetPath = `/targets/a/${sha256(good.delegated)}.b.txt`;
      files.set(targetPath, flipByte(files.get(targetPath)!));
      const { updater } = await ours(good.root);
      await updater.refresh();
      const dir = await dirs.make();
      await assert.rejects(fetchTarget(updater, 'a/b.txt', dir), { code: 'HASH_MISMATCH' });
      assert.deepEqual(await listDir(dir), []);
    });

    void it('a target listing sha512 first is fetched under its first listed hash (as tuf-js and python-tuf do)', async () => {
      const { root } = buildWithModels();
      const theirs = await tufJs(root);
      const info = await theirs.updater.getTargetInfo('a/c.txt');
      assert.ok(info);
      assert.deepEqual(await readFile(await theirs.updater.downloadTarget(info)), SHA512_FIRST);

      const { updater } = await ours(root);
      await updater.refresh();
      server.take();
      assert.deepEqual(await readFile(await fetchTarget(updater, 'a/c.txt', await dirs.make())), SHA512_FIRST);
      assert.deepEqual(server.take(), ['/metadata/1.role1.json', `/targets/a/${sha512(SHA512_FIRST)}.c.txt`]);
    });

    /** Serve an @tufjs/repo-mock repository the way its own HTTP handlers do. */
    function serveRepoMock(): { root: Buffer; content: Buffer } {
      files.clear();
      served = undefined;
      const content = Buffer.from('hello from @tufjs/repo-mock\n');
      const repo = initializeTUFRepo([{ name: 'dir/foo.txt', content }]);
      files.set('/metadata/1.root.json', bytesOf(repo.rootMeta));
      files.set('/metadata/timestamp.json', bytesOf(repo.timestampMeta));
      files.set('/metadata/snapshot.json', bytesOf(repo.snapshotMeta));
      files.set('/metadata/targets.json', bytesOf(repo.targetsMeta));
      files.set('/targets/dir/foo.txt', content);
      return { root: bytesOf(repo.rootMeta), content };
    }

    async function cli(root: Buffer, target = 'dir/foo.txt'): Promise<{ code: number; stderr: string; metadataDir: string; targetDir: string }> {
      const base = await dirs.make('repo-mock-');
      const metadataDir = join(base, 'metadata');
      const targetDir = join(base, 'targets');
      await writeFile(join(base, 'root.json'), root);
      assert.equal((await runClient(['--metadata-dir', metadataDir, 'init', join(base, 'root.json')])).code, 0);
      const r = await runClient([
        '--metadata-dir', metadataDir, '--metadata-url', `${server.origin}/metadata`, '--target-name', target,
        '--target-base-url', `${server.origin}/targets`, '--target-dir', targetDir, 'download',
      ]);
      return { code: r.code, stderr: r.stderr, metadataDir, targetDir };
    }

    void it('@tufjs/repo-mock repository (ecdsa, non-consistent, non-TUF key ids): tuf-client downloads the target', async () => {
      const { root, content } = serveRepoMock();
      server.take();
      const r = await cli(root);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(server.take(), ['/metadata/2.root.json', '/metadata/timestamp.json', '/metadata/snapshot.json', '/metadata/targets.json', '/targets/dir/foo.txt']);
      assert.deepEqual(await readFile(join(r.targetDir, 'dir%2Ffoo.txt')), content);
      assert.deepEqual(await listDir(r.metadataDir), ['root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
    });

    void it('@tufjs/repo-mock repository: tampered metadata and target are rejected', async () => {
      // snapshot lists length and hashes of targets.json, so a changed byte is caught by the hash
      // check (TUF 5.6.2) before the signature check (5.6.3)
      let { root } = serveRepoMock();
      files.set('/metadata/targets.json', tamper(files.get('/metadata/targets.json')!, '"dir/foo.txt"', '"dir/fOo.txt"'));
      let r = await cli(root);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^tuf-client: HASH_MISMATCH: targets/);

      // timestamp has nothing above it but its signature
      ({ root } = serveRepoMock());
      const ts = files.get('/metadata/timestamp.json')!;
      files.set('/metadata/timestamp.json', tamper(ts, '"version":1', '"version":2'));
      r = await cli(root);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^tuf-client: UNSIGNED_METADATA: timestamp/);

      ({ root } = serveRepoMock());
      files.set('/targets/dir/foo.txt', flipByte(files.get('/targets/dir/foo.txt')!, 5));
      r = await cli(root);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^tuf-client: HASH_MISMATCH: target dir\/foo.txt/);
      assert.deepEqual(await listDir(r.targetDir), []);
    });
  });
});

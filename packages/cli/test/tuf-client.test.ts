/**
 * The tuf-client binary against a RepositoryBuilder repository served over HTTP: the exact
 * requests of the TUF 1.0 workflow, the metadata it persists, target download and caching, and
 * the failures (missing or tampered target, expired timestamp) exit 1 and leave no trace.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RepositoryBuilder, generateSigner } from '@reflash/metadata';
import type { RepositoryOptions, Signer } from '@reflash/metadata';
import { TestServer } from './support/http.js';
import { ServedRepository, TempDirs, flipByte, listDir } from './support/repo.js';
import { runClient } from './support/client.js';

const TOP = ['root.json', 'snapshot.json', 'targets.json', 'timestamp.json'];

void describe('tuf-client (tuf-conformance client protocol)', () => {
  let server: TestServer;
  let served: ServedRepository;
  const dirs = new TempDirs();
  let keys: { root: Signer; timestamp: Signer; snapshot: Signer; targets: Signer; role1: Signer };
  let metadataDir: string;
  let targetDir: string;

  function newRepo(opts: Partial<RepositoryOptions> = {}): RepositoryBuilder {
    const repo = new RepositoryBuilder({
      now: Date.now(),
      keys: { root: { signers: [keys.root] }, timestamp: { signers: [keys.timestamp] }, snapshot: { signers: [keys.snapshot] }, targets: { signers: [keys.targets] } },
      ...opts,
    });
    served.repo = repo;
    served.overrides.clear();
    return repo;
  }

  async function init(repo: RepositoryBuilder): Promise<void> {
    const rootFile = join(await dirs.make(), 'trusted-root.json');
    await writeFile(rootFile, repo.files.get('1.root.json')!);
    const r = await runClient(['--metadata-dir', metadataDir, 'init', rootFile]);
    assert.equal(r.code, 0, r.stderr);
    server.take();
  }

  const meta = (): string[] => ['--metadata-dir', metadataDir, '--metadata-url', `${server.origin}/metadata`];
  const dl = (...names: string[]): string[] => [...meta(), ...names.flatMap((n) => ['--target-name', n]), '--target-base-url', `${server.origin}/targets/`, '--target-dir', targetDir, 'download'];

  before(async () => {
    keys = { root: generateSigner(), timestamp: generateSigner(), snapshot: generateSigner(), targets: generateSigner(), role1: generateSigner() };
    served = new ServedRepository(undefined as unknown as RepositoryBuilder);
    server = await TestServer.start(served.handler());
  });
  beforeEach(async () => {
    metadataDir = join(await dirs.make(), 'metadata');
    targetDir = join(await dirs.make(), 'targets');
  });
  after(async () => {
    await server.close();
    await dirs.cleanup();
  });

  void it('init copies the trusted root into a new metadata dir and makes no request', async () => {
    const repo = newRepo();
    const rootFile = join(await dirs.make(), 'root-in.json');
    await writeFile(rootFile, repo.files.get('1.root.json')!);
    server.take();
    const r = await runClient(['--metadata-dir', join(metadataDir, 'nested'), 'init', rootFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.take(), []);
    assert.deepEqual(await listDir(join(metadataDir, 'nested')), ['root.json']);
    assert.deepEqual(await readFile(join(metadataDir, 'nested', 'root.json')), Buffer.from(repo.files.get('1.root.json')!));
  });

  void it('refresh fetches exactly 2.root.json (404), timestamp, versioned snapshot and targets, and stores them unversioned', async () => {
    const repo = newRepo();
    await init(repo);
    const r = await runClient([...meta(), 'refresh']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.requests.map((q) => [q.path, q.status]), [
      ['/metadata/2.root.json', 404], ['/metadata/timestamp.json', 200], ['/metadata/1.snapshot.json', 200], ['/metadata/1.targets.json', 200],
    ]);
    assert.deepEqual(await listDir(metadataDir), TOP);
    assert.deepEqual(await readFile(join(metadataDir, 'timestamp.json')), Buffer.from(repo.files.get('timestamp.json')!));
  });

  void it('download finds a target through a delegation, fetches its hash-prefixed URL, stores it URL-encoded, and caches it', async () => {
    const repo = newRepo();
    repo.delegate('targets', { name: 'role1', paths: ['a/*'] }, [keys.role1]);
    const data = Buffer.from('delegated target bytes\n');
    const tf = repo.addTarget('a/b.txt', data, undefined, 'role1');
    repo.publish();
    await init(repo);
    const r = await runClient(dl('a/b.txt'));
    assert.equal(r.code, 0, r.stderr);
    const v = (role: string): number => repo.targetsOf(role).signed.version;
    assert.deepEqual(server.take(), [
      '/metadata/2.root.json', '/metadata/timestamp.json', `/metadata/${repo.snapshot.signed.version}.snapshot.json`,
      `/metadata/${v('targets')}.targets.json`, `/metadata/${v('role1')}.role1.json`, `/targets/a/${tf.hashes['sha256']}.b.txt`,
    ]);
    assert.deepEqual(await listDir(targetDir), ['a%2Fb.txt']);
    assert.deepEqual(await readFile(join(targetDir, 'a%2Fb.txt')), data);
    assert.deepEqual(await listDir(metadataDir), ['role1.json', ...TOP].sort());

    const again = await runClient(dl('a/b.txt'));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(server.take(), ['/metadata/2.root.json', '/metadata/timestamp.json'], 'cached metadata and target: nothing else fetched');
  });

  void it('stores a delegated role with special characters under its percent-encoded name', async () => {
    const repo = newRepo();
    const role = 'team a/(1)';
    repo.delegate('targets', { name: role, paths: ['t/*'] }, [keys.role1]);
    repo.addTarget('t/x', Buffer.from('x'), undefined, role);
    repo.publish();
    await init(repo);
    const r = await runClient(dl('t/x'));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(server.take().includes('/metadata/1.team%20a%2F%281%29.json'));
    assert.deepEqual(await listDir(metadataDir), ['team%20a%2F%281%29.json', ...TOP].sort());
    assert.deepEqual(await listDir(targetDir), ['t%2Fx']);
  });

  void it('a missing target exits 1 with TARGET_NOT_FOUND and downloads nothing', async () => {
    const repo = newRepo();
    repo.addTarget('present.txt', Buffer.from('x'));
    repo.publish();
    await init(repo);
    const r = await runClient(dl('absent.txt'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tuf-client: TARGET_NOT_FOUND: /);
    assert.ok(!server.take().some((p) => p.startsWith('/targets/')));
    assert.deepEqual(await listDir(targetDir), []);
  });

  void it('a tampered target exits 1 with HASH_MISMATCH and leaves no file (not even a temp file)', async () => {
    const repo = newRepo();
    const data = Buffer.from('the real firmware');
    const tf = repo.addTarget('fw.bin', data);
    repo.publish();
    served.overrides.set(`/targets/${tf.hashes['sha256']}.fw.bin`, flipByte(data, 3));
    await init(repo);
    const r = await runClient(dl('fw.bin'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tuf-client: HASH_MISMATCH: /);
    assert.deepEqual(await listDir(targetDir), []);
  });

  void it('an expired timestamp exits 1 with EXPIRED and is not persisted (freeze attack)', async () => {
    const repo = newRepo({ expiryMs: { timestamp: -60_000 } });
    await init(repo);
    const r = await runClient([...meta(), 'refresh']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tuf-client: EXPIRED: timestamp/);
    assert.deepEqual(await listDir(metadataDir), ['root.json']);
  });

  void it('accepts the options in any order before the command, with or without trailing slashes', async () => {
    const repo = newRepo();
    const data = Buffer.from('order');
    repo.addTarget('x/y z.txt', data);
    repo.publish();
    await init(repo);
    const r = await runClient([
      '--target-dir', targetDir, '--target-base-url', `${server.origin}/targets`, '--target-name', 'x/y z.txt',
      '--metadata-url', `${server.origin}/metadata/`, '--metadata-dir', metadataDir, 'download',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(join(targetDir, 'x%2Fy%20z.txt')), data);
  });

  void it('downloads several targets in one run', async () => {
    const repo = newRepo();
    repo.addTarget('one', Buffer.from('1'));
    repo.addTarget('two', Buffer.from('22'));
    repo.publish();
    await init(repo);
    const r = await runClient(dl('one', 'two'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await listDir(targetDir), ['one', 'two']);
  });

  void it('follows and persists a root rotation (and timestamp key rotation)', async () => {
    const repo = newRepo();
    await init(repo);
    assert.equal((await runClient([...meta(), 'refresh'])).code, 0);
    const newRoot = generateSigner();
    repo.rotate({ root: { signers: [newRoot] }, timestamp: { signers: [generateSigner()] } });
    repo.resignAll();
    server.take();
    const r = await runClient([...meta(), 'refresh']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.take(), [
      '/metadata/2.root.json', '/metadata/3.root.json', '/metadata/timestamp.json',
      `/metadata/${repo.snapshot.signed.version}.snapshot.json`, `/metadata/${repo.targetsOf('targets').signed.version}.targets.json`,
    ]);
    assert.deepEqual(await readFile(join(metadataDir, 'root.json')), Buffer.from(repo.files.get('2.root.json')!));
    assert.deepEqual(await readFile(join(metadataDir, 'timestamp.json')), Buffer.from(repo.files.get('timestamp.json')!));
  });

  void it('works with a repository without consistent snapshots (unversioned names, unprefixed target URLs)', async () => {
    const repo = newRepo({ consistentSnapshot: false });
    const data = Buffer.from('plain');
    repo.addTarget('dir/file.txt', data);
    repo.publish();
    await init(repo);
    const r = await runClient(dl('dir/file.txt'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.take(), [
      '/metadata/2.root.json', '/metadata/timestamp.json', '/metadata/snapshot.json', '/metadata/targets.json', '/targets/dir/file.txt',
    ]);
    assert.deepEqual(await readFile(join(targetDir, 'dir%2Ffile.txt')), data);
  });

  void it('fails with exit 1 and a coded message on usage errors', async () => {
    const r = await runClient(['--metadata-dir', metadataDir, 'refresh']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tuf-client: USAGE: --metadata-url is required/);
    const none = await runClient([]);
    assert.equal(none.code, 1);
    const noRoot = await runClient([...meta(), 'refresh']);
    assert.equal(noRoot.code, 1);
    assert.match(noRoot.stderr, /^tuf-client: NO_TRUSTED_ROOT: /);
  });
});

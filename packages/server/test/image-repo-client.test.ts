import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@reflash/metadata';
import { ExpiredMetadataError, encodeRole } from '@reflash/verify';
import { refreshImageRepo } from '../src/services/image-repo-sign.js';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import {
  IMAGE_TARGETS_BASE, MemoryStore, delegateRole, imageUpdater, initImageRepo, nextTargets, offlineKeys, publishImage, putMetadata, signAndPut,
} from './support/image-repo.js';

async function timestampVersion(h: Harness): Promise<number> {
  const r = await h.app.inject({ url: '/repo/image/timestamp.json' });
  return Metadata.fromBytes(r.rawPayload, 'timestamp').signed.version;
}

forEachDialect('image repository with a real client', (dialect) => {
  let h: Harness;
  const brake = Buffer.from('supplier A brake controller v7');
  const acme = Buffer.from('acme infotainment 3.1');
  before(async () => {
    h = await makeHarness(dialect);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
    await publishImage(h, 'gw/fw-1.bin', Buffer.from('gateway 1'), { hardwareIds: ['gw'], releaseCounter: 1 });
    await delegateRole(h, { name: 'supplier-a', paths: ['supplier-a/*'], keys: offlineKeys(1) });
    await publishImage(h, 'supplier-a/brake.bin', brake, { hardwareIds: ['brake'], releaseCounter: 7, role: 'supplier-a' });
    await delegateRole(h, { name: 'acme/ecu*', paths: ['acme/*'], keys: offlineKeys(1), terminating: true });
    await publishImage(h, 'acme/info.bin', acme, { hardwareIds: ['info'], releaseCounter: 3, role: 'acme/ecu*' });
  });
  after(async () => { await h.close(); });

  it('an Updater refreshes the served repository and finds an image through a delegation, then downloads it', async () => {
    const { updater, fetcher } = await imageUpdater(h);
    await updater.refresh();
    const found = await updater.search('supplier-a/brake.bin');
    assert.equal(found.role, 'supplier-a');
    assert.deepEqual(found.visited, ['targets', 'supplier-a']);
    const tf = found.target!;
    assert.equal(tf.custom?.['releaseCounter'], 7);
    assert.ok(fetcher.fetched.includes('/repo/image/1.supplier-a.json'));
    const url = updater.targetUrl(tf, IMAGE_TARGETS_BASE);
    assert.equal(url, `${IMAGE_TARGETS_BASE}supplier-a/${tf.hashes['sha256']!}.brake.bin`);
    const r = await h.app.inject({ url, headers: h.auth('operator') });
    assert.equal(r.statusCode, 200);
    tf.verify(r.rawPayload);
  });

  it('serves delegated roles under percent-encoded names', async () => {
    const { updater, fetcher } = await imageUpdater(h);
    const found = await updater.search('acme/info.bin');
    assert.equal(found.role, 'acme/ecu*');
    const name = `/repo/image/1.${encodeRole('acme/ecu*')}.json`;
    assert.equal(name, '/repo/image/1.acme%2Fecu%2A.json');
    assert.ok(fetcher.fetched.includes(name));
    found.target!.verify((await h.app.inject({ url: updater.targetUrl(found.target!, IMAGE_TARGETS_BASE), headers: h.auth('auditor') })).rawPayload);
  });

  it('serves only the names of a consistent-snapshot repository', async () => {
    for (const name of ['snapshot.json', 'targets.json', '1.timestamp.json', '99.targets.json', '0.root.json', 'x.json', '1.nobody.json']) {
      const r = await h.app.inject({ url: `/repo/image/${name}` });
      assert.equal(r.statusCode, 404, name);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'METADATA_NOT_FOUND');
    }
  });

  it('the freshness job re-signs the timestamp at half its lifetime (and the snapshot at half of its own); the client accepts both', async () => {
    const store = new MemoryStore();
    const first = await imageUpdater(h);
    await first.updater.refresh();
    for (const [k, v] of (first.store as MemoryStore).files) store.files.set(k, v);
    const v0 = await timestampVersion(h);
    const t0 = h.clock.now;
    const tsLife = h.ctx.config.timestampExpiryMs;
    const snapLife = h.ctx.config.snapshotExpiryMs;

    assert.deepEqual(await refreshImageRepo(h.ctx), {});
    h.clock.now = t0 + tsLife * 0.4;
    assert.deepEqual(await refreshImageRepo(h.ctx), {});
    assert.equal(await timestampVersion(h), v0);

    h.clock.now = t0 + tsLife * 0.6;
    const r1 = await refreshImageRepo(h.ctx);
    assert.deepEqual(r1, { timestampVersion: v0 + 1 });
    assert.deepEqual(await refreshImageRepo(h.ctx), {});
    const c1 = await imageUpdater(h, store, h.clock.now);
    await c1.updater.refresh();
    assert.equal(c1.updater.trusted.timestamp!.signed.version, v0 + 1);

    // Past half of the snapshot's lifetime: a new snapshot and a new timestamp.
    const snapBefore = c1.updater.trusted.snapshot!.signed.version;
    h.clock.now = t0 + snapLife * 0.55;
    const r2 = await refreshImageRepo(h.ctx);
    assert.equal(r2.snapshotVersion, snapBefore + 1);
    assert.equal(r2.timestampVersion, v0 + 2);
    const c2 = await imageUpdater(h, store, h.clock.now);
    await c2.updater.refresh();
    assert.equal(c2.updater.trusted.snapshot!.signed.version, snapBefore + 1);
    assert.ok(await c2.updater.getTargetInfo('supplier-a/brake.bin'));

    // Without the job, a client would see the timestamp expire (freeze attack protection).
    h.clock.now += tsLife + 1000;
    const c3 = await imageUpdater(h, new MemoryStore(), h.clock.now);
    await c3.store.save('root', (await h.app.inject({ url: '/repo/image/1.root.json' })).rawPayload);
    await assert.rejects(c3.updater.refresh(), ExpiredMetadataError);
    await refreshImageRepo(h.ctx);
    const c4 = await imageUpdater(h, undefined, h.clock.now);
    await c4.updater.refresh();
  });

  it('concurrent publications and freshness runs never reuse a version', async () => {
    h.clock.now += h.ctx.config.timestampExpiryMs;
    const before = await timestampVersion(h);
    const t = await nextTargets(h, 'targets', () => undefined);
    const outcomes = await Promise.all([
      refreshImageRepo(h.ctx),
      signAndPut(h, 'targets', t).then(() => 'published'),
      putMetadata(h, 'targets', Buffer.from('{}')).then((r) => r.statusCode),
      refreshImageRepo(h.ctx),
    ]);
    assert.equal(outcomes[1], 'published');
    assert.equal(outcomes[2], 400);
    const rows = await h.ctx.db.kysely.selectFrom('repo_metadata').select(['role', 'version']).where('repo', '=', 'image').where('role', '=', 'timestamp').orderBy('version').execute();
    const versions = rows.map((r) => r.version);
    assert.deepEqual(versions, [...new Set(versions)]);
    // One refresh (the other finds a fresh timestamp) plus the publication.
    assert.equal(await timestampVersion(h), before + 2);
    const { updater } = await imageUpdater(h, undefined, h.clock.now);
    await updater.refresh();
  });
});

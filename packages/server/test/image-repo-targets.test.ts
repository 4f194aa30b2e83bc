import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Metadata, SPEC_VERSION, TargetFile, Targets, formatExpires, uptaneCustom } from '@reflash/metadata';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import {
  TARGETS_LIFETIME_MS, currentTargetsOf, delegateRole, imageRepoState, initImageRepo, nextTargets, offlineKeys, onlineKeys, publishImage, putMetadata, signAndPut, uploadImage,
} from './support/image-repo.js';

interface ErrorJSON { error: { code: string; message: string; details?: Record<string, unknown> } }

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function failures(h: Harness, code: string): Promise<number> {
  const m = await h.ctx.metrics.verificationFailures.get();
  return m.values.find((v) => v.labels.code === code)?.value ?? 0;
}

async function served(h: Harness, name: string): Promise<Buffer> {
  const r = await h.app.inject({ url: `/repo/image/${name}` });
  assert.equal(r.statusCode, 200, `${name}: ${r.body}`);
  return r.rawPayload;
}

forEachDialect('image repository targets', (dialect) => {
  let h: Harness;
  const targetsKeys = offlineKeys(2);
  const supplierKeys = offlineKeys(1);
  const fw1 = Buffer.from('gateway firmware 1');
  before(async () => {
    h = await makeHarness(dialect);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys, targetsThreshold: 2 });
  });
  after(async () => { await h.close(); });

  /** targets v(current+1) listing `files`, signed by `signers` */
  async function targetsWith(files: TargetFile[], signers = targetsKeys, version?: number, expiresMs?: number): Promise<Metadata<Targets>> {
    const next = await nextTargets(h, 'targets', (t) => { for (const f of files) t.set(f.path, f); });
    const t = new Targets({ specVersion: SPEC_VERSION, version: version ?? next.version, expires: formatExpires(expiresMs ?? next.expiresMs), targets: next.targets, delegations: next.delegations });
    return Metadata.of(t, ...signers);
  }

  describe('top-level targets', () => {
    it('accepts targets signed by a threshold of the root\'s targets keys and publishes snapshot and timestamp', async () => {
      assert.equal((await uploadImage(h, 'gw/fw-1.bin', fw1)).statusCode, 201);
      const tf = TargetFile.fromData('gw/fw-1.bin', fw1, uptaneCustom({ hardwareIds: ['gw'], releaseCounter: 1 }));
      const md = await targetsWith([tf]);
      const r = await putMetadata(h, 'targets', md);
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { role: 'targets', version: 1, snapshotVersion: 1, timestampVersion: 1 });

      const targetsBytes = await served(h, '1.targets.json');
      assert.deepEqual(Metadata.fromBytes(targetsBytes, 'targets').signed.toJSON(), md.signed.toJSON());
      const snapBytes = await served(h, '1.snapshot.json');
      const snap = Metadata.fromBytes(snapBytes, 'snapshot');
      assert.deepEqual(snap.signed.meta.get('targets.json')!.toJSON(), { version: 1, length: targetsBytes.byteLength, hashes: { sha256: sha256(targetsBytes) } });
      assert.equal(snap.signed.expiresMs, Math.floor((h.clock.now + h.ctx.config.snapshotExpiryMs) / 1000) * 1000);
      const tsRes = await h.app.inject({ url: '/repo/image/timestamp.json' });
      assert.equal(tsRes.headers['cache-control'], 'no-cache');
      const ts = Metadata.fromBytes(tsRes.rawPayload, 'timestamp');
      assert.deepEqual(ts.signed.snapshotMeta.toJSON(), { version: 1, length: snapBytes.byteLength, hashes: { sha256: sha256(snapBytes) } });
      assert.equal(ts.signed.expiresMs, Math.floor((h.clock.now + h.ctx.config.timestampExpiryMs) / 1000) * 1000);
      const online = await onlineKeys(h);
      assert.deepEqual([...ts.signatures.keys()], [online.timestamp.active[0]!.keyId]);
      assert.deepEqual([...snap.signatures.keys()], [online.snapshot.active[0]!.keyId]);
      assert.match(String((await h.app.inject({ url: '/repo/image/1.snapshot.json' })).headers['cache-control']), /immutable/);
    });

    it('serves the current targets to release managers and auditors for offline signing', async () => {
      const r = await h.app.inject({ url: '/api/v1/image-repo/metadata/targets', headers: h.auth('release-manager') });
      assert.equal(r.statusCode, 200);
      assert.equal(Metadata.fromBytes(r.rawPayload, 'targets').signed.version, 1);
      assert.equal((await h.app.inject({ url: '/api/v1/image-repo/metadata/targets', headers: h.auth('operator') })).statusCode, 403);
      assert.equal((await h.app.inject({ url: '/api/v1/image-repo/metadata/nobody', headers: h.auth('auditor') })).json<ErrorJSON>().error.code, 'METADATA_NOT_FOUND');
    });

    it('refuses targets signed with a wrong key, and counts the refusal', async () => {
      const before = await failures(h, 'METADATA_REJECTED');
      const r = await putMetadata(h, 'targets', await targetsWith([], offlineKeys(2)));
      assert.equal(r.statusCode, 422);
      const e = r.json<ErrorJSON>().error;
      assert.equal(e.code, 'METADATA_REJECTED');
      assert.match(e.message, /0 of 2 required signatures/);
      assert.equal(await failures(h, 'METADATA_REJECTED'), before + 1);
    });

    it('refuses targets with one of the two required signatures', async () => {
      const r = await putMetadata(h, 'targets', await targetsWith([], [targetsKeys[0]!]));
      assert.equal(r.statusCode, 422);
      const e = r.json<ErrorJSON>().error;
      assert.match(e.message, /1 of 2 required signatures/);
      assert.deepEqual(e.details!['missing'], [targetsKeys[1]!.keyId]);
    });

    it('refuses a signature that does not verify (tampered after signing)', async () => {
      const md = await targetsWith([]);
      const json = md.toJSON() as { signed: { expires: string } };
      json.signed.expires = formatExpires(h.clock.now + 2 * TARGETS_LIFETIME_MS);
      const r = await putMetadata(h, 'targets', Buffer.from(JSON.stringify(json)));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /did not verify/);
    });

    it('refuses a version other than current + 1', async () => {
      for (const v of [1, 3]) {
        const r = await putMetadata(h, 'targets', await targetsWith([], targetsKeys, v));
        assert.equal(r.statusCode, 422);
        assert.match(r.json<ErrorJSON>().error.message, new RegExp(`expected version 2, got ${v}`));
      }
    });

    it('refuses expired targets', async () => {
      const r = await putMetadata(h, 'targets', await targetsWith([], targetsKeys, undefined, h.clock.now - 1000));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /expired/);
    });

    it('refuses targets naming an image whose bytes were not uploaded', async () => {
      const before = await failures(h, 'IMAGE_NOT_UPLOADED');
      const ghost = TargetFile.fromData('gw/ghost.bin', Buffer.from('never uploaded'));
      const r = await putMetadata(h, 'targets', await targetsWith([ghost]));
      assert.equal(r.statusCode, 422);
      const e = r.json<ErrorJSON>().error;
      assert.equal(e.code, 'IMAGE_NOT_UPLOADED');
      assert.deepEqual(e.details!['missing'], [{ path: 'gw/ghost.bin', reason: 'not uploaded' }]);
      assert.equal(await failures(h, 'IMAGE_NOT_UPLOADED'), before + 1);
    });

    it('refuses targets naming an uploaded image with other hashes or another length', async () => {
      const other = Buffer.from('gateway firmware X');
      assert.equal(other.length, fw1.length);
      const wrongHash = new TargetFile({ path: 'gw/fw-1.bin', length: fw1.length, hashes: { sha256: sha256(other) } });
      const r1 = await putMetadata(h, 'targets', await targetsWith([wrongHash]));
      assert.equal(r1.statusCode, 422);
      assert.deepEqual(r1.json<ErrorJSON>().error.details!['missing'], [{ path: 'gw/fw-1.bin', reason: 'sha256 differs from the uploaded bytes' }]);
      const good = TargetFile.fromData('gw/fw-1.bin', fw1);
      const wrong512 = new TargetFile({ path: 'gw/fw-1.bin', length: fw1.length, hashes: { sha256: good.hashes['sha256']!, sha512: '00'.repeat(64) } });
      const r2 = await putMetadata(h, 'targets', await targetsWith([wrong512]));
      assert.equal(r2.json<ErrorJSON>().error.code, 'IMAGE_NOT_UPLOADED');
      const wrongLength = new TargetFile({ path: 'gw/fw-1.bin', length: fw1.length + 1, hashes: good.hashes });
      const r3 = await putMetadata(h, 'targets', await targetsWith([wrongLength]));
      assert.match(String((r3.json<ErrorJSON>().error.details!['missing'] as Array<{ reason: string }>)[0]!.reason), /length/);
    });

    it('refuses malformed Uptane custom fields and metadata of another type', async () => {
      const tf = TargetFile.fromData('gw/fw-1.bin', fw1, { hardwareIds: [] });
      const r = await putMetadata(h, 'targets', await targetsWith([tf]));
      assert.equal(r.statusCode, 400);
      assert.equal(r.json<ErrorJSON>().error.code, 'BAD_METADATA');
      const root = await putMetadata(h, 'targets', imageRepoState(h).root);
      assert.equal(root.statusCode, 400);
      assert.match(root.json<ErrorJSON>().error.message, /expected targets metadata/);
    });

    it('refuses uploads of snapshot or timestamp (signed by the server only)', async () => {
      for (const role of ['snapshot', 'timestamp']) {
        const r = await putMetadata(h, role, await targetsWith([]));
        assert.equal(r.statusCode, 422);
        assert.match(r.json<ErrorJSON>().error.message, /not a targets role/);
      }
    });

    it('publishes the next version: targets v2, snapshot v2, timestamp v2', async () => {
      await publishImage(h, 'gw/fw-2.bin', Buffer.from('gateway firmware 2'), { hardwareIds: ['gw'], releaseCounter: 2 });
      const t = await currentTargetsOf(h, 'targets');
      assert.equal(t!.version, 2);
      assert.deepEqual([...t!.targets.keys()].sort(), ['gw/fw-1.bin', 'gw/fw-2.bin']);
      assert.equal(Metadata.fromBytes(await served(h, 'timestamp.json'), 'timestamp').signed.snapshotMeta.version, 2);
    });
  });

  describe('delegated targets', () => {
    const supplierBytes = Buffer.from('supplier A brake controller');

    it('refuses a role that no current targets role delegates to', async () => {
      const t = new Targets({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(h.clock.now + TARGETS_LIFETIME_MS), targets: new Map() });
      const r = await putMetadata(h, 'supplier-a', Metadata.of(t, ...supplierKeys));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /no current targets role delegates to supplier-a/);
    });

    it('accepts a role signed by the supplier key that top-level targets delegates to', async () => {
      await delegateRole(h, { name: 'supplier-a', paths: ['supplier-a/*'], keys: supplierKeys });
      const tf = await publishImage(h, 'supplier-a/brake.bin', supplierBytes, { hardwareIds: ['brake'], releaseCounter: 1, role: 'supplier-a' });
      const snap = Metadata.fromBytes(await served(h, 'timestamp.json'), 'timestamp').signed.snapshotMeta.version;
      const snapshot = Metadata.fromBytes(await served(h, `${snap}.snapshot.json`), 'snapshot').signed;
      assert.equal(snapshot.meta.get('supplier-a.json')!.version, 1);
      assert.equal(snapshot.meta.get('targets.json')!.version, 3);
      const role = Metadata.fromBytes(await served(h, '1.supplier-a.json'), 'targets').signed;
      assert.deepEqual(role.targets.get('supplier-a/brake.bin')!.toJSON(), tf.toJSON());
    });

    it('refuses the delegated role signed by another key (even the top-level targets keys)', async () => {
      const t = await nextTargets(h, 'supplier-a', () => undefined);
      for (const keys of [offlineKeys(1), targetsKeys]) {
        const r = await putMetadata(h, 'supplier-a', Metadata.of(t, ...keys));
        assert.equal(r.statusCode, 422);
        assert.match(r.json<ErrorJSON>().error.message, /not signed by a threshold of the keys targets delegates to it/);
      }
    });

    it('refuses a delegated role listing targets outside its delegated paths', async () => {
      await uploadImage(h, 'supplier-b/other.bin', Buffer.from('b'));
      const t = await nextTargets(h, 'supplier-a', (targets) => { targets.set('supplier-b/other.bin', TargetFile.fromData('supplier-b/other.bin', Buffer.from('b'))); });
      const r = await putMetadata(h, 'supplier-a', Metadata.of(t, ...supplierKeys));
      assert.equal(r.statusCode, 422);
      assert.deepEqual(r.json<ErrorJSON>().error.details!['outside'], ['supplier-b/other.bin']);
    });

    it('refuses a replayed delegated role version', async () => {
      const r = await putMetadata(h, 'supplier-a', Buffer.from(await served(h, '1.supplier-a.json')));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /expected version 2, got 1/);
    });

    it('accepts the next delegated version signed by the supplier', async () => {
      const t = await nextTargets(h, 'supplier-a', () => undefined);
      await signAndPut(h, 'supplier-a', t);
      assert.equal((await currentTargetsOf(h, 'supplier-a'))!.version, 2);
    });
  });
});

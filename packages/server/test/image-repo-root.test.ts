import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Key, Metadata, Role, Root, UnsignedMetadataError } from '@reflash/metadata';
import type { Timestamp } from '@reflash/metadata';
import { TrustedMetadataSet } from '@reflash/verify';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import {
  buildRoot, createPendingKey, imageRepoState, imageUpdater, initImageRepo, nextRoot, offlineKeys, onlineKeys, publishImage, putMetadata, putRoot, rotateRoot,
} from './support/image-repo.js';
import type { OnlineKeyInfo } from './support/image-repo.js';

interface ErrorJSON { error: { code: string; message: string; details?: Record<string, unknown> } }

async function failures(h: Harness, code: string): Promise<number> {
  const m = await h.ctx.metrics.verificationFailures.get();
  return m.values.find((v) => v.labels.code === code)?.value ?? 0;
}

function asKeys(signers: ReturnType<typeof offlineKeys>): OnlineKeyInfo[] {
  return signers.map((s) => ({ keyId: s.keyId, key: s.key }));
}

forEachDialect('image repository root', (dialect) => {
  describe('root v1', () => {
    let h: Harness;
    const rootKeys = offlineKeys(2);
    const targetsKeys = offlineKeys(1);
    let online: Awaited<ReturnType<typeof onlineKeys>>;
    before(async () => {
      h = await makeHarness(dialect);
      online = await onlineKeys(h);
    });
    after(async () => { await h.close(); });

    const v1 = (over: Partial<Parameters<typeof buildRoot>[1]> = {}): ReturnType<typeof buildRoot> => buildRoot(h, {
      version: 1, rootKeys, targetsKeys, snapshotKeys: online.snapshot.active, timestampKeys: online.timestamp.active, rootThreshold: 2, ...over,
    });

    it('lists one active snapshot and one active timestamp key before initialisation', () => {
      assert.equal(online.snapshot.active.length, 1);
      assert.equal(online.timestamp.active.length, 1);
      assert.equal(online.snapshot.pending.length, 0);
    });

    it('only an admin creates online keys; release managers and auditors list them', async () => {
      const rm = await h.app.inject({ method: 'POST', url: '/api/v1/image-repo/online-keys', headers: h.auth('release-manager'), payload: { role: 'timestamp' } });
      assert.equal(rm.statusCode, 403);
      const bad = await h.app.inject({ method: 'POST', url: '/api/v1/image-repo/online-keys', headers: h.auth('admin'), payload: { role: 'targets' } });
      assert.equal(bad.statusCode, 400);
      assert.equal((await h.app.inject({ url: '/api/v1/image-repo/online-keys', headers: h.auth('operator') })).statusCode, 403);
      assert.equal((await h.app.inject({ url: '/api/v1/image-repo/online-keys', headers: h.auth('release-manager') })).statusCode, 200);
    });

    it('refuses targets while there is no root (REPO_NOT_INITIALISED)', async () => {
      const r = await putMetadata(h, 'targets', Buffer.from('{"signed":{"_type":"targets","spec_version":"1.0.31","version":1,"expires":"2030-01-01T00:00:00Z","targets":{}},"signatures":[]}'));
      assert.equal(r.statusCode, 409);
      assert.equal(r.json<ErrorJSON>().error.code, 'REPO_NOT_INITIALISED');
    });

    it('refuses a root that names snapshot and timestamp keys the server does not hold, and says which', async () => {
      const before = await failures(h, 'METADATA_REJECTED');
      const stranger = offlineKeys(1);
      const r = await putRoot(h, Metadata.of(v1({ snapshotKeys: asKeys(stranger) }), ...rootKeys));
      assert.equal(r.statusCode, 422, r.body);
      const e = r.json<ErrorJSON>().error;
      assert.equal(e.code, 'METADATA_REJECTED');
      assert.match(e.message, /snapshot names key\(s\) the server does not hold/);
      const roles = e.details!['roles'] as Record<string, { unknown: string[]; serverKeys: Array<{ keyId: string }> }>;
      assert.deepEqual(roles['snapshot']!.unknown, [stranger[0]!.keyId]);
      assert.deepEqual(roles['snapshot']!.serverKeys.map((k) => k.keyId), [online.snapshot.active[0]!.keyId]);
      assert.deepEqual(roles['timestamp']!.unknown, []);
      assert.equal(await failures(h, 'METADATA_REJECTED'), before + 1);
    });

    it('refuses a root that swaps the snapshot and timestamp keys', async () => {
      const r = await putRoot(h, Metadata.of(v1({ snapshotKeys: online.timestamp.active, timestampKeys: online.snapshot.active }), ...rootKeys));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /snapshot names the server's timestamp key/);
    });

    it('refuses a root whose offline targets role uses a server online key', async () => {
      const root = v1();
      const roles = new Map(root.roles);
      roles.set('targets', new Role([online.snapshot.active[0]!.keyId], 1));
      const bad = new Root({ specVersion: root.specVersion, version: 1, expires: root.expires, consistentSnapshot: true, keys: root.keys, roles });
      const r = await putRoot(h, Metadata.of(bad, ...rootKeys));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /targets must use offline keys/);
    });

    it('refuses a root v1 whose self-signatures do not reach its threshold', async () => {
      const r = await putRoot(h, Metadata.of(v1(), rootKeys[0]!));
      assert.equal(r.statusCode, 422);
      const e = r.json<ErrorJSON>().error;
      assert.equal(e.code, 'METADATA_REJECTED');
      assert.match(e.message, /1 of 2 required signatures/);
      assert.deepEqual(e.details!['missing'], [rootKeys[1]!.keyId]);
    });

    it('refuses a root v1 signed by keys it does not list', async () => {
      const r = await putRoot(h, Metadata.of(v1({ rootThreshold: 1 }), ...offlineKeys(1)));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /0 of 1 required signatures/);
    });

    it('refuses an expired root v1', async () => {
      const r = await putRoot(h, Metadata.of(v1({ expiresMs: h.clock.now - 1000 }), ...rootKeys));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /expired/);
    });

    it('refuses a first root with a version other than 1', async () => {
      const r = await putRoot(h, Metadata.of(v1({ version: 2 }), ...rootKeys));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /first root must be version 1/);
    });

    it('refuses a root without consistent snapshots', async () => {
      const r = await putRoot(h, Metadata.of(v1({ consistentSnapshot: false }), ...rootKeys));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /consistent_snapshot/);
    });

    it('refuses malformed and wrong-type metadata with BAD_METADATA', async () => {
      const before = await failures(h, 'BAD_METADATA');
      const r1 = await putRoot(h, Buffer.from('{"signed":{"_type":"root"},"signatures":[]}'));
      assert.equal(r1.statusCode, 400);
      assert.equal(r1.json<ErrorJSON>().error.code, 'BAD_METADATA');
      const r2 = await putRoot(h, Buffer.from('{"signed":{"_type":"targets","spec_version":"1.0.31","version":1,"expires":"2030-01-01T00:00:00Z","targets":{}},"signatures":[]}'));
      assert.equal(r2.statusCode, 400);
      assert.match(r2.json<ErrorJSON>().error.message, /expected root metadata/);
      assert.equal(await failures(h, 'BAD_METADATA'), before + 2);
    });

    it('only a release manager may upload a root', async () => {
      const r = await h.app.inject({ method: 'PUT', url: '/api/v1/image-repo/root', headers: { ...h.auth('auditor'), 'content-type': 'application/json' }, payload: Metadata.of(v1(), ...rootKeys).toJSON() });
      assert.equal(r.statusCode, 403);
      const anon = await h.app.inject({ method: 'PUT', url: '/api/v1/image-repo/root', payload: {} });
      assert.equal(anon.statusCode, 401);
    });

    it('accepts a self-signed root v1 naming the online keys and serves it', async () => {
      const md = Metadata.of(v1(), ...rootKeys);
      const r = await putRoot(h, md);
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { role: 'root', version: 1, activatedKeys: [], retiredKeys: [] });
      for (const name of ['root.json', '1.root.json']) {
        const f = await h.app.inject({ url: `/repo/image/${name}` });
        assert.equal(f.statusCode, 200);
        assert.match(String(f.headers['content-type']), /^application\/json/);
        assert.deepEqual(Metadata.fromBytes(f.rawPayload, 'root').signed.toJSON(), md.signed.toJSON());
      }
      assert.equal((await h.app.inject({ url: '/repo/image/root.json' })).headers['cache-control'], 'no-cache');
      assert.match(String((await h.app.inject({ url: '/repo/image/1.root.json' })).headers['cache-control']), /immutable/);
      // No targets yet: nothing else is published.
      const ts = await h.app.inject({ url: '/repo/image/timestamp.json' });
      assert.equal(ts.statusCode, 404);
      assert.equal(ts.json<ErrorJSON>().error.code, 'METADATA_NOT_FOUND');
      const got = await h.app.inject({ url: '/api/v1/image-repo/metadata/root', headers: h.auth('auditor') });
      assert.equal(got.statusCode, 200);
      assert.equal(Metadata.fromBytes(got.rawPayload, 'root').signed.version, 1);
    });

    it('refuses a second root v1 with REPO_ALREADY_INITIALISED', async () => {
      const r = await putRoot(h, Metadata.of(v1(), ...rootKeys));
      assert.equal(r.statusCode, 409);
      assert.equal(r.json<ErrorJSON>().error.code, 'REPO_ALREADY_INITIALISED');
    });
  });

  describe('root rotation', () => {
    let h: Harness;
    before(async () => {
      h = await makeHarness(dialect);
      await initImageRepo(h, { rootKeys: offlineKeys(2), targetsKeys: offlineKeys(1), rootThreshold: 2 });
      await publishImage(h, 'ecu-a/fw-1.bin', Buffer.from('firmware one'), { hardwareIds: ['ecu-a'], releaseCounter: 1 });
    });
    after(async () => { await h.close(); });

    it('refuses root N+1 that lacks the old root keys\' signatures', async () => {
      const { md } = nextRoot(h, { rootKeys: offlineKeys(2), signWithOld: false });
      const r = await putRoot(h, md);
      assert.equal(r.statusCode, 422, r.body);
      const e = r.json<ErrorJSON>().error;
      assert.equal(e.code, 'METADATA_REJECTED');
      assert.match(e.message, /old keys/);
      assert.deepEqual((e.details!['oldKeys'] as { signed: string[] }).signed, []);
      assert.equal(e.details!['expectedVersion'], 2);
    });

    it('refuses root N+1 that lacks the new root keys\' signatures', async () => {
      const { md } = nextRoot(h, { rootKeys: offlineKeys(2), signWithNew: false });
      const r = await putRoot(h, md);
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /new keys/);
    });

    it('refuses root N+1 with only one of the two old signatures required', async () => {
      const s = imageRepoState(h);
      const { md } = nextRoot(h, { signWithOld: false, signWithNew: false });
      const r = await putRoot(h, md.sign(s.rootKeys[0]!));
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /1 of 2 required signatures/);
    });

    it('accepts root N+1 signed by the old and the new root keys, and re-signs snapshot and timestamp', async () => {
      const tsBefore = Metadata.fromBytes((await h.app.inject({ url: '/repo/image/timestamp.json' })).rawPayload, 'timestamp').signed.version;
      const md = await rotateRoot(h, { rootKeys: offlineKeys(2) });
      assert.equal(md.signed.version, 2);
      const root = await h.app.inject({ url: '/repo/image/root.json' });
      assert.equal(Metadata.fromBytes(root.rawPayload, 'root').signed.version, 2);
      assert.equal((await h.app.inject({ url: '/repo/image/2.root.json' })).statusCode, 200);
      const ts = Metadata.fromBytes((await h.app.inject({ url: '/repo/image/timestamp.json' })).rawPayload, 'timestamp').signed;
      assert.equal(ts.version, tsBefore + 1);
      // A client that trusts root v1 follows the chain to v2 and refreshes.
      const { updater } = await imageUpdater(h);
      await updater.refresh();
      assert.equal(updater.trusted.root.signed.version, 2);
      assert.ok(await updater.getTargetInfo('ecu-a/fw-1.bin'));
    });

    it('refuses a root version that is not N+1 (replayed or skipped)', async () => {
      const s = imageRepoState(h);
      const replay = await putRoot(h, s.root);
      assert.equal(replay.statusCode, 422);
      assert.equal(replay.json<ErrorJSON>().error.details!['code'], 'ROLLBACK');
      const { md } = nextRoot(h);
      const skipped = Metadata.of(buildRoot(h, {
        version: md.signed.version + 1, rootKeys: s.rootKeys, targetsKeys: s.roleSigners.get('targets')!, rootThreshold: 2,
        snapshotKeys: md.signed.role('snapshot').keyids.map((id) => ({ keyId: id, key: md.signed.keys.get(id)! })),
        timestampKeys: md.signed.role('timestamp').keyids.map((id) => ({ keyId: id, key: md.signed.keys.get(id)! })),
      }), ...s.rootKeys);
      const r = await putRoot(h, skipped);
      assert.equal(r.statusCode, 422);
      assert.equal(r.json<ErrorJSON>().error.details!['code'], 'BAD_VERSION');
    });

    it('rotating the timestamp key to a pending online key activates it; the next timestamp is signed by it only', async () => {
      const before = await onlineKeys(h);
      const oldTs = before.timestamp.active[0]!;
      const pending = await createPendingKey(h, 'timestamp');
      const spare = await createPendingKey(h, 'snapshot');
      const listed = await onlineKeys(h);
      assert.deepEqual(listed.timestamp.pending.map((k) => k.keyId), [pending.keyId]);
      // A pending key does not sign yet.
      const tsNow = Metadata.fromBytes((await h.app.inject({ url: '/repo/image/timestamp.json' })).rawPayload, 'timestamp');
      assert.deepEqual([...tsNow.signatures.keys()], [oldTs.keyId]);

      const { md } = nextRoot(h, { timestampKeys: [pending] });
      const r = await putRoot(h, md);
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json<{ activatedKeys: string[]; retiredKeys: string[]; timestampVersion: number }>();
      assert.deepEqual(body.activatedKeys, [pending.keyId]);
      assert.deepEqual(body.retiredKeys, [oldTs.keyId]);
      imageRepoState(h).root = md;

      const after = await onlineKeys(h);
      assert.deepEqual(after.timestamp.active.map((k) => k.keyId), [pending.keyId]);
      assert.deepEqual(after.timestamp.pending, []);
      // A pending key that the root does not name yet stays pending (and unused).
      assert.deepEqual(after.snapshot.pending.map((k) => k.keyId), [spare.keyId]);

      const tsBytes = (await h.app.inject({ url: '/repo/image/timestamp.json' })).rawPayload;
      const ts = Metadata.fromBytes(tsBytes, 'timestamp');
      assert.equal(ts.signed.version, body.timestampVersion);
      assert.deepEqual([...ts.signatures.keys()], [pending.keyId]);
      // It verifies from the new root, and not from the previous one.
      const trusted = new TrustedMetadataSet(md.toBytes(), h.clock.now);
      const verified: Metadata<Timestamp> = trusted.updateTimestamp(tsBytes);
      assert.equal(verified.signed.version, ts.signed.version);
      const prevRoot = (await h.app.inject({ url: `/repo/image/${md.signed.version - 1}.root.json` })).rawPayload;
      assert.throws(() => new TrustedMetadataSet(prevRoot, h.clock.now).updateTimestamp(tsBytes), UnsignedMetadataError);

      // Later publications keep using the new key only.
      await publishImage(h, 'ecu-a/fw-2.bin', Buffer.from('firmware two'), { hardwareIds: ['ecu-a'], releaseCounter: 2 });
      const ts2 = Metadata.fromBytes((await h.app.inject({ url: '/repo/image/timestamp.json' })).rawPayload, 'timestamp');
      assert.deepEqual([...ts2.signatures.keys()], [pending.keyId]);
      const { updater } = await imageUpdater(h);
      await updater.refresh();
      assert.ok(await updater.getTargetInfo('ecu-a/fw-2.bin'));
    });

    it('refuses a root naming a retired online key', async () => {
      const retired = await h.ctx.db.kysely.selectFrom('online_keys').select(['key_id', 'public_json']).where('repo', '=', 'image').where('status', '=', 'retired').execute();
      assert.equal(retired.length, 1);
      const key = { keyId: retired[0]!.key_id, key: Key.fromJSON(JSON.parse(retired[0]!.public_json)) };
      const { md } = nextRoot(h, { timestampKeys: [key] });
      const r = await putRoot(h, md);
      assert.equal(r.statusCode, 422);
      assert.match(r.json<ErrorJSON>().error.message, /timestamp names key\(s\) the server does not hold/);
    });
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generateSigner, signRequest } from '@reflash/metadata';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { initImageRepo, nextTargets, offlineKeys, publishImage, signAndPut, uploadImage } from './support/image-repo.js';

interface ErrorJSON { error: { code: string; message: string; details?: Record<string, unknown> } }

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const sha512 = (b: Uint8Array): string => createHash('sha512').update(b).digest('hex');

/** A stream of `data` in chunks of `size` bytes. */
function chunked(data: Buffer, size = 64 * 1024): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
  })());
}

function tmpFiles(h: Harness): string[] {
  const dir = join(h.ctx.config.blobDir, 'tmp');
  return existsSync(dir) ? readdirSync(dir) : [];
}

function blobExists(h: Harness, hash: string): boolean {
  return existsSync(join(h.ctx.config.blobDir, hash.slice(0, 2), hash));
}

async function failures(h: Harness, code: string): Promise<number> {
  const m = await h.ctx.metrics.verificationFailures.get();
  return m.values.find((v) => v.labels.code === code)?.value ?? 0;
}

const MAX = 4 * 1024 * 1024;

forEachDialect('images', (dialect) => {
  let h: Harness;
  before(async () => { h = await makeHarness(dialect, { maxImageSize: MAX }); });
  after(async () => { await h.close(); });

  describe('upload', () => {
    const big = randomBytes(3 * 1024 * 1024 + 17);

    it('streams an upload to the blob store and records its length and hashes', async () => {
      const r = await uploadImage(h, 'ecu-a/big.bin', chunked(big), { 'content-length': String(big.length) });
      assert.equal(r.statusCode, 201, r.body);
      assert.deepEqual(r.json(), { filename: 'ecu-a/big.bin', length: big.length, hashes: { sha256: sha256(big), sha512: sha512(big) } });
      assert.ok(blobExists(h, sha256(big)));
      assert.deepEqual(tmpFiles(h), []);
      const info = await h.app.inject({ url: '/api/v1/images/ecu-a/big.bin', headers: h.auth('operator') });
      assert.equal(info.statusCode, 200);
      const body = info.json<{ filename: string; length: number; signed: boolean; uploadedBy: string }>();
      assert.equal(body.length, big.length);
      assert.equal(body.signed, false);
      assert.equal(body.uploadedBy, 'test release-manager');
    });

    it('accepts the same bytes again under the same name (200, idempotent)', async () => {
      const r = await uploadImage(h, 'ecu-a/big.bin', chunked(big), { 'content-length': String(big.length), 'x-reflash-sha256': sha256(big) });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json<{ hashes: { sha256: string } }>().hashes.sha256, sha256(big));
    });

    it('refuses other bytes under an existing name (409) and keeps no orphan blob', async () => {
      const other = Buffer.from('something else entirely');
      const r = await uploadImage(h, 'ecu-a/big.bin', other);
      assert.equal(r.statusCode, 409);
      const e = r.json<ErrorJSON>().error;
      assert.equal(e.code, 'IMAGE_EXISTS');
      assert.equal(e.details!['sha256'], sha256(big));
      assert.equal(blobExists(h, sha256(other)), false);
      assert.ok(blobExists(h, sha256(big)));
      assert.deepEqual(tmpFiles(h), []);
      // Declared up front: refused before the body is read.
      const early = await uploadImage(h, 'ecu-a/big.bin', other, { 'x-reflash-sha256': sha256(other) });
      assert.equal(early.statusCode, 409);
    });

    it('keeps a blob that another name still references', async () => {
      const same = Buffer.from('shared bytes');
      assert.equal((await uploadImage(h, 'shared/one.bin', same)).statusCode, 201);
      assert.equal((await uploadImage(h, 'shared/two.bin', Buffer.from('two'))).statusCode, 201);
      assert.equal((await uploadImage(h, 'shared/two.bin', same)).statusCode, 409);
      assert.ok(blobExists(h, sha256(same)));
    });

    it('requires Content-Length (411)', async () => {
      const r = await uploadImage(h, 'ecu-a/nolength.bin', chunked(Buffer.from('abc')));
      assert.equal(r.statusCode, 411);
      assert.equal(r.json<ErrorJSON>().error.code, 'LENGTH_REQUIRED');
    });

    it('refuses a declared length above maxImageSize (413) before reading', async () => {
      const r = await uploadImage(h, 'ecu-a/huge.bin', chunked(Buffer.alloc(10)), { 'content-length': String(MAX + 1) });
      assert.equal(r.statusCode, 413);
      assert.equal(r.json<ErrorJSON>().error.code, 'PAYLOAD_TOO_LARGE');
      assert.equal(r.headers['connection'], 'close');
      assert.deepEqual(tmpFiles(h), []);
    });

    it('refuses a body longer than its declared length (413) and leaves nothing behind', async () => {
      const data = randomBytes(200_000);
      const r = await uploadImage(h, 'ecu-a/liar.bin', chunked(data, 10_000), { 'content-length': '50000' });
      assert.equal(r.statusCode, 413, r.body);
      assert.deepEqual(tmpFiles(h), []);
      assert.equal(blobExists(h, sha256(data)), false);
      assert.equal(blobExists(h, sha256(data.subarray(0, 50_000))), false);
      assert.equal((await h.app.inject({ url: '/api/v1/images/ecu-a/liar.bin', headers: h.auth('auditor') })).statusCode, 404);
    });

    it('refuses a body shorter than its declared length (UPLOAD_INCOMPLETE) and leaves nothing behind', async () => {
      const r = await uploadImage(h, 'ecu-a/short.bin', chunked(Buffer.alloc(100, 1)), { 'content-length': '1000' });
      assert.equal(r.statusCode, 400);
      assert.equal(r.json<ErrorJSON>().error.code, 'UPLOAD_INCOMPLETE');
      assert.deepEqual(tmpFiles(h), []);
    });

    it('checks x-reflash-sha256 (422 UPLOAD_MISMATCH, counted, nothing stored)', async () => {
      const before = await failures(h, 'UPLOAD_MISMATCH');
      const data = Buffer.from('bytes with a wrong declared hash');
      const r = await uploadImage(h, 'ecu-a/mismatch.bin', data, { 'x-reflash-sha256': sha256(Buffer.from('other')) });
      assert.equal(r.statusCode, 422);
      assert.equal(r.json<ErrorJSON>().error.code, 'UPLOAD_MISMATCH');
      assert.equal(blobExists(h, sha256(data)), false);
      assert.deepEqual(tmpFiles(h), []);
      assert.equal(await failures(h, 'UPLOAD_MISMATCH'), before + 1);
      const ok = await uploadImage(h, 'ecu-a/match.bin', data, { 'x-reflash-sha256': sha256(data).toUpperCase() });
      assert.equal(ok.statusCode, 201);
    });

    it('refuses bad image names', async () => {
      const bad = ['a%2F..%2Fb', 'a/..b', '%2Fabs.bin', 'a%5Cb.bin', 'a%01b.bin', 'a//b.bin', 'a%2F.%2Fb.bin', 'dir/', `${'x'.repeat(513)}`, 'x%0A.bin'];
      for (const name of bad) {
        const r = await h.app.inject({ method: 'PUT', url: `/api/v1/images/${name}`, headers: { ...h.auth('release-manager'), 'content-type': 'application/octet-stream', 'content-length': '1' }, payload: 'x' });
        assert.equal(r.statusCode, 400, `${name}: ${r.body}`);
        assert.equal(r.json<ErrorJSON>().error.code, 'VALIDATION_FAILED', name);
      }
      const badHash = await uploadImage(h, 'ecu-a/h.bin', Buffer.from('x'), { 'x-reflash-sha256': 'abc' });
      assert.equal(badHash.statusCode, 400);
    });

    it('requires application/octet-stream (415) and the release-manager role', async () => {
      const json = await h.app.inject({ method: 'PUT', url: '/api/v1/images/a.bin', headers: { ...h.auth('release-manager'), 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(json.statusCode, 415);
      assert.equal(json.json<ErrorJSON>().error.code, 'UNSUPPORTED_MEDIA_TYPE');
      const text = await h.app.inject({ method: 'PUT', url: '/api/v1/images/a.bin', headers: { ...h.auth('release-manager'), 'content-type': 'text/plain' }, payload: 'x' });
      assert.equal(text.statusCode, 415);
      const op = await h.app.inject({ method: 'PUT', url: '/api/v1/images/a.bin', headers: { ...h.auth('operator'), 'content-type': 'application/octet-stream' }, payload: 'x' });
      assert.equal(op.statusCode, 403);
      const anon = await h.app.inject({ method: 'PUT', url: '/api/v1/images/a.bin', headers: { 'content-type': 'application/octet-stream' }, payload: 'x' });
      assert.equal(anon.statusCode, 401);
    });

    it('accepts an empty image', async () => {
      const r = await uploadImage(h, 'ecu-a/empty.bin', Buffer.alloc(0));
      assert.equal(r.statusCode, 201, r.body);
      assert.equal(r.json<{ hashes: { sha256: string } }>().hashes.sha256, sha256(Buffer.alloc(0)));
    });

    it('lists images by name with ?limit and ?after', async () => {
      const all = await h.app.inject({ url: '/api/v1/images', headers: h.auth('auditor') });
      assert.equal(all.statusCode, 200);
      const names = all.json<{ images: Array<{ filename: string }> }>().images.map((i) => i.filename);
      assert.deepEqual(names, ['ecu-a/big.bin', 'ecu-a/empty.bin', 'ecu-a/match.bin', 'shared/one.bin', 'shared/two.bin']);
      const p1 = await h.app.inject({ url: '/api/v1/images?limit=3', headers: h.auth('operator') });
      const b1 = p1.json<{ images: Array<{ filename: string }>; next?: string }>();
      assert.deepEqual(b1.images.map((i) => i.filename), names.slice(0, 3));
      assert.equal(b1.next, names[2]);
      const p2 = await h.app.inject({ url: `/api/v1/images?limit=3&after=${encodeURIComponent(b1.next!)}`, headers: h.auth('operator') });
      const b2 = p2.json<{ images: Array<{ filename: string }>; next?: string }>();
      assert.deepEqual(b2.images.map((i) => i.filename), names.slice(3));
      assert.equal(b2.next, undefined);
      assert.equal((await h.app.inject({ url: '/api/v1/images?limit=0', headers: h.auth('operator') })).statusCode, 400);
      assert.equal((await h.app.inject({ url: '/api/v1/images/nope.bin', headers: h.auth('operator') })).json<ErrorJSON>().error.code, 'IMAGE_NOT_FOUND');
    });
  });

  describe('download', () => {
    const app = randomBytes(1000);
    const url = '/repo/image/targets/dl/app.bin';
    before(async () => {
      await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
      await publishImage(h, 'dl/app.bin', app, { hardwareIds: ['ecu'], releaseCounter: 1 });
      assert.equal((await uploadImage(h, 'dl/unsigned.bin', Buffer.from('not signed yet'))).statusCode, 201);
    });

    it('does not serve an uploaded image that no signed metadata lists', async () => {
      const r = await h.app.inject({ url: '/repo/image/targets/dl/unsigned.bin', headers: h.auth('operator') });
      assert.equal(r.statusCode, 404);
      assert.equal(r.json<ErrorJSON>().error.code, 'IMAGE_NOT_FOUND');
      const hashed = await h.app.inject({ url: `/repo/image/targets/dl/${sha256(Buffer.from('not signed yet'))}.unsigned.bin`, headers: h.auth('operator') });
      assert.equal(hashed.statusCode, 404);
    });

    it('serves a signed image whole, by plain and hash-prefixed names', async () => {
      for (const u of [url, `/repo/image/targets/dl/${sha256(app)}.app.bin`, `/repo/image/targets/dl/${sha512(app)}.app.bin`]) {
        const r = await h.app.inject({ url: u, headers: h.auth('operator') });
        assert.equal(r.statusCode, 200, u);
        assert.deepEqual(r.rawPayload, app);
        assert.equal(r.headers['content-length'], '1000');
        assert.equal(r.headers['content-type'], 'application/octet-stream');
        assert.equal(r.headers['accept-ranges'], 'bytes');
        assert.equal(r.headers['etag'], `"${sha256(app)}"`);
      }
      const wrong = await h.app.inject({ url: `/repo/image/targets/dl/${sha256(Buffer.from('x'))}.app.bin`, headers: h.auth('operator') });
      assert.equal(wrong.statusCode, 404);
    });

    it('serves byte ranges (206) including open and suffix ranges', async () => {
      const cases: Array<[string, number, number]> = [
        ['bytes=0-99', 0, 99], ['bytes=900-', 900, 999], ['bytes=-100', 900, 999], ['bytes=990-5000', 990, 999], ['bytes=-5000', 0, 999], ['bytes=999-999', 999, 999],
      ];
      for (const [range, start, end] of cases) {
        const r = await h.app.inject({ url, headers: { ...h.auth('operator'), range } });
        assert.equal(r.statusCode, 206, range);
        assert.equal(r.headers['content-range'], `bytes ${start}-${end}/1000`, range);
        assert.equal(r.headers['content-length'], String(end - start + 1), range);
        assert.deepEqual(r.rawPayload, app.subarray(start, end + 1), range);
      }
    });

    it('answers 416 with Content-Range for unsatisfiable ranges; serves the whole image for ranges it does not support', async () => {
      for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
        const r = await h.app.inject({ url, headers: { ...h.auth('operator'), range } });
        assert.equal(r.statusCode, 416, range);
        assert.equal(r.headers['content-range'], 'bytes */1000');
        assert.equal(r.json<ErrorJSON>().error.code, 'BAD_RANGE');
      }
      for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=5-1', 'bytes=abc']) {
        const r = await h.app.inject({ url, headers: { ...h.auth('operator'), range } });
        assert.equal(r.statusCode, 200, range);
        assert.equal(r.rawPayload.length, 1000);
      }
    });

    it('answers HEAD with the headers only', async () => {
      const r = await h.app.inject({ method: 'HEAD', url, headers: h.auth('auditor') });
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['content-length'], '1000');
      assert.equal(r.rawPayload.length, 0);
      const ranged = await h.app.inject({ method: 'HEAD', url, headers: { ...h.auth('auditor'), range: 'bytes=-10' } });
      assert.equal(ranged.statusCode, 206);
      assert.equal(ranged.headers['content-length'], '10');
      assert.equal(ranged.headers['content-range'], 'bytes 990-999/1000');
    });

    it('refuses anonymous downloads (401) and accepts any operator token or a registered vehicle', async () => {
      const anon = await h.app.inject({ url });
      assert.equal(anon.statusCode, 401);
      assert.equal(anon.json<ErrorJSON>().error.code, 'UNAUTHENTICATED');
      for (const role of ['admin', 'operator', 'release-manager', 'auditor'] as const) {
        assert.equal((await h.app.inject({ url, headers: h.auth(role) })).statusCode, 200, role);
      }
      const primary = generateSigner('ed25519');
      await h.ctx.db.kysely.insertInto('vehicles').values({ vin: 'VIN0000000000DL01', model: 'test', primary_ecu_serial: 'PRI-1', created_at: h.clock.now, last_seen_at: null, manifest_count: 0 }).execute();
      await h.ctx.db.kysely.insertInto('ecus').values({
        serial: 'PRI-1', vin: 'VIN0000000000DL01', hardware_id: 'ecu', public_key: JSON.stringify(primary.key.toJSON()), key_id: primary.keyId,
        last_counter: null, installed_filename: null, installed_length: null, installed_sha256: null, installed_at: null,
      }).execute();
      const headers = signRequest({ method: 'GET', url, keyid: primary.keyId, privateKey: primary.privateKey, nowSeconds: Math.floor(h.clock.now / 1000) });
      const r = await h.app.inject({ url, headers: { ...headers, range: 'bytes=0-9' } });
      assert.equal(r.statusCode, 206, r.body);
      assert.deepEqual(r.rawPayload, app.subarray(0, 10));
      const forged = signRequest({ method: 'GET', url, keyid: primary.keyId, privateKey: generateSigner().privateKey, nowSeconds: Math.floor(h.clock.now / 1000) });
      assert.equal((await h.app.inject({ url, headers: { ...forged } })).statusCode, 401);
    });

    it('stops serving an image once current signed metadata no longer lists it', async () => {
      await signAndPut(h, 'targets', await nextTargets(h, 'targets', (t) => { t.delete('dl/app.bin'); }));
      const r = await h.app.inject({ url, headers: h.auth('operator') });
      assert.equal(r.statusCode, 404);
      const info = await h.app.inject({ url: '/api/v1/images/dl/app.bin', headers: h.auth('operator') });
      assert.equal(info.json<{ signed: boolean }>().signed, false);
    });
  });
});

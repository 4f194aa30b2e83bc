/**
 * HttpBackend against a real server over HTTP (startServer, port 0, SQLite in a temp folder):
 * one vehicle is updated end to end with the same Primary as in the other tests (full
 * verification, signed requests, streamed download, A/B install), including a connection
 * dropped in the middle of a download that the Primary resumes with HTTP Range (206); the
 * server then marks the assignments installed. Also: Range answers, a 404, an oversized file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DownloadLengthError, FetchError, TargetFile, UsageError } from '@reflash/metadata';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DIRECTOR_ANSWER_TTL_MS, HttpBackend, parseDirectorFiles } from '../src/net/http-backend.js';
import { Primary } from '../src/primary/primary.js';
import { keptReceipts } from '../src/primary/receipts.js';
import { parseReceipt, parseVerifierKey, verifyReceipt } from '@reflash/log';
import type { Backend, ImageRequest, ImageResponse } from '../src/primary/ports.js';
import type { ImageInfo } from '../src/digest.js';
import { FakeHmi, FakeSignals } from './support/fakes.js';
import { LiveServer, liveEcus } from './support/live-server.js';
import { TEST_CONFIG } from './support/vehicle.js';

const IMAGE_BYTES = 300 * 1024;

/** Cuts the first transfer after `cutAt` bytes (the HTTP connection is dropped); records requests. */
class DroppingBackend implements Backend {
  readonly requests: Array<{ path: string; resumeFrom: number; start: number }> = [];
  #dropped = false;
  constructor(readonly inner: HttpBackend, readonly cutAt: number) {}
  get directorBaseUrl(): string { return this.inner.directorBaseUrl; }
  get imageBaseUrl(): string { return this.inner.imageBaseUrl; }
  get directorFetcher(): Backend['directorFetcher'] { return this.inner.directorFetcher; }
  get imageFetcher(): Backend['imageFetcher'] { return this.inner.imageFetcher; }
  sendManifest: Backend['sendManifest'] = (m, o) => this.inner.sendManifest(m, o);
  report: Backend['report'] = (r) => this.inner.report(r);
  async downloadImage(image: ImageInfo, req: ImageRequest): Promise<ImageResponse> {
    const res = await this.inner.downloadImage(image, req);
    this.requests.push({ path: image.filepath, resumeFrom: req.resumeFrom, start: res.start });
    if (this.#dropped) return res;
    this.#dropped = true;
    const cutAt = this.cutAt;
    async function* cut(): AsyncGenerator<Uint8Array> {
      let n = 0;
      for await (const c of res.body) {
        if (n + c.byteLength >= cutAt) {
          yield c.subarray(0, cutAt - n);
          throw new FetchError(0, 'connection dropped (test)');
        }
        n += c.byteLength;
        yield c;
      }
    }
    return { start: res.start, body: cut() };
  }
}

void describe('HttpBackend against a real server', () => {
  let live: LiveServer;
  let dir: string;
  const VIN = 'NET-0001';
  const ecus = liveEcus(VIN, 'net', 2, IMAGE_BYTES);

  before(async () => {
    live = await LiveServer.start();
    dir = await mkdtemp(join(tmpdir(), 'reflash-net-'));
    await live.publish(ecus);
  });
  after(async () => {
    await live.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it('updates a vehicle over HTTP; a dropped download resumes with Range (206)', async () => {
    const v = await live.vehicle(join(dir, 'v1'), VIN, ecus);
    const gateway = v.ecus[0]!;
    const seen: number[] = [];
    const paths: string[] = [];
    const http = new HttpBackend({ serverUrl: live.url, vin: VIN, keyId: gateway.signer.keyId, privateKey: gateway.signer.privateKey, onRequest: (r) => { seen.push(r.status); paths.push(`${r.method} ${r.path}`); } });
    const backend = new DroppingBackend(http, 100_000);
    const primary = await Primary.open({
      dir: v.primaryDir, vin: VIN, primaryEcuSerial: gateway.serial, signer: gateway.signer, ecus: v.ecus, backend,
      signals: new FakeSignals(), hmi: new FakeHmi(), config: TEST_CONFIG, sleep: () => Promise.resolve(),
    });
    const r = await primary.runCycle();
    assert.equal(r.outcome, 'success', JSON.stringify(r.record.outcome));
    for (const [i, e] of v.ecus.entries()) assert.equal(e.running.image?.filepath, ecus[i]!.v2.path);
    // The first transfer was cut at 100 000 bytes; the next request resumed there and got 206.
    const first = backend.requests[0]!;
    const resumed = backend.requests[1]!;
    assert.equal(first.resumeFrom, 0);
    assert.deepEqual({ path: resumed.path, resumeFrom: resumed.resumeFrom, start: resumed.start }, { path: first.path, resumeFrom: 100_000, start: 100_000 });
    assert.ok(seen.includes(206), `statuses ${seen.join(',')}`);
    // The check-in answer carried the Director metadata (?directorRoot=1): no Director GET at all.
    assert.ok(paths.includes('PUT /device/v1/manifest?directorRoot=1'), paths.join('\n'));
    assert.deepEqual(paths.filter((p) => p.includes('/repo/director/')), []);
    // The next check-in reports the new images: the server completes the assignments.
    assert.equal((await primary.runCycle()).outcome, 'no-update');
    const a = await live.json('GET', `/api/v1/assignments?vin=${VIN}`) as { assignments: Array<{ status: string }> };
    assert.deepEqual(a.assignments.map((x) => x.status), ['installed', 'installed']);
    // The check-in answer carried one accountability-log receipt per updated ECU; the Primary kept
    // them, and each verifies offline with only the log's public key.
    const kept = await keptReceipts(v.primaryDir);
    assert.equal(kept.size, ecus.length);
    const audit = live.server.ctx.audit;
    for (const [name, text] of kept) {
      const parsed = parseReceipt(text);
      assert.ok(parsed.extra !== undefined, name);
      const ok = verifyReceipt(text, parsed.extra, { origin: audit.origin, verifiers: [parseVerifierKey(audit.verifierKey)] });
      assert.equal(`${ok.index}-`, name.slice(0, name.indexOf('-') + 1));
    }
  });

  void it('Director metadata in a check-in answer are verified like fetched ones: an altered targets file is refused (an attack)', async () => {
    const vin = 'NET-0004';
    const mine = liveEcus(vin, 'net', 1, IMAGE_BYTES);
    const v = await live.vehicle(join(dir, 'v4'), vin, mine);
    // A man in the middle that alters the Director targets inside the check-in answer.
    let altered = 0;
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const up = httpRequest(`${live.url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            let bytes = Buffer.concat(body);
            if (req.method === 'PUT' && answer.statusCode === 200) {
              const o = JSON.parse(bytes.toString('utf8')) as { director?: { files: Record<string, string> } };
              for (const [name, b64] of Object.entries(o.director?.files ?? {})) {
                if (!name.endsWith('.targets.json')) continue;
                const text = Buffer.from(b64, 'base64').toString('utf8').replace(/"length":(\d+)/, (_m, n: string) => `"length":${Number(n) + 1}`);
                o.director!.files[name] = Buffer.from(text, 'utf8').toString('base64');
                altered += 1;
              }
              bytes = Buffer.from(JSON.stringify(o), 'utf8');
            }
            res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/json', 'content-length': bytes.length });
            res.end(bytes);
          });
        });
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (proxy.address() as AddressInfo).port;
      const gateway = v.ecus[0]!;
      const http = new HttpBackend({ serverUrl: `http://127.0.0.1:${port}`, vin, keyId: gateway.signer.keyId, privateKey: gateway.signer.privateKey });
      const primary = await Primary.open({
        dir: v.primaryDir, vin, primaryEcuSerial: gateway.serial, signer: gateway.signer, ecus: v.ecus, backend: http,
        signals: new FakeSignals(), hmi: new FakeHmi(), config: TEST_CONFIG, sleep: () => Promise.resolve(),
      });
      const r = await primary.runCycle();
      assert.ok(altered >= 1, 'the proxy altered the answer');
      assert.equal(r.outcome, 'rejected', JSON.stringify(r.record.outcome));
      assert.equal(gateway.running.image?.filepath, mine[0]!.v1.path, 'nothing installed');
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  void it('parseDirectorFiles: a malformed director in an answer is ignored (the Primary fetches the files)', () => {
    const ok = { rootVersion: 1, files: { 'timestamp.json': Buffer.from('{}').toString('base64'), '3.targets.json': '' } };
    assert.deepEqual([...parseDirectorFiles(ok)!.files.keys()], ['timestamp.json', '3.targets.json']);
    for (const bad of [
      null, [], 'x', { rootVersion: 0, files: {} }, { rootVersion: 1.5, files: {} }, { rootVersion: 1, files: [] },
      { rootVersion: 1, files: { '../x.json': '' } }, { rootVersion: 1, files: { 'timestamp.json': 'not base64!' } },
      { rootVersion: 1, files: { 'timestamp.json': 'abc' } }, { rootVersion: 1, files: { 'timestamp.json': 7 } },
      { rootVersion: 1, files: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`${i}.root.json`, ''])) },
    ]) assert.equal(parseDirectorFiles(bad), undefined, JSON.stringify(bad));
  });

  void it('fetchers: 404 for a missing file, DownloadLengthError past the limit; Range answers', async () => {
    const signer = (await live.vehicle(join(dir, 'v2'), 'NET-0002', liveEcus('NET-0002', 'net', 1, IMAGE_BYTES))).ecus[0]!.signer;
    const http = new HttpBackend({ serverUrl: live.url, vin: 'NET-0002', keyId: signer.keyId, privateKey: signer.privateKey });
    await assert.rejects(http.directorFetcher.fetch(`${http.directorBaseUrl}99.root.json`, 1 << 20), (e: unknown) => e instanceof FetchError && e.status === 404);
    await assert.rejects(http.imageFetcher.fetch(`${http.imageBaseUrl}1.root.json`, 10), DownloadLengthError);
    const tf = TargetFile.fromData(ecus[0]!.v2.path, ecus[0]!.v2.data);
    const info = { filepath: tf.path, length: tf.length, hashes: tf.hashes };
    const res = await http.downloadImage(info, { resumeFrom: IMAGE_BYTES - 10 });
    assert.equal(res.start, IMAGE_BYTES - 10);
    const chunks: Uint8Array[] = [];
    for await (const c of res.body) chunks.push(Buffer.from(c)); // a copy: the read buffer is reused
    assert.deepEqual(Buffer.concat(chunks), ecus[0]!.v2.data.subarray(IMAGE_BYTES - 10));
    await assert.rejects(http.downloadImage(info, { resumeFrom: IMAGE_BYTES + 1 }), (e: unknown) => e instanceof FetchError && e.status === 416);
    // Stopping early drops the connection without an error.
    const whole = await http.downloadImage(info, { resumeFrom: 0 });
    for await (const c of whole.body) {
      assert.ok(c.byteLength > 0);
      break;
    }
  });

  void it('the vehicle key signs only for its own server: another origin is refused before any request', async () => {
    const signer = (await live.vehicle(join(dir, 'v3'), 'NET-0003', liveEcus('NET-0003', 'net', 1, IMAGE_BYTES))).ecus[0]!.signer;
    const seen: string[] = [];
    const http = new HttpBackend({ serverUrl: live.url, vin: 'NET-0003', keyId: signer.keyId, privateKey: signer.privateKey, onRequest: (r) => seen.push(r.path) });
    const other = new URL(live.url);
    other.port = String(Number(other.port) + 1);
    await assert.rejects(http.directorFetcher.fetch(`${other.origin}/repo/director/NET-0003/timestamp.json`, 1 << 20), UsageError);
    await assert.rejects(http.imageFetcher.fetch('https://attacker.example/repo/image/1.root.json', 1 << 20), UsageError);
    assert.deepEqual(seen, []);
  });
});

void describe('HttpBackend: Director files from a check-in answer', () => {
  // A stand-in server: the manifest answer carries two Director files; every GET is counted and
  // answered "from the network".
  const gets: string[] = [];
  let url = '';
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'PUT') {
        const files = { 'timestamp.json': Buffer.from('{"answered":"timestamp"}').toString('base64'), '7.targets.json': Buffer.from('{"answered":"targets"}').toString('base64') };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ directorTargetsVersion: 7, pending: 0, receipts: [], director: { rootVersion: 3, files } }));
        return;
      }
      gets.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"fetched":true}');
    });
  });
  let now = 1_000_000;
  let http: HttpBackend;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { generateKeyPairSync } = await import('node:crypto');
    http = new HttpBackend({ serverUrl: url, vin: 'ANS-1', keyId: 'k', privateKey: generateKeyPairSync('ed25519').privateKey, now: () => now });
  });
  after(async () => { await new Promise<void>((resolve) => server.close(() => resolve())); });

  const manifest = { toJSON: () => ({ signatures: [], signed: {} }) } as unknown as Parameters<HttpBackend['sendManifest']>[0];
  const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

  void it('served once each, within the TTL; a root after the answer\'s newest is a 404 without a request; the size limit holds', async () => {
    gets.length = 0;
    const answer = await http.sendManifest(manifest, { directorRootVersion: 2 });
    assert.equal(answer.directorTargetsVersion, 7);
    const d = http.directorBaseUrl;
    await assert.rejects(http.directorFetcher.fetch(`${d}4.root.json`, 1 << 20), (e: unknown) => e instanceof FetchError && e.status === 404);
    assert.equal(text(await http.directorFetcher.fetch(`${d}timestamp.json`, 1 << 20)), '{"answered":"timestamp"}');
    assert.equal(text(await http.directorFetcher.fetch(`${d}timestamp.json`, 1 << 20)), '{"fetched":true}', 'a second fetch goes to the server');
    await assert.rejects(http.directorFetcher.fetch(`${d}7.targets.json`, 5), DownloadLengthError);
    assert.equal(text(await http.directorFetcher.fetch(`${d}3.root.json`, 1 << 20)), '{"fetched":true}', 'a root the answer did not carry is fetched');
    assert.deepEqual(gets, ['/repo/director/ANS-1/timestamp.json', '/repo/director/ANS-1/3.root.json']);
    // The image repository never takes Director files.
    assert.equal(text(await http.imageFetcher.fetch(`${http.imageBaseUrl}timestamp.json`, 1 << 20)), '{"fetched":true}');
  });

  void it('after the TTL, or after a check-in without directorRoot, everything is fetched', async () => {
    await http.sendManifest(manifest, { directorRootVersion: 2 });
    now += DIRECTOR_ANSWER_TTL_MS + 1;
    gets.length = 0;
    assert.equal(text(await http.directorFetcher.fetch(`${http.directorBaseUrl}timestamp.json`, 1 << 20)), '{"fetched":true}');
    await http.sendManifest(manifest, { directorRootVersion: 2 });
    await http.sendManifest(manifest);
    assert.equal(text(await http.directorFetcher.fetch(`${http.directorBaseUrl}timestamp.json`, 1 << 20)), '{"fetched":true}');
    assert.equal(text(await http.directorFetcher.fetch(`${http.directorBaseUrl}9.root.json`, 1 << 20)), '{"fetched":true}');
    assert.equal(gets.length, 3);
  });
});

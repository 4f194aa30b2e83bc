/**
 * DeviceClient (client/device.ts): every request is signed with the Primary key (RFC 9421, a
 * fresh nonce, created = the injected clock, Content-Digest for bodies) so that the server's
 * verifier accepts it; as a Fetcher it keeps to the size limit and maps statuses to FetchError;
 * it never signs for another origin.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DownloadLengthError, FetchError, UsageError, contentDigest, generateSigner, parseSignatureHeaders, signEcuReport,
  signVehicleManifest, vehicleManifestFromJSON, verifyRequestSignature,
} from '@reflash/metadata';
import { DeviceClient } from '../src/client/device.js';
import { TestServer } from './support/http.js';

const NOW = Date.parse('2026-11-21T12:00:00Z');

void describe('DeviceClient', () => {
  const primary = generateSigner();
  let server: TestServer;
  const seen: Array<{ method: string; url: string; verified: boolean; created: number; nonce: string; body: Buffer }> = [];

  before(async () => {
    server = await TestServer.start((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const url = req.url ?? '';
        const q = url.indexOf('?');
        const { params, signature } = parseSignatureHeaders(req.headers['signature-input'] as string, req.headers['signature'] as string);
        const digest = req.headers['content-digest'] as string | undefined;
        const digestOk = body.length === 0 || digest === contentDigest(body);
        const verified = digestOk && params.keyid === primary.keyId && verifyRequestSignature(
          { method: req.method ?? '', path: q === -1 ? url : url.slice(0, q), query: q === -1 ? '?' : url.slice(q), contentDigest: body.length === 0 ? undefined : digest },
          params, signature, primary.key);
        seen.push({ method: req.method ?? '', url, verified, created: params.created, nonce: params.nonce, body });
        if (!verified) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"BAD_REQUEST_SIGNATURE","message":"no"}}');
        if (req.method === 'PUT' && url === '/device/v1/manifest') {
          return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"directorTargetsVersion":3,"pending":1}');
        }
        if (url === '/repo/director/VIN%201/timestamp.json') return void res.writeHead(200).end('{"small":true}');
        if (url === '/repo/director/VIN%201/big.json') return void res.writeHead(200).end(Buffer.alloc(5000, 0x20));
        res.writeHead(404).end('{"error":{"code":"METADATA_NOT_FOUND","message":"none"}}');
      });
    });
  });
  after(() => server.close());

  const client = (): DeviceClient => new DeviceClient({ serverUrl: server.origin, vin: 'VIN 1', keyId: primary.keyId, privateKey: primary.privateKey, now: () => NOW });

  void it('sends a signed manifest the server can verify', async () => {
    seen.length = 0;
    const report = signEcuReport({ ecuSerial: 'P1', installedImage: { filepath: 'a.bin', length: 1, hashes: { sha256: '00' } }, attacksDetected: '', reportCounter: 1 }, primary);
    const manifest = signVehicleManifest('VIN 1', 'P1', [report], primary);
    assert.deepEqual(await client().sendManifest(manifest), { directorTargetsVersion: 3, pending: 1 });
    const r = seen[0]!;
    assert.ok(r.verified);
    assert.equal(r.created, NOW / 1000);
    assert.equal(vehicleManifestFromJSON(r.body).signed.vin, 'VIN 1');
  });

  void it('fetches Director metadata with signed GETs, unique nonces, within the size limit', async () => {
    seen.length = 0;
    const c = client();
    assert.equal(c.directorBaseUrl, `${server.origin}/repo/director/VIN%201/`);
    assert.equal(Buffer.from(await c.fetchDirector('timestamp.json')).toString(), '{"small":true}');
    await c.fetchDirector('timestamp.json');
    assert.ok(seen.every((s) => s.verified));
    assert.notEqual(seen[0]!.nonce, seen[1]!.nonce);
    await assert.rejects(c.fetchDirector('big.json', 4096), DownloadLengthError);
    await assert.rejects(c.fetchDirector('7.targets.json'), (err: unknown) => err instanceof FetchError && err.status === 404);
  });

  void it('signs only for its own server', async () => {
    await assert.rejects(client().fetch('http://127.0.0.2:1/repo/image/timestamp.json', 100), UsageError);
  });
});

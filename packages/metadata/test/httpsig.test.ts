/**
 * RFC 9421 request signatures: the thread-pool verifier (verifyRequestSignatureAsync, what the
 * server uses) accepts exactly what the synchronous one accepts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigner } from '../src/keys.js';
import { contentDigest, parseSignatureHeaders, signRequest, splitTarget, verifyRequestSignature, verifyRequestSignatureAsync } from '../src/httpsig.js';
import type { SignedRequestParts } from '../src/httpsig.js';
import { bytesOf } from './helpers.js';

const NOW = 1_790_000_000;

function signed(signer: ReturnType<typeof generateSigner>, method: string, url: string, body?: Uint8Array) {
  const h = signRequest({ method, url, body, keyid: signer.keyId, privateKey: signer.privateKey, nowSeconds: NOW });
  const { params, signature } = parseSignatureHeaders(h['signature-input'], h.signature);
  const { path, query } = splitTarget(url);
  const parts: SignedRequestParts = { method, path, query, contentDigest: h['content-digest'] };
  return { parts, params, signature };
}

async function both(parts: SignedRequestParts, r: ReturnType<typeof signed>, key: ReturnType<typeof generateSigner>['key']): Promise<boolean> {
  const sync = verifyRequestSignature(parts, r.params, r.signature, key);
  const async = await verifyRequestSignatureAsync(parts, r.params, r.signature, key);
  assert.equal(async, sync, 'the thread-pool verifier must agree with the synchronous one');
  return sync;
}

describe('httpsig: synchronous and thread-pool verification agree', () => {
  for (const scheme of ['ed25519', 'ecdsa-sha2-nistp256'] as const) {
    const key = generateSigner(scheme);
    const other = generateSigner(scheme);
    const body = bytesOf('{"signed":{}}');

    it(`${scheme}: a valid GET and PUT verify`, async () => {
      const get = signed(key, 'GET', '/repo/director/VIN1/timestamp.json');
      assert.equal(await both(get.parts, get, key.key), true);
      const put = signed(key, 'PUT', '/device/v1/manifest', body);
      assert.equal(await both(put.parts, put, key.key), true);
    });

    it(`${scheme}: another path, method, query or body digest does not verify`, async () => {
      const r = signed(key, 'PUT', '/device/v1/manifest?x=1', body);
      assert.equal(await both({ ...r.parts, path: '/device/v1/events' }, r, key.key), false);
      assert.equal(await both({ ...r.parts, method: 'POST' }, r, key.key), false);
      assert.equal(await both({ ...r.parts, query: '?x=2' }, r, key.key), false);
      assert.equal(await both({ ...r.parts, contentDigest: contentDigest(bytesOf('{}')) }, r, key.key), false);
    });

    it(`${scheme}: another key, a truncated or flipped signature does not verify`, async () => {
      const r = signed(key, 'GET', '/repo/director/VIN1/1.targets.json');
      assert.equal(await both(r.parts, r, other.key), false);
      assert.equal(await both(r.parts, { ...r, signature: r.signature.subarray(0, 63) }, key.key), false);
      const flipped = Buffer.from(r.signature);
      flipped[5] = flipped[5]! ^ 1;
      assert.equal(await both(r.parts, { ...r, signature: flipped }, key.key), false);
    });
  }

  it('a signature by an ed25519 key does not verify under a key of another scheme', async () => {
    const ed = generateSigner('ed25519');
    const ec = generateSigner('ecdsa-sha2-nistp256');
    const r = signed(ed, 'GET', '/repo/director/VIN1/timestamp.json');
    assert.equal(await both(r.parts, r, ec.key), false);
  });
});

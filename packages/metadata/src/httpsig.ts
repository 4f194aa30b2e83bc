/**
 * Vehicle request authentication: HTTP Message Signatures (RFC 9421) made with the Primary ECU's
 * registered key, and Content-Digest (RFC 9530) for bodies.
 *
 * Covered components (RFC 9421 §2.2): "@method", "@path", "@query", and "content-digest" when the
 * request has a body. Signature parameters (§2.3): created (seconds), keyid (the TUF key id of
 * the Primary's key), nonce (random, single use), alg ("ed25519" §3.3.6 or "ecdsa-p256-sha256"
 * §3.3.4, whose signature is r||s, 64 bytes). One signature labelled "sig1".
 * Only the subset of RFC 8941 structured fields that these headers use is parsed.
 */
import { createHash, randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject, VerifyKeyObjectInput } from 'node:crypto';
import type { Key } from './keys.js';
import { UsageError } from './errors.js';

export const SIGNATURE_LABEL = 'sig1';

export interface SignedRequestParts {
  readonly method: string;
  /** path without query, e.g. /device/v1/manifest */
  readonly path: string;
  /** query including the leading "?", or "?" when empty (RFC 9421 §2.2.7) */
  readonly query: string;
  /** the Content-Digest header value, when the request has a body */
  readonly contentDigest?: string | undefined;
}

export interface SignatureParams {
  readonly created: number;
  readonly keyid: string;
  readonly nonce: string;
  readonly alg: 'ed25519' | 'ecdsa-p256-sha256';
  readonly components: readonly string[];
}

/** RFC 9530 Content-Digest for a body: `sha-256=:<base64>:`. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

/** Split a URL path+query as RFC 9421 §2.2.6/§2.2.7 define "@path" and "@query". */
export function splitTarget(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  if (q === -1) return { path: url, query: '?' };
  return { path: url.slice(0, q), query: url.slice(q) };
}

function paramsValue(p: SignatureParams): string {
  const comps = p.components.map((c) => `"${c}"`).join(' ');
  return `(${comps});created=${p.created};keyid="${p.keyid}";nonce="${p.nonce}";alg="${p.alg}"`;
}

/** RFC 9421 §2.5 signature base. */
export function signatureBase(parts: SignedRequestParts, p: SignatureParams): string {
  const lines: string[] = [];
  for (const c of p.components) {
    switch (c) {
      case '@method': lines.push(`"@method": ${parts.method.toUpperCase()}`); break;
      case '@path': lines.push(`"@path": ${parts.path}`); break;
      case '@query': lines.push(`"@query": ${parts.query}`); break;
      case 'content-digest':
        if (parts.contentDigest === undefined) throw new Error('content-digest is covered but absent');
        lines.push(`"content-digest": ${parts.contentDigest}`);
        break;
      default: throw new Error(`unsupported component ${c}`);
    }
  }
  lines.push(`"@signature-params": ${paramsValue(p)}`);
  return lines.join('\n');
}

export interface SignatureHeaders {
  'signature-input': string;
  signature: string;
  'content-digest'?: string;
}

/** Sign a request with a private key; returns the headers to send. */
export function signRequest(opts: { method: string; url: string; body?: Uint8Array | undefined; keyid: string; privateKey: KeyObject; nowSeconds: number }): SignatureHeaders {
  const { path, query } = splitTarget(opts.url);
  const digest = opts.body === undefined ? undefined : contentDigest(opts.body);
  const alg = opts.privateKey.asymmetricKeyType === 'ed25519' ? 'ed25519' : 'ecdsa-p256-sha256';
  const params: SignatureParams = {
    created: opts.nowSeconds,
    keyid: opts.keyid,
    nonce: randomBytes(16).toString('base64url'),
    alg,
    components: digest === undefined ? ['@method', '@path', '@query'] : ['@method', '@path', '@query', 'content-digest'],
  };
  const base = Buffer.from(signatureBase({ method: opts.method, path, query, contentDigest: digest }, params), 'utf8');
  const sig = alg === 'ed25519'
    ? cryptoSign(null, base, opts.privateKey)
    : cryptoSign('sha256', base, { key: opts.privateKey, dsaEncoding: 'ieee-p1363' });
  const headers: SignatureHeaders = {
    'signature-input': `${SIGNATURE_LABEL}=${paramsValue(params)}`,
    signature: `${SIGNATURE_LABEL}=:${sig.toString('base64')}:`,
  };
  if (digest !== undefined) headers['content-digest'] = digest;
  return headers;
}

export class RequestSignatureError extends Error {
  readonly code = 'BAD_REQUEST_SIGNATURE';
}

const INPUT = /^sig1=\(((?:"[a-z@-]+"(?: "[a-z@-]+")*)?)\)((?:;[a-z]+=(?:\d+|"[^"\\]*"))*)$/;
const PARAM = /;([a-z]+)=(\d+|"[^"\\]*")/g;

/** Parse Signature-Input and Signature (label sig1 only). Throws RequestSignatureError. */
export function parseSignatureHeaders(input: string | undefined, signature: string | undefined): { params: SignatureParams; signature: Buffer } {
  if (input === undefined || signature === undefined) throw new RequestSignatureError('Signature-Input and Signature headers are required');
  if (input.length > 1024 || signature.length > 1024) throw new RequestSignatureError('signature headers too long');
  const m = INPUT.exec(input.trim());
  if (m === null) throw new RequestSignatureError('Signature-Input is malformed');
  const components = (m[1] ?? '').split(' ').filter((s) => s !== '').map((s) => s.slice(1, -1));
  const raw: Record<string, string> = {};
  for (const pm of (m[2] ?? '').matchAll(PARAM)) {
    if (raw[pm[1]!] !== undefined) throw new RequestSignatureError(`parameter ${pm[1]!} repeated`);
    raw[pm[1]!] = pm[2]!.startsWith('"') ? pm[2]!.slice(1, -1) : pm[2]!;
  }
  const created = Number(raw['created']);
  const alg = raw['alg'];
  if (!Number.isSafeInteger(created) || raw['keyid'] === undefined || raw['nonce'] === undefined || raw['nonce'].length < 8 || (alg !== 'ed25519' && alg !== 'ecdsa-p256-sha256')) {
    throw new RequestSignatureError('Signature-Input must carry created, keyid, nonce (>= 8 chars) and alg');
  }
  for (const required of ['@method', '@path', '@query']) {
    if (!components.includes(required)) throw new RequestSignatureError(`the signature must cover ${required}`);
  }
  const sm = /^sig1=:([A-Za-z0-9+/]+={0,2}):$/.exec(signature.trim());
  if (sm === null) throw new RequestSignatureError('Signature is malformed');
  return { params: { created, keyid: raw['keyid'], nonce: raw['nonce'], alg, components }, signature: Buffer.from(sm[1]!, 'base64') };
}

/** Verify a parsed signature with the registered key. The key's scheme must match `alg`. */
export function verifyRequestSignature(parts: SignedRequestParts, params: SignatureParams, sig: Uint8Array, key: Key): boolean {
  const args = requestVerifyArgs(parts, params, sig, key);
  if (args === undefined) return false;
  try {
    return cryptoVerify(args.algorithm, args.data, args.key, sig);
  } catch {
    // Structurally invalid signature bytes: a failed verification.
    return false;
  }
}

/** verifyRequestSignature computed in libuv's thread pool (node:crypto verify with a callback). */
export function verifyRequestSignatureAsync(parts: SignedRequestParts, params: SignatureParams, sig: Uint8Array, key: Key): Promise<boolean> {
  const args = requestVerifyArgs(parts, params, sig, key);
  if (args === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      cryptoVerify(args.algorithm, args.data, args.key, sig, (err, ok) => resolve(err === null && ok));
    } catch {
      resolve(false);
    }
  });
}

/** RFC 9421 §3.2: the signature base and the key in the form node:crypto verifies with, or undefined when it cannot verify. */
function requestVerifyArgs(parts: SignedRequestParts, params: SignatureParams, sig: Uint8Array, key: Key): { algorithm: string | null; data: Buffer; key: KeyObject | VerifyKeyObjectInput } | undefined {
  const ko = key.keyObject();
  if (ko === null) return undefined;
  if (parts.contentDigest !== undefined && !params.components.includes('content-digest')) return undefined;
  let data: Buffer;
  try {
    data = Buffer.from(signatureBase(parts, params), 'utf8');
  } catch {
    // A covered component is absent: the signature cannot be valid.
    return undefined;
  }
  if (sig.length !== 64) return undefined;
  if (params.alg === 'ed25519') return key.scheme === 'ed25519' ? { algorithm: null, data, key: ko } : undefined;
  return key.scheme === 'ecdsa-sha2-nistp256' ? { algorithm: 'sha256', data, key: { key: ko, dsaEncoding: 'ieee-p1363' } } : undefined;
}

/** A server's base URL as clients use it: http(s) only, without trailing slashes (UsageError otherwise). */
export function normaliseBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new UsageError(`not a URL: ${url}`, { cause: err });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`the server URL must be http(s): ${url}`);
  return u.href.replace(/\/+$/, '');
}

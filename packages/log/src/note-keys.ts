/**
 * Key names, key IDs and key strings of c2sp.org/signed-note, and Ed25519 through node:crypto.
 *   key ID        = SHA-256(name || 0x0A || signature type || public key)[:4], big-endian uint32
 *   verifier key  = <name>+<hex8 key ID>+<base64(type || public key)>
 *   signer key    = PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type || 32-byte Ed25519 seed)>
 * (golang.org/x/mod/sumdb/note NewVerifier / NewSigner formats.)
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { concatBytes, fromBase64, hasControlChar, hasLoneSurrogate, toBase64, utf8 } from './bytes.js';
import { LogFormatError, LogUsageError } from './errors.js';

/** c2sp.org/signed-note "Signature types". */
export const SIG_TYPE_ED25519 = 0x01;
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

/** c2sp.org/signed-note: key names are non-empty, without Unicode spaces or '+'. */
export function isValidKeyName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && !/[\s\u0085+]/u.test(name) && !hasLoneSurrogate(name) && !hasControlChar(name);
}

/** c2sp.org/signed-note: key ID = SHA-256(name || 0x0A || type || public key)[:4]. */
export function computeKeyId(name: string, sigType: number, publicKey: Uint8Array): number {
  const d = createHash('sha256').update(utf8(name)).update(Uint8Array.of(0x0a, sigType)).update(publicKey).digest();
  return d.readUInt32BE(0);
}

export function keyIdHex(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

export interface DecodedKey {
  readonly name: string;
  readonly keyId: number;
  readonly sigType: number;
  /** Public key (verifier key) or 32-byte seed (signer key), without the type byte. */
  readonly key: Uint8Array;
}

function badKey(message: string): never {
  throw new LogFormatError('LOG_MALFORMED_KEY', message);
}

function decodeParts(name: string, hex: string, b64: string): { keyId: number; sigType: number; key: Uint8Array } {
  if (!isValidKeyName(name)) badKey('key name is empty or has a space or "+"');
  if (!/^[0-9a-fA-F]{8}$/.test(hex)) badKey('key ID is not 8 hex digits');
  const raw = fromBase64(b64);
  if (raw === undefined || raw.length < 2) badKey('key material is not base64');
  return { keyId: Number.parseInt(hex, 16), sigType: raw[0]!, key: raw.subarray(1) };
}

/** Splits at the first n - 1 '+' (the base64 key material may itself contain '+'). */
function splitKey(s: string, n: number): string[] | undefined {
  const parts: string[] = [];
  let rest = s;
  for (let i = 0; i < n - 1; i++) {
    const p = rest.indexOf('+');
    if (p < 0) return undefined;
    parts.push(rest.slice(0, p));
    rest = rest.slice(p + 1);
  }
  parts.push(rest);
  return parts;
}

/** Parses `<name>+<hex8>+<base64(type || key)>` (no check of the key ID: see ed25519Verifier). */
export function decodeVerifierKey(vkey: string): DecodedKey {
  if (typeof vkey !== 'string') badKey('verifier key is not a string');
  const parts = splitKey(vkey, 3);
  if (parts === undefined) badKey('verifier key is not <name>+<hex8>+<base64>');
  return { name: parts[0]!, ...decodeParts(parts[0]!, parts[1]!, parts[2]!) };
}

/** Parses `PRIVATE+KEY+<name>+<hex8>+<base64(type || seed)>`. */
export function decodeSignerKey(skey: string): DecodedKey {
  if (typeof skey !== 'string') badKey('signer key is not a string');
  const parts = splitKey(skey, 5);
  if (parts === undefined || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') badKey('signer key is not PRIVATE+KEY+<name>+<hex8>+<base64>');
  return { name: parts[2]!, ...decodeParts(parts[2]!, parts[3]!, parts[4]!) };
}

export function encodeVerifierKey(name: string, sigType: number, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new LogUsageError('key name is empty or has a space or "+"');
  return `${name}+${keyIdHex(computeKeyId(name, sigType, publicKey))}+${toBase64(concatBytes([Uint8Array.of(sigType), publicKey]))}`;
}

export function encodeSignerKey(name: string, sigType: number, seed: Uint8Array, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new LogUsageError('key name is empty or has a space or "+"');
  return `PRIVATE+KEY+${name}+${keyIdHex(computeKeyId(name, sigType, publicKey))}+${toBase64(concatBytes([Uint8Array.of(sigType), seed]))}`;
}

// RFC 8410 DER prefixes for Ed25519 keys.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An Ed25519 key pair from a 32-byte seed (RFC 8032 §5.1.5). */
export function ed25519FromSeed(seed: Uint8Array): { privateKey: KeyObject; publicKey: Uint8Array } {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) badKey('Ed25519 seed is not 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)) };
}

export function ed25519PublicKey(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== 32) badKey('Ed25519 public key is not 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

export function ed25519Sign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey));
}

/** Ed25519 verification; false (never a throw) for a signature of the wrong size. */
export function ed25519Verify(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  return verify(null, message, publicKey, signature);
}

/** A fresh random 32-byte Ed25519 seed. */
export function randomSeed(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

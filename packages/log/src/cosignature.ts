/**
 * c2sp.org/tlog-cosignature, Ed25519 "cosignature/v1": a witness's note signature on a
 * checkpoint. Key ID = SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]; signature =
 * u64 big-endian timestamp || 64-byte Ed25519 signature over
 * `cosignature/v1\ntime <timestamp>\n` || checkpoint note text.
 */
import { bytesEqual, concatBytes, utf8 } from './bytes.js';
import { LogFormatError, LogSignatureError, LogUsageError } from './errors.js';
import type { NoteSignature, NoteVerifier } from './note.js';
import { parseNote, signatureLine } from './note.js';
import {
  SIG_TYPE_COSIGNATURE_V1, computeKeyId, decodeSignerKey, decodeVerifierKey, ed25519FromSeed, ed25519PublicKey,
  ed25519Sign, ed25519Verify, encodeSignerKey, encodeVerifierKey, isValidKeyName, randomSeed,
} from './note-keys.js';

/** Timestamps are POSIX seconds; "MUST NOT exceed 2^63 - 1", here at most 2^53 - 1. */
const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER;

/** "Ed25519 signed message": header line, time line, then the whole checkpoint note text. */
export function cosignatureMessage(checkpointText: Uint8Array, timestamp: number): Uint8Array {
  return concatBytes([utf8(`cosignature/v1\ntime ${timestamp}\n`), checkpointText]);
}

export interface CosignatureVerifier extends NoteVerifier {
  readonly publicKey: Uint8Array;
  /** The timestamp of a well-formed cosignature, or undefined if malformed. */
  timestamp(signature: Uint8Array): number | undefined;
}

function readTimestamp(sig: Uint8Array): number | undefined {
  // timestamped_signature: u64 timestamp || ed25519_signature[64].
  if (sig.length !== 8 + 64) return undefined;
  const ts = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0);
  return ts <= BigInt(MAX_TIMESTAMP) ? Number(ts) : undefined;
}

/** A witness verifier from a vkey `<name>+<hex8>+<base64(0x04 || public key)>`. */
export function parseCosignerVerifierKey(vkey: string): CosignatureVerifier {
  const k = decodeVerifierKey(vkey);
  if (k.sigType !== SIG_TYPE_COSIGNATURE_V1 || k.key.length !== 32) {
    throw new LogFormatError('LOG_MALFORMED_KEY', 'witness key is not a cosignature/v1 (type 0x04) Ed25519 key');
  }
  if (computeKeyId(k.name, SIG_TYPE_COSIGNATURE_V1, k.key) !== k.keyId) throw new LogFormatError('LOG_MALFORMED_KEY', 'witness key ID does not match the key');
  const pub = ed25519PublicKey(k.key);
  const publicKey = k.key.slice();
  return {
    name: k.name,
    keyId: k.keyId,
    publicKey,
    timestamp: readTimestamp,
    verify(text, sig) {
      const ts = readTimestamp(sig);
      return ts !== undefined && ed25519Verify(pub, cosignatureMessage(text, ts), sig.subarray(8));
    },
  };
}

export interface Cosigner {
  readonly name: string;
  readonly keyId: number;
  readonly verifierKey: string;
  /** The signature line cosigning a checkpoint note text at `timestamp` (POSIX seconds). */
  cosign(checkpointText: Uint8Array, timestamp: number): string;
}

/** A witness signer from `PRIVATE+KEY+<name>+<hex8>+<base64(0x04 || seed)>`. */
export function parseCosignerKey(skey: string): Cosigner {
  const k = decodeSignerKey(skey);
  if (k.sigType !== SIG_TYPE_COSIGNATURE_V1) throw new LogFormatError('LOG_MALFORMED_KEY', 'witness signer key is not type 0x04');
  const { privateKey, publicKey } = ed25519FromSeed(k.key);
  if (computeKeyId(k.name, SIG_TYPE_COSIGNATURE_V1, publicKey) !== k.keyId) throw new LogFormatError('LOG_MALFORMED_KEY', 'witness key ID does not match the key');
  return {
    name: k.name,
    keyId: k.keyId,
    verifierKey: encodeVerifierKey(k.name, SIG_TYPE_COSIGNATURE_V1, publicKey),
    cosign(text, timestamp) {
      if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new LogUsageError('timestamp must be POSIX seconds');
      const ts = new Uint8Array(8);
      new DataView(ts.buffer).setBigUint64(0, BigInt(timestamp));
      return signatureLine(k.name, k.keyId, concatBytes([ts, ed25519Sign(privateKey, cosignatureMessage(text, timestamp))]));
    },
  };
}

/** A new random witness key pair (signer and verifier key strings, type 0x04). */
export function generateCosigner(name: string, seed: Uint8Array = randomSeed()): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new LogUsageError('key name is empty or has a space or "+"');
  const { publicKey } = ed25519FromSeed(seed);
  return {
    signerKey: encodeSignerKey(name, SIG_TYPE_COSIGNATURE_V1, seed, publicKey),
    verifierKey: encodeVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, publicKey),
  };
}

/** Appends a witness cosignature to a signed checkpoint note. */
export function cosignCheckpoint(signedCheckpoint: string, cosigner: Cosigner, timestamp: number): string {
  const parsed = parseNote(signedCheckpoint);
  return signedCheckpoint + cosigner.cosign(parsed.textBytes, timestamp);
}

export interface CosignaturePolicy {
  /** Trusted witnesses (distinct public keys). */
  readonly witnesses: readonly CosignatureVerifier[];
  /** How many distinct witnesses must have cosigned (k of n). */
  readonly threshold: number;
  /** Reference time (POSIX seconds, injected): later timestamps count as invalid. */
  readonly now?: number;
}

export interface CosignatureResult {
  readonly threshold: number;
  /** Witnesses whose cosignature verified, with the cosigned time. */
  readonly valid: readonly { readonly name: string; readonly timestamp: number }[];
  /** Cosignatures from trusted witnesses that did not verify (or lie in the future). */
  readonly invalid: readonly { readonly name: string; readonly code: 'LOG_BAD_SIGNATURE' | 'LOG_COSIGNATURE_IN_FUTURE' }[];
  /** Cosignatures still needed (0 when the threshold is met). */
  readonly missing: number;
}

function checkPolicy(p: CosignaturePolicy): void {
  if (!Number.isSafeInteger(p.threshold) || p.threshold < 1 || p.threshold > p.witnesses.length) {
    throw new LogUsageError(`threshold ${p.threshold} must be in [1, ${p.witnesses.length}]`);
  }
  p.witnesses.forEach((w, i) => {
    if (p.witnesses.slice(0, i).some((o) => bytesEqual(o.publicKey, w.publicKey))) throw new LogUsageError(`witness ${w.name} is listed twice`);
  });
}

/** Non-throwing k-of-n check of witness cosignatures on a signed checkpoint (for tools). */
export function checkCosignatures(signedCheckpoint: Uint8Array | string, policy: CosignaturePolicy): CosignatureResult {
  checkPolicy(policy);
  const note = parseNote(signedCheckpoint);
  const valid: { name: string; timestamp: number }[] = [];
  const invalid: { name: string; code: 'LOG_BAD_SIGNATURE' | 'LOG_COSIGNATURE_IN_FUTURE' }[] = [];
  const done = new Set<CosignatureVerifier>();
  for (const sig of note.signatures) {
    const w = policy.witnesses.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (w === undefined || done.has(w)) continue; // unknown signatures are ignored
    done.add(w);
    evaluate(w, sig, note.textBytes, policy.now, valid, invalid);
  }
  return { threshold: policy.threshold, valid, invalid, missing: Math.max(0, policy.threshold - valid.length) };
}

function evaluate(w: CosignatureVerifier, sig: NoteSignature, text: Uint8Array, now: number | undefined,
  valid: { name: string; timestamp: number }[], invalid: { name: string; code: 'LOG_BAD_SIGNATURE' | 'LOG_COSIGNATURE_IN_FUTURE' }[]): void {
  const ts = w.timestamp(sig.signature);
  if (ts === undefined || !w.verify(text, sig.signature)) invalid.push({ name: w.name, code: 'LOG_BAD_SIGNATURE' });
  else if (now !== undefined && ts > now) invalid.push({ name: w.name, code: 'LOG_COSIGNATURE_IN_FUTURE' });
  else valid.push({ name: w.name, timestamp: ts });
}

/**
 * Requires k of n witness cosignatures: throws LOG_BAD_SIGNATURE if a trusted witness's
 * cosignature does not verify (c2sp.org/signed-note: reject the whole note),
 * LOG_COSIGNATURE_IN_FUTURE, or LOG_COSIGNATURE_THRESHOLD if too few witnesses cosigned.
 */
export function verifyCosignatures(signedCheckpoint: Uint8Array | string, policy: CosignaturePolicy): CosignatureResult {
  const r = checkCosignatures(signedCheckpoint, policy);
  const bad = r.invalid[0];
  if (bad !== undefined) throw new LogSignatureError(bad.code, `cosignature by ${bad.name} is invalid (${bad.code})`);
  if (r.missing > 0) {
    throw new LogSignatureError('LOG_COSIGNATURE_THRESHOLD', `${r.valid.length} of ${r.threshold} required witness cosignatures`);
  }
  return r;
}

/** The witness key ID for a public key (exported for tools). */
export function cosignerKeyId(name: string, publicKey: Uint8Array): number {
  return computeKeyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey);
}

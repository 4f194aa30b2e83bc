/**
 * Threshold signature verification (TUF 1.0 5.3.4, 5.4.2, 5.5.3, 5.6.3; Uptane 2.1 5.4.4.3-6):
 * metadata is trusted when signatures by at least `threshold` DISTINCT keys of the role verify.
 * A key listed twice (under two ids, or two encodings of one key) and a signature repeated
 * count once: distinctness is by the key's public material, not by key id.
 */
import { UnsignedMetadataError } from './errors.js';
import type { Key } from './keys.js';
import type { Signature } from './metadata.js';
import type { Role } from './signed.js';

/** Anything with canonical signed bytes and signatures by key id: metadata, manifests, reports. */
export interface Signable {
  signedBytes(): Uint8Array;
  readonly signatures: ReadonlyMap<string, Signature>;
}

/** Non-throwing result for tools ("2 more signatures needed"), CONVENTIONS.md §11. */
export interface VerificationResult {
  readonly roleName: string;
  readonly threshold: number;
  /** key ids whose valid signature counted */
  readonly signed: readonly string[];
  /** key ids of the role without a counted signature */
  readonly missing: readonly string[];
  /** key ids whose signature was present but did not verify */
  readonly invalid: readonly string[];
  readonly verified: boolean;
}

export function checkThreshold(roleName: string, keys: ReadonlyMap<string, Key>, role: Role, md: Signable): VerificationResult {
  const data = md.signedBytes();
  const counted = new Set<string>();
  const signed: string[] = [];
  const missing: string[] = [];
  const invalid: string[] = [];
  for (const keyid of role.keyids) {
    const key = keys.get(keyid);
    const sig = md.signatures.get(keyid);
    if (key === undefined || sig === undefined) {
      missing.push(keyid);
      continue;
    }
    const identity = key.identity();
    if (counted.has(identity)) {
      missing.push(keyid);
      continue;
    }
    if (key.verify(data, sig.sig)) {
      counted.add(identity);
      signed.push(keyid);
    } else {
      invalid.push(keyid);
      missing.push(keyid);
    }
  }
  return { roleName, threshold: role.threshold, signed, missing, invalid, verified: signed.length >= role.threshold };
}

/** Throwing form for clients: UnsignedMetadataError unless the threshold is met. */
export function verifyThreshold(roleName: string, keys: ReadonlyMap<string, Key>, role: Role, md: Signable): VerificationResult {
  const r = checkThreshold(roleName, keys, role, md);
  if (!r.verified) {
    const bad = r.invalid.length > 0 ? `; invalid signatures from ${r.invalid.join(', ')}` : '';
    throw new UnsignedMetadataError(`${roleName}: ${r.signed.length} of ${r.threshold} required signatures verified${bad}`);
  }
  return r;
}

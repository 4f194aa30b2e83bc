/**
 * Deterministic test material from a seed: ed25519 signers (so that a child process rebuilds
 * the very same repositories: ed25519 signatures are deterministic too), image bytes, and a
 * small PRNG for random kill points.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import { PrivateKeySigner } from '@reflash/metadata';

/** The seeded PRNG for random kill points. */
export { prng } from '@reflash/metadata';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function seededSigner(seed: string, label: string): PrivateKeySigner {
  const raw = createHash('sha256').update(`${seed}/${label}`).digest();
  return PrivateKeySigner.fromPrivateKey(createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, raw]), format: 'der', type: 'pkcs8' }), 'ed25519');
}

/** `length` pseudo-random bytes determined by (seed, label). */
export function seededBytes(seed: string, label: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let off = 0, i = 0; off < length; i++) {
    const block = createHash('sha256').update(`${seed}/${label}/${i}`).digest();
    off += block.copy(out, off);
  }
  return out;
}


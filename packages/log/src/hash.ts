/**
 * RFC 9162 §2.1.1 (= RFC 6962 §2.1) Merkle tree hashing with SHA-256:
 *   MTH({}) = SHA-256()
 *   leaf hash  = SHA-256(0x00 || d)
 *   node hash  = SHA-256(0x01 || left || right)
 */
import { createHash } from 'node:crypto';

export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

function asBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * RFC 9162 §2.1.1: MTH of an empty list is the hash of the empty string. Internal constant:
 * never mutated and never handed out (callers get copies from emptyRoot()).
 */
export const EMPTY_ROOT: Uint8Array = asBytes(createHash('sha256').digest());

/** A fresh copy of the empty-tree root, SHA-256(""). */
export function emptyRoot(): Uint8Array {
  return EMPTY_ROOT.slice();
}

/** RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0)). */
export function leafHash(data: Uint8Array): Uint8Array {
  return asBytes(createHash('sha256').update(LEAF_PREFIX).update(data).digest());
}

/** RFC 9162 §2.1.1: HASH(0x01 || MTH(left) || MTH(right)). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return asBytes(createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest());
}


/**
 * Proof verification, RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency). Inputs are
 * untrusted: every check throws a LogError with a stable code, never a TypeError.
 *
 * Edge cases (README.md "Edge cases"):
 * - empty tree: no leaf is included in it (index >= size = 0: LOG_INDEX_OUT_OF_RANGE).
 * - size1 === size2: the proof must be empty and root1 must equal root2 (compared as bytes).
 * - size1 === 0: refused (LOG_EMPTY_TREE_CONSISTENCY). §2.1.4.2 is defined for 0 < first, the
 *   upstream vectors (transparency-dev/merkle testdata) require rejection even with an empty
 *   proof, and such a proof proves nothing. A client with no previous checkpoint, or with a
 *   checkpoint of size 0, has nothing to check: see verifyCheckpointConsistency (fork.ts).
 * - proofs longer than MAX_PROOF_HASHES are refused before any hashing.
 * - the §2.1.3.2 loop binds (index, size) only through the path's shape (leaf 12 has the same
 *   shape in every size 17..32): take size and root together from one verified checkpoint.
 */
import { isPowerOfTwo, isUint53, lsb } from './bits.js';
import { bytesEqual } from './bytes.js';
import type { LogErrorCode } from './errors.js';
import { LogProofError } from './errors.js';
import { HASH_SIZE, nodeHash } from './hash.js';
import { MAX_PROOF_HASHES } from './limits.js';

function fail(code: LogErrorCode, message: string): never {
  throw new LogProofError(code, message);
}

function checkHash(name: string, h: unknown): asserts h is Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) fail('LOG_BAD_HASH_LENGTH', `${name} is not a 32-byte hash`);
}

function checkProof(proof: unknown, code: LogErrorCode): asserts proof is readonly Uint8Array[] {
  if (!Array.isArray(proof)) fail(code, 'proof is not an array of hashes');
  if (proof.length > MAX_PROOF_HASHES) fail('LOG_PROOF_TOO_LONG', `proof has ${proof.length} hashes (limit ${MAX_PROOF_HASHES})`);
  proof.forEach((h, i) => checkHash(`proof[${i}]`, h));
}

function checkSize(name: string, n: unknown): asserts n is number {
  if (!isUint53(n)) fail('LOG_BAD_TREE_SIZE', `${name} is not an integer in [0, 2^53-1]`);
}

/**
 * RFC 9162 §2.1.3.2: recomputes the root from a leaf hash and its inclusion proof.
 * Throws unless 0 <= index < size and the proof has exactly the path's length.
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Uint8Array {
  checkSize('tree size', size);
  if (!isUint53(index)) fail('LOG_INDEX_OUT_OF_RANGE', 'leaf index is not an integer in [0, 2^53-1]');
  checkHash('leaf hash', leafHash);
  checkProof(proof, 'LOG_BAD_INCLUSION_PROOF');
  // §2.1.3.2 step 1: leaf_index >= tree_size fails.
  if (index >= size) fail('LOG_INDEX_OUT_OF_RANGE', `leaf index ${index} >= tree size ${size}`);
  // Step 2: fn = leaf_index, sn = tree_size - 1. Step 3: r = hash.
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  // Step 4: fold in each proof hash p.
  for (const p of proof) {
    // Step 4a: sn = 0 before the proof is used up: too many hashes.
    if (sn === 0) fail('LOG_PROOF_TOO_LONG', 'inclusion proof has more hashes than the path');
    if (lsb(fn) || fn === sn) {
      // Step 4b: p is a left sibling.
      r = nodeHash(p, r);
      // Step 4b.ii: if LSB(fn) is not set, shift until it is or fn is 0 (right-edge levels
      // where the node has no sibling).
      while (!lsb(fn) && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      // Step 4b otherwise: p is a right sibling.
      r = nodeHash(r, p);
    }
    // Step 4c.
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5: sn must be 0 (the proof reached the root).
  if (sn !== 0) fail('LOG_PROOF_TOO_SHORT', 'inclusion proof has fewer hashes than the path');
  return r;
}

/** RFC 9162 §2.1.3.2: throws unless `proof` proves leaf `index` with `leafHash` under `root`. */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): void {
  checkHash('root hash', root);
  const r = rootFromInclusionProof(leafHash, index, size, proof);
  // Step 5: r must equal root_hash.
  if (!bytesEqual(r, root)) fail('LOG_BAD_INCLUSION_PROOF', 'inclusion proof does not lead to the root hash');
}

/**
 * RFC 9162 §2.1.4.2: throws unless `proof` proves that the tree of size1 with root1 is a
 * prefix of the tree of size2 with root2.
 */
export function verifyConsistency(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  checkSize('size1', size1);
  checkSize('size2', size2);
  checkProof(proof, 'LOG_BAD_CONSISTENCY_PROOF');
  if (size1 > size2) fail('LOG_BAD_TREE_SIZE', `size1 ${size1} > size2 ${size2}`);
  // §2.1.4.2 applies to 0 < first only (see the header for size1 = 0, also when size2 = 0).
  if (size1 === 0) fail('LOG_EMPTY_TREE_CONSISTENCY', 'consistency from the empty tree proves nothing');
  if (size1 === size2) {
    // Equal sizes: nothing to prove, the proof must be empty and the trees identical. No
    // hashing happens, so the roots are compared as opaque bytes (the upstream vector
    // "sizes are equal (one) and proof is empty" uses 12-byte roots and must pass).
    if (proof.length !== 0) fail('LOG_PROOF_TOO_LONG', 'size1 = size2 but the proof is not empty');
    if (!(root1 instanceof Uint8Array) || !(root2 instanceof Uint8Array)) fail('LOG_BAD_HASH_LENGTH', 'roots are not byte arrays');
    if (!bytesEqual(root1, root2)) fail('LOG_ROOT_MISMATCH', `two different roots for tree size ${size1}`);
    return;
  }
  checkHash('root1', root1);
  checkHash('root2', root2);
  // Step 1: an empty consistency_path fails.
  if (proof.length === 0) fail('LOG_PROOF_TOO_SHORT', 'consistency proof is empty');
  // Step 2: if first is an exact power of 2, prepend first_hash.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // Step 3: fn = first - 1, sn = second - 1.
  let fn = size1 - 1;
  let sn = size2 - 1;
  // Step 4: while LSB(fn) is set, shift both right.
  while (lsb(fn)) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5: fr = sr = first value of the path.
  let fr = path[0]!;
  let sr = fr;
  // Step 6: for each subsequent value c.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    // Step 6a: sn = 0 before the path is used up: too many hashes.
    if (sn === 0) fail('LOG_PROOF_TOO_LONG', 'consistency proof has more hashes than the path');
    if (lsb(fn) || fn === sn) {
      // Step 6b.i, 6b.ii.
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      // Step 6b.iii: if LSB(fn) is not set, shift until it is or fn is 0.
      while (!lsb(fn) && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      // Step 6b otherwise.
      sr = nodeHash(sr, c);
    }
    // Step 6c.
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7: sn must be 0, fr must equal first_hash and sr second_hash.
  if (sn !== 0) fail('LOG_PROOF_TOO_SHORT', 'consistency proof has fewer hashes than the path');
  if (!bytesEqual(fr, root1)) fail('LOG_BAD_CONSISTENCY_PROOF', 'consistency proof does not lead to root1');
  if (!bytesEqual(sr, root2)) fail('LOG_BAD_CONSISTENCY_PROOF', 'consistency proof does not lead to root2');
}

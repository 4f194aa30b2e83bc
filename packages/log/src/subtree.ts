/**
 * Subtrees of draft-ietf-plants-merkle-tree-certs (§4, "Subtrees"; also used by
 * c2sp.org/tlog-cosignature subtree cosignatures): the range [start, end) is a valid subtree if
 * start === 0, start === end, or start is a multiple of bit_ceil(end - start). Node ids follow
 * transparency-dev/merkle `proof.SubtreeInclusion` / `proof.SubtreeConsistency`; with start = 0
 * these are exactly the RFC 9162 §2.1.3.1 / §2.1.4.1 proofs.
 */
import { bitLength, isPowerOfTwo, isUint53, shr, trailingZeros, xor } from './bits.js';
import { LogUsageError } from './errors.js';
import type { NodeId } from './node-id.js';
import { rangeNodes } from './node-id.js';
import type { ProofNodes } from './proof-nodes.js';
import { pathNodes, skipFirst } from './proof-nodes.js';

/** Smallest power of two >= n (n >= 1). */
function bitCeil(n: number): number {
  return n <= 1 ? 1 : 2 ** bitLength(n - 1);
}

/** draft-ietf-plants-merkle-tree-certs §4.1: is [start, end) a valid subtree? */
export function isValidSubtree(start: number, end: number): boolean {
  if (!isUint53(start) || !isUint53(end) || start > end) return false;
  if (start === 0 || start === end) return true;
  return start % bitCeil(end - start) === 0;
}

function checkSubtree(start: number, end: number): void {
  if (!isValidSubtree(start, end)) throw new LogUsageError(`[${start}, ${end}) is not a valid subtree`);
}

/** The complete subtrees whose hashes fold into the subtree hash MTH(D[start:end]). */
export function subtreeNodes(start: number, end: number): NodeId[] {
  checkSubtree(start, end);
  return rangeNodes(start, end);
}

/** Nodes for the inclusion proof of leaf `index` in the subtree [start, end). */
export function subtreeInclusionProofNodes(index: number, start: number, end: number): ProofNodes {
  checkSubtree(start, end);
  if (!isUint53(index) || index < start || index >= end) {
    throw new LogUsageError(`index ${String(index)} out of range for subtree [${start}, ${end})`);
  }
  // Shift the subtree to start at 0, then shift the nodes back to the subtree's position.
  const p = skipFirst(pathNodes(index - start, 0, end - start));
  const ids = p.ids.map((id) => ({ level: id.level, index: id.index + shr(start, id.level) }));
  return { ids, begin: p.begin, end: p.end };
}

/**
 * Nodes for the consistency proof of subtree [start, end) with the tree of `size` leaves.
 * With start = 0 and 0 < end < size this is RFC 9162 §2.1.4.1 PROOF(end, D[0:size]).
 */
export function subtreeConsistencyProofNodes(start: number, end: number, size: number): ProofNodes {
  checkSubtree(start, end);
  if (!isUint53(size) || end > size) throw new LogUsageError(`subtree end ${end} beyond tree size ${String(size)}`);
  if ((start === 0 && end === size) || start === end) return { ids: [], begin: 0, end: 0 };
  if (end === size) {
    // Prove the subtree root is included: lift the tree by the subtree's height so that the
    // subtree root becomes the last leaf, then take its inclusion path.
    const level = bitLength(xor(end - 1, start));
    const index = shr(end - 1, level);
    const p = skipFirst(pathNodes(index, 0, index + 1));
    return { ids: p.ids.map((id) => ({ level: id.level + level, index: id.index })), begin: p.begin, end: p.end };
  }
  // Largest perfect subtree of [start, end) ending at end, then its inclusion path.
  const level = trailingZeros(end - start);
  const p = pathNodes(shr(end - 1, level), level, size);
  return isPowerOfTwo(end - start) ? skipFirst(p) : p;
}

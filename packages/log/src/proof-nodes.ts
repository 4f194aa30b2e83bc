/**
 * Which stored nodes a proof needs (a pure function of the sizes), and how to combine their
 * hashes into the proof. Mirrors transparency-dev/merkle `proof.Nodes`: a proof is a list of
 * complete-subtree nodes, except that at most one proof hash (the "ephemeral" node on the
 * right edge of the tree, an incomplete subtree) is rehashed from the complete subtrees
 * covering it. Every proof needs O(log n) node reads.
 */
import { bitLength, isPowerOfTwo, isUint53, shr, trailingZeros, xor } from './bits.js';
import { LogUsageError } from './errors.js';
import { nodeHash } from './hash.js';
import type { NodeId } from './node-id.js';
import { nodeCoverage, nodeParent, nodeSibling, rangeNodes } from './node-id.js';

/** Node ids to read, plus the recipe to turn their hashes into a proof. */
export interface ProofNodes {
  /** Complete-subtree nodes to read, in proof order. */
  readonly ids: readonly NodeId[];
  /**
   * ids[begin:end] (lowest level first) are folded into the single ephemeral proof hash:
   * h = hash[begin]; h = nodeHash(hash[i], h) for i in begin+1..end-1. begin === end: none.
   */
  readonly begin: number;
  readonly end: number;
}

/**
 * The nodes proving that node (level, index) is in the tree of `size` leaves: the node itself,
 * its siblings up to the "fork" (where its path leaves the right edge), the right-edge nodes
 * forming the fork's incomplete sibling, then the complete subtrees to the left.
 * Requires index < size >> level (not checked: internal).
 */
export function pathNodes(index: number, level: number, size: number): ProofNodes {
  const inner = bitLength(xor(index, shr(size, level))) - 1;
  const fork: NodeId = { level: level + inner, index: shr(index, inner) };
  const { begin: forkBegin, end: forkEnd } = nodeCoverage(fork);

  let node: NodeId = { level, index };
  const ids: NodeId[] = [node];
  // RFC 9162 §2.1.3.1: PATH descends into the subtree holding the node; its siblings below
  // the fork are complete subtrees.
  while (node.level < fork.level) {
    ids.push(nodeSibling(node));
    node = nodeParent(node);
  }
  const len1 = ids.length;
  // The fork's sibling covers [forkEnd, size): incomplete, so rebuilt from its complete parts.
  const right = rangeNodes(forkEnd, size).reverse();
  ids.push(...right);
  const len2 = ids.length;
  // Above the fork every sibling is a complete subtree on the left, nearest (lowest) first.
  ids.push(...rangeNodes(0, forkBegin).reverse());
  return len1 < len2 ? { ids, begin: len1, end: len2 } : { ids, begin: 0, end: 0 };
}

/** Drops the first id (a node the verifier already knows). */
export function skipFirst(p: ProofNodes): ProofNodes {
  const ids = p.ids.slice(1);
  return p.begin < p.end ? { ids, begin: p.begin - 1, end: p.end - 1 } : { ids, begin: 0, end: 0 };
}

function checkSize(name: string, n: number): void {
  if (!isUint53(n)) throw new LogUsageError(`${name} must be an integer in [0, 2^53-1], got ${String(n)}`);
}

/**
 * RFC 9162 §2.1.3.1: the nodes for PATH(index, D[0:size]). Requires 0 <= index < size.
 */
export function inclusionProofNodes(index: number, size: number): ProofNodes {
  checkSize('size', size);
  checkSize('index', index);
  if (index >= size) throw new LogUsageError(`index ${index} out of range for tree size ${size}`);
  return skipFirst(pathNodes(index, 0, size));
}

/**
 * RFC 9162 §2.1.4.1: the nodes for PROOF(size1, D[0:size2]). Requires 0 < size1 <= size2;
 * size1 === size2 gives the empty proof.
 */
export function consistencyProofNodes(size1: number, size2: number): ProofNodes {
  checkSize('size1', size1);
  checkSize('size2', size2);
  if (size1 === 0) throw new LogUsageError('a consistency proof from the empty tree is meaningless');
  if (size1 > size2) throw new LogUsageError(`size1 ${size1} > size2 ${size2}`);
  if (size1 === size2) return { ids: [], begin: 0, end: 0 };
  // §2.1.4.1 SUBPROOF: the proof starts at the root of the largest perfect subtree ending at
  // size1 (level = trailing zeros of size1) and continues as that node's inclusion path.
  const level = trailingZeros(size1);
  const p = pathNodes(shr(size1 - 1, level), level, size2);
  // If size1 is a power of two, that node is the old root, which the verifier already holds
  // (§2.1.4.2 step 2 prepends first_hash instead).
  return isPowerOfTwo(size1) ? skipFirst(p) : p;
}

/** RFC 9162 §2.1.1: the complete subtrees whose hashes fold into MTH(D[0:size]). */
export function rootNodes(size: number): NodeId[] {
  checkSize('size', size);
  return rangeNodes(0, size);
}

/** Combines the hashes read for `nodes.ids` into the proof (rehashing the ephemeral node). */
export function combineProof(nodes: ProofNodes, hashes: readonly Uint8Array[]): Uint8Array[] {
  if (hashes.length !== nodes.ids.length) {
    throw new LogUsageError(`got ${hashes.length} hashes for ${nodes.ids.length} nodes`);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < hashes.length; i++) {
    let h = hashes[i]!;
    if (i === nodes.begin && nodes.end - nodes.begin > 1) {
      for (i++; i < nodes.end; i++) h = nodeHash(hashes[i]!, h);
      i--;
    }
    out.push(h);
  }
  return out;
}

/** RFC 9162 §2.1.1: folds the hashes of rangeNodes(begin, end), left to right, into MTH. */
export function combineRange(hashes: readonly Uint8Array[]): Uint8Array | undefined {
  let h = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0 && h !== undefined; i--) h = nodeHash(hashes[i]!, h);
  return h;
}

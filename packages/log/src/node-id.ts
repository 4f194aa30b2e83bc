/**
 * Stored-node model (as C2SP tlog-tiles and transparency-dev/merkle `compact`): only the hashes
 * of complete subtrees are ever stored. Node (level, index) is the root of the perfect subtree
 * over leaves [index * 2^level, (index + 1) * 2^level); level 0 holds the leaf hashes. Such a
 * node's hash never changes once the tree has grown past its last leaf.
 */
import { bitLength, shl, shr } from './bits.js';

export interface NodeId {
  readonly level: number;
  readonly index: number;
}

export function nodeId(level: number, index: number): NodeId {
  return { level, index };
}

/** Leaves [begin, end) below the node. */
export function nodeCoverage(id: NodeId): { begin: number; end: number } {
  return { begin: shl(id.index, id.level), end: shl(id.index + 1, id.level) };
}

export function nodeSibling(id: NodeId): NodeId {
  return { level: id.level, index: id.index % 2 === 1 ? id.index - 1 : id.index + 1 };
}

export function nodeParent(id: NodeId): NodeId {
  return { level: id.level + 1, index: shr(id.index, 1) };
}

/**
 * The perfect subtrees covering [begin, end), left to right (so from the highest level down),
 * for a range whose begin is a multiple of the largest power of two <= end - begin. This holds
 * for every range the proofs need: [0, n), the right edge [fork end, size) of a proof, and
 * every valid subtree of draft-ietf-plants-merkle-tree-certs. Each range is the binary
 * decomposition of its length (RFC 9162 §2.1.1: MTH splits at the largest power of two).
 */
export function rangeNodes(begin: number, end: number, out: NodeId[] = []): NodeId[] {
  let pos = begin;
  let rest = end - begin;
  while (rest > 0) {
    const level = bitLength(rest) - 1;
    const width = 2 ** level;
    out.push({ level, index: shr(pos, level) });
    pos += width;
    rest -= width;
  }
  return out;
}


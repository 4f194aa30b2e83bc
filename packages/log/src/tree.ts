/**
 * RFC 9162 §2.1.1 Merkle Tree Hash of a list, and MemoryTree: a synchronous in-memory log for
 * tests and tools. MemoryTree stores only complete-subtree hashes by (level, index), exactly
 * the nodes a server stores, and builds proofs through the same node-id recipes as the
 * storage-backed path (proof.ts).
 */
import { LogUsageError } from './errors.js';
import { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash } from './hash.js';
import type { NodeId } from './node-id.js';
import type { HashReader, SyncHashReader } from './proof.js';
import type { ProofNodes } from './proof-nodes.js';
import { combineProof, combineRange, consistencyProofNodes, inclusionProofNodes, rootNodes } from './proof-nodes.js';
import { subtreeConsistencyProofNodes, subtreeInclusionProofNodes, subtreeNodes } from './subtree.js';

/** RFC 9162 §2.1.1: MTH(D[n]) for a list of leaf hashes, O(n) hashing, O(log n) memory. */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  // Right-edge stack of perfect subtrees (the compact range of the prefix).
  const stack: Uint8Array[] = [];
  leafHashes.forEach((leaf, n) => {
    let h = leaf;
    for (let size = n; size % 2 === 1; size = Math.floor(size / 2)) h = nodeHash(stack.pop()!, h);
    stack.push(h);
  });
  return combineRange(stack) ?? EMPTY_ROOT.slice();
}

export class MemoryTree implements HashReader, SyncHashReader {
  /** levels[l][i]: hash of complete node (l, i). */
  readonly #levels: Uint8Array[][] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends an entry (hashed with leafHash) and returns its index. */
  append(entry: Uint8Array): number {
    return this.appendLeafHash(leafHash(entry));
  }

  /** Appends a leaf hash and returns its index. */
  appendLeafHash(hash: Uint8Array): number {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) throw new LogUsageError('leaf hash must be 32 bytes');
    const index = this.#size;
    let h: Uint8Array = hash.slice();
    let level = 0;
    for (let s = index; ; s = Math.floor(s / 2), level++) {
      const row = this.#levels[level] ?? (this.#levels[level] = []);
      row.push(h);
      if (s % 2 === 0) break;
      h = nodeHash(row[row.length - 2]!, h); // a right child completes its parent
    }
    this.#size++;
    return index;
  }

  leafHash(index: number): Uint8Array {
    return this.readNodesSync([{ level: 0, index }])[0]!;
  }

  readNodesSync(ids: readonly NodeId[]): Uint8Array[] {
    return ids.map((id) => {
      const h = this.#levels[id.level]?.[id.index];
      if (h === undefined) throw new LogUsageError(`node (${id.level}, ${id.index}) is not complete in a tree of size ${this.#size}`);
      return h.slice();
    });
  }

  readNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    return Promise.resolve(this.readNodesSync(ids));
  }

  #checkSize(size: number): void {
    if (size > this.#size) throw new LogUsageError(`size ${size} beyond the tree's ${this.#size} leaves`);
  }

  #proof(nodes: ProofNodes): Uint8Array[] {
    return combineProof(nodes, this.readNodesSync(nodes.ids));
  }

  /** RFC 9162 §2.1.1: MTH(D[0:size]); size defaults to the whole tree. */
  root(size: number = this.#size): Uint8Array {
    const ids = rootNodes(size);
    this.#checkSize(size);
    return combineRange(this.readNodesSync(ids)) ?? EMPTY_ROOT.slice();
  }

  /** RFC 9162 §2.1.3.1: PATH(index, D[0:size]). */
  inclusionProof(index: number, size: number = this.#size): Uint8Array[] {
    const nodes = inclusionProofNodes(index, size);
    this.#checkSize(size);
    return this.#proof(nodes);
  }

  /** RFC 9162 §2.1.4.1: PROOF(size1, D[0:size2]). */
  consistencyProof(size1: number, size2: number = this.#size): Uint8Array[] {
    const nodes = consistencyProofNodes(size1, size2);
    this.#checkSize(size2);
    return this.#proof(nodes);
  }

  /** Hash of the valid subtree [start, end) (draft-ietf-plants-merkle-tree-certs §4.1). */
  subtreeHash(start: number, end: number): Uint8Array {
    const ids = subtreeNodes(start, end);
    this.#checkSize(end);
    return combineRange(this.readNodesSync(ids)) ?? EMPTY_ROOT.slice();
  }

  subtreeInclusionProof(index: number, start: number, end: number): Uint8Array[] {
    const nodes = subtreeInclusionProofNodes(index, start, end);
    this.#checkSize(end);
    return this.#proof(nodes);
  }

  subtreeConsistencyProof(start: number, end: number, size: number): Uint8Array[] {
    const nodes = subtreeConsistencyProofNodes(start, end, size);
    this.#checkSize(size);
    return this.#proof(nodes);
  }
}

/**
 * Proof generation over storage. The storage (server: SQLite/PostgreSQL rows, tiles, or the
 * in-memory tree) only has to return hashes of complete subtrees by (level, index); which
 * nodes are needed is computed first (proof-nodes.ts), then read in one batch.
 */
import { LogStorageError } from './errors.js';
import { EMPTY_ROOT, HASH_SIZE } from './hash.js';
import type { NodeId } from './node-id.js';
import type { ProofNodes } from './proof-nodes.js';
import { combineProof, combineRange, consistencyProofNodes, inclusionProofNodes, rootNodes } from './proof-nodes.js';

/** Reads hashes of complete subtrees. Must return one 32-byte hash per id, in order. */
export interface HashReader {
  readNodes(ids: readonly NodeId[]): Promise<Uint8Array[]>;
}

/** Synchronous variant (MemoryTree). */
export interface SyncHashReader {
  readNodesSync(ids: readonly NodeId[]): Uint8Array[];
}

/** Checks a storage answer: one 32-byte hash per requested id. */
export function checkRead(ids: readonly NodeId[], hashes: readonly Uint8Array[]): void {
  if (!Array.isArray(hashes) || hashes.length !== ids.length) {
    throw new LogStorageError('LOG_STORAGE_BAD_READ', `storage returned ${String((hashes as unknown[] | undefined)?.length)} hashes for ${ids.length} nodes`);
  }
  hashes.forEach((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
      const id = ids[i]!;
      throw new LogStorageError('LOG_STORAGE_BAD_READ', `storage returned a bad hash for node (${id.level}, ${id.index})`);
    }
  });
}

async function readProof(reader: HashReader, nodes: ProofNodes): Promise<Uint8Array[]> {
  const hashes = nodes.ids.length === 0 ? [] : await reader.readNodes(nodes.ids);
  checkRead(nodes.ids, hashes);
  return combineProof(nodes, hashes);
}

/** RFC 9162 §2.1.3.1: inclusion proof PATH(index, D[0:size]), O(log size) node reads. */
export async function inclusionProof(reader: HashReader, index: number, size: number): Promise<Uint8Array[]> {
  return readProof(reader, inclusionProofNodes(index, size));
}

/** RFC 9162 §2.1.4.1: consistency proof PROOF(size1, D[0:size2]), O(log size2) node reads. */
export async function consistencyProof(reader: HashReader, size1: number, size2: number): Promise<Uint8Array[]> {
  return readProof(reader, consistencyProofNodes(size1, size2));
}

/** RFC 9162 §2.1.1: MTH(D[0:size]) from at most log2(size) + 1 stored nodes. */
export async function rootAt(reader: HashReader, size: number): Promise<Uint8Array> {
  const ids = rootNodes(size);
  if (ids.length === 0) return EMPTY_ROOT.slice();
  const hashes = await reader.readNodes(ids);
  checkRead(ids, hashes);
  return combineRange(hashes) ?? EMPTY_ROOT.slice();
}

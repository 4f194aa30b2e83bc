/**
 * Compact range (transparency-dev/merkle `compact.Range` for [0, size)): the hashes of the
 * perfect subtrees on the right edge of the tree, one per set bit of `size`, largest first.
 * Appending a leaf costs O(log n) hashes and reports the complete-subtree nodes it creates
 * (exactly the rows a server stores); the root is MTH(D[0:size]) (RFC 9162 §2.1.1). The state
 * serialises to JSON so the server and a verifier can resume.
 */
import { popCount } from './bits.js';
import { fromBase64, toBase64 } from './bytes.js';
import { LogFormatError, LogUsageError } from './errors.js';
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './hash.js';
import { MAX_TREE_SIZE } from './limits.js';
import type { NodeId } from './node-id.js';
import type { HashReader } from './proof.js';
import { checkRead } from './proof.js';
import { combineRange, rootNodes } from './proof-nodes.js';

/** A complete-subtree node and its hash. */
export interface StoredNode {
  readonly id: NodeId;
  readonly hash: Uint8Array;
}

/** JSON form: `{ "size": n, "hashes": [base64, ...] }`, hashes largest subtree first. */
export interface CompactRangeJSON {
  size: number;
  hashes: string[];
}

export class CompactRange {
  #size: number;
  readonly #hashes: Uint8Array[];

  private constructor(size: number, hashes: Uint8Array[]) {
    this.#size = size;
    this.#hashes = hashes;
  }

  /** The compact range of the empty tree. */
  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /**
   * From the right-edge hashes of a tree of `size` leaves (the hashes of rootNodes(size)).
   * Throws LOG_BAD_TREE_SIZE / LOG_BAD_HASH_LENGTH unless there is one 32-byte hash per set
   * bit of size.
   */
  static fromHashes(size: number, hashes: readonly Uint8Array[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0) throw new LogFormatError('LOG_BAD_TREE_SIZE', 'compact range size is not an integer in [0, 2^53-1]');
    if (!Array.isArray(hashes) || hashes.length !== popCount(size)) {
      throw new LogFormatError('LOG_BAD_TREE_SIZE', `compact range of size ${size} needs ${popCount(size)} hashes`);
    }
    for (const h of hashes) {
      if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new LogFormatError('LOG_BAD_HASH_LENGTH', 'compact range hash is not 32 bytes');
    }
    return new CompactRange(size, hashes.map((h: Uint8Array) => h.slice()));
  }

  /** Loads the right edge of a stored tree: popcount(size) node reads. */
  static async load(reader: HashReader, size: number): Promise<CompactRange> {
    const ids = rootNodes(size);
    const hashes = ids.length === 0 ? [] : await reader.readNodes(ids);
    checkRead(ids, hashes);
    return new CompactRange(size, hashes.map((h) => h.slice()));
  }

  static fromJSON(json: unknown): CompactRange {
    const o = json as Partial<CompactRangeJSON> | null;
    if (typeof o !== 'object' || o === null || !Array.isArray(o.hashes) || typeof o.size !== 'number') {
      throw new LogFormatError('LOG_BAD_TREE_SIZE', 'compact range JSON needs a size and a hashes array');
    }
    const hashes = o.hashes.map((s: unknown) => {
      const h = typeof s === 'string' ? fromBase64(s) : undefined;
      if (h === undefined) throw new LogFormatError('LOG_BAD_HASH_LENGTH', 'compact range hash is not base64');
      return h;
    });
    return CompactRange.fromHashes(o.size, hashes);
  }

  toJSON(): CompactRangeJSON {
    return { size: this.#size, hashes: this.#hashes.map(toBase64) };
  }

  get size(): number {
    return this.#size;
  }

  /** The right-edge hashes, largest subtree first (the hashes of rootNodes(size)). */
  hashes(): Uint8Array[] {
    return this.#hashes.map((h) => h.slice());
  }

  /** RFC 9162 §2.1.1: MTH(D[0:size]), folding the right edge: O(log n) hashes. */
  root(): Uint8Array {
    return combineRange(this.#hashes) ?? EMPTY_ROOT.slice();
  }

  /**
   * Appends a leaf hash. Returns the complete-subtree nodes this append creates, lowest level
   * first: the leaf (0, size) and each parent it completes.
   */
  append(leafHash: Uint8Array): StoredNode[] {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE) throw new LogUsageError('leaf hash must be 32 bytes');
    if (this.#size >= MAX_TREE_SIZE) throw new LogUsageError('tree is full (2^53 - 1 leaves)');
    let h: Uint8Array = leafHash.slice();
    let id: NodeId = { level: 0, index: this.#size };
    const created: StoredNode[] = [{ id, hash: h }];
    // Each set low bit of size is a perfect subtree that the new node completes into a parent.
    for (let s = this.#size; s % 2 === 1; s = Math.floor(s / 2)) {
      h = nodeHash(this.#hashes.pop()!, h);
      id = { level: id.level + 1, index: Math.floor(id.index / 2) };
      created.push({ id, hash: h });
    }
    this.#hashes.push(h);
    this.#size++;
    return created.map((n) => ({ id: n.id, hash: n.hash.slice() }));
  }

  clone(): CompactRange {
    return new CompactRange(this.#size, this.#hashes.map((h) => h.slice()));
  }
}

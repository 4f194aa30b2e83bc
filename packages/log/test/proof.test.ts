import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HashReader, NodeId } from '../src/index.js';
import {
  LogStorageError, MemoryTree, consistencyProof, consistencyProofNodes, inclusionProof, inclusionProofNodes, leafHash,
  nodeHash, rootAt, verifyConsistency, verifyInclusion,
} from '../src/index.js';
import { RfcOracle, ascii, hex, leaves, rejectsCode } from './helpers.js';

/** An async HashReader over a MemoryTree that counts node reads. */
class CountingReader implements HashReader {
  reads = 0;
  calls = 0;
  constructor(private readonly tree: MemoryTree) {}
  async readNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    this.calls++;
    this.reads += ids.length;
    await Promise.resolve();
    return this.tree.readNodesSync(ids);
  }
}

/**
 * A virtual tree of any size whose leaves are all leafHash("x"): every complete node at level l
 * has the same hash, so a reader answers any node in O(1) and the RFC root of n leaves is
 * computable by recursion on n alone (independent oracle for huge trees).
 */
class UniformTree implements HashReader {
  readonly level: Uint8Array[] = [leafHash(ascii('x'))];
  readonly #roots = new Map<number, Uint8Array>();
  reads = 0;
  constructor() {
    for (let l = 1; l <= 60; l++) this.level.push(nodeHash(this.level[l - 1]!, this.level[l - 1]!));
  }
  readNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    this.reads += ids.length;
    return Promise.resolve(ids.map((id) => this.level[id.level]!));
  }
  root(n: number): Uint8Array {
    const m = this.#roots.get(n);
    if (m !== undefined) return m;
    let k = 1;
    while (k * 2 < n) k *= 2;
    const r = n === 1 ? this.level[0]! : nodeHash(this.root(k), this.root(n - k));
    this.#roots.set(n, r);
    return r;
  }
}

void describe('proof: node ids + HashReader (the server path)', () => {
  void it('inclusionProofNodes is a pure recipe: ids plus the ephemeral right-edge rehash', () => {
    assert.deepEqual(inclusionProofNodes(5, 8), { ids: [{ level: 0, index: 4 }, { level: 1, index: 3 }, { level: 2, index: 0 }], begin: 0, end: 0 });
    // Leaf 0 of 7: the sibling of node (2, 0) covers [4, 7), incomplete: rebuilt from (0, 6) and (1, 2).
    assert.deepEqual(inclusionProofNodes(0, 7), {
      ids: [{ level: 0, index: 1 }, { level: 1, index: 1 }, { level: 0, index: 6 }, { level: 1, index: 2 }], begin: 2, end: 4,
    });
    assert.deepEqual(consistencyProofNodes(4, 4), { ids: [], begin: 0, end: 0 });
  });

  void it('proofs from the reader equal the RFC definitions and verify, for all sizes 1..70 and all index pairs', async () => {
    const d = leaves(70);
    const oracle = new RfcOracle(d);
    const t = new MemoryTree();
    d.forEach((h) => t.appendLeafHash(h));
    const reader = new CountingReader(t);
    for (let n = 1; n <= 70; n++) {
      const root = oracle.mth(0, n);
      assert.equal(hex(await rootAt(reader, n)), hex(root));
      for (let m = 0; m < n; m++) {
        const ip = await inclusionProof(reader, m, n);
        assert.deepEqual(ip.map(hex), oracle.path(m, 0, n).map(hex));
        verifyInclusion(d[m]!, m, n, ip, root);
        const cp = await consistencyProof(reader, m + 1, n);
        assert.deepEqual(cp.map(hex), oracle.proof(m + 1, n).map(hex));
        verifyConsistency(m + 1, n, cp, oracle.mth(0, m + 1), root);
      }
    }
  });

  void it('inclusion proof at 1,000,000 entries reads O(log n) nodes, in one batch', async () => {
    const u = new UniformTree();
    for (const [index, size] of [[0, 1_000_000], [123_456, 1_000_000], [999_999, 1_000_000], [500_000, 1_000_001], [7, 2 ** 40 + 12_345]] as const) {
      u.reads = 0;
      const proof = await inclusionProof(u, index, size);
      const bound = 2 * Math.ceil(Math.log2(size));
      assert.ok(u.reads <= bound, `${u.reads} reads for size ${size} (bound ${bound})`);
      verifyInclusion(u.level[0]!, index, size, proof, u.root(size));
    }
    const t = new MemoryTree();
    leaves(1000).forEach((h) => t.appendLeafHash(h));
    const r = new CountingReader(t);
    await inclusionProof(r, 3, 1000);
    assert.equal(r.calls, 1);
  });

  void it('consistency proofs between huge sizes read O(log n) nodes and verify', async () => {
    const u = new UniformTree();
    for (const [a, b] of [[999_999, 1_000_000], [3_654_490, 961_984_013], [1, 2 ** 45], [2 ** 30 + 1, 2 ** 50 - 3]] as const) {
      u.reads = 0;
      const proof = await consistencyProof(u, a, b);
      assert.ok(u.reads <= 2 * Math.ceil(Math.log2(b)) + 1, `${u.reads} reads`);
      verifyConsistency(a, b, proof, u.root(a), u.root(b));
    }
    assert.equal(hex(await rootAt(u, 2 ** 52 + 1)), hex(u.root(2 ** 52 + 1)));
  });

  void it('storage that returns the wrong number or size of hashes is a LogStorageError', async () => {
    const t = new MemoryTree();
    leaves(9).forEach((h) => t.appendLeafHash(h));
    const short: HashReader = { readNodes: (ids) => Promise.resolve(t.readNodesSync(ids).slice(1)) };
    const badLen: HashReader = { readNodes: (ids) => Promise.resolve(t.readNodesSync(ids).map((h) => h.subarray(1))) };
    await rejectsCode(() => inclusionProof(short, 2, 9), 'LOG_STORAGE_BAD_READ');
    await rejectsCode(() => consistencyProof(badLen, 3, 9), 'LOG_STORAGE_BAD_READ');
    await rejectsCode(() => rootAt(short, 9), 'LOG_STORAGE_BAD_READ');
    await assert.rejects(() => rootAt(badLen, 9), LogStorageError);
  });

  void it('the empty proof (size1 = size2) and the empty root need no reads', async () => {
    const u = new UniformTree();
    assert.deepEqual(await consistencyProof(u, 5, 5), []);
    assert.equal(hex(await rootAt(u, 0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(u.reads, 0);
  });
});

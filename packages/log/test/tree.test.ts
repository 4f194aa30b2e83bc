import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogUsageError, MemoryTree, leafHash, merkleRoot } from '../src/index.js';
import { RfcOracle, hex, leaves, throwsCode, unhex, vectors } from './helpers.js';

const ref = vectors.referenceTree8;
const refLeaves = ref.leafInputs.map((d) => leafHash(unhex(d)));

function refTree(): MemoryTree {
  const t = new MemoryTree();
  for (const d of ref.leafInputs) t.append(unhex(d));
  return t;
}

void describe('tree: RFC 9162 §2.1.1 Merkle Tree Hash', () => {
  void it('leaf hashes of the reference tree match (transparency-dev testonly/constants.go)', () => {
    assert.deepEqual(refLeaves.map(hex), ref.leafHashes);
  });

  void it('merkleRoot and MemoryTree.root give the published root for every size 0..8', () => {
    const t = refTree();
    for (const [size, root] of Object.entries(ref.rootsBySize)) {
      assert.equal(hex(merkleRoot(refLeaves.slice(0, Number(size)))), root, `merkleRoot size ${size}`);
      assert.equal(hex(t.root(Number(size))), root, `MemoryTree size ${size}`);
    }
  });

  void it('MemoryTree reproduces the published inclusion and consistency proofs exactly', () => {
    const t = refTree();
    for (const p of [...ref.publishedInclusionProofs, ...ref.allInclusionProofs_derived]) {
      assert.deepEqual(t.inclusionProof(p.leafIndex, p.treeSize).map(hex), p.proof, `inclusion ${p.leafIndex}/${p.treeSize}`);
    }
    for (const p of [...ref.publishedConsistencyProofs, ...ref.allConsistencyProofs_derived]) {
      assert.deepEqual(t.consistencyProof(p.size1, p.size2).map(hex), p.proof, `consistency ${p.size1}/${p.size2}`);
    }
  });

  void it('MemoryTree agrees with the recursive RFC definitions for all sizes 1..70 and all index pairs', () => {
    const d = leaves(70);
    const oracle = new RfcOracle(d);
    const t = new MemoryTree();
    d.forEach((h) => t.appendLeafHash(h));
    for (let n = 1; n <= 70; n++) {
      assert.equal(hex(t.root(n)), hex(oracle.mth(0, n)));
      for (let m = 0; m < n; m++) {
        assert.deepEqual(t.inclusionProof(m, n).map(hex), oracle.path(m, 0, n).map(hex), `PATH(${m}, ${n})`);
        assert.deepEqual(t.consistencyProof(m + 1, n).map(hex), oracle.proof(m + 1, n).map(hex), `PROOF(${m + 1}, ${n})`);
      }
    }
  });

  void it('append returns consecutive indexes and stores copies of the leaf hashes', () => {
    const t = new MemoryTree();
    const h = leafHash(new Uint8Array([1]));
    assert.equal(t.appendLeafHash(h), 0);
    assert.equal(t.append(new Uint8Array([2])), 1);
    h.fill(0);
    assert.equal(hex(t.leafHash(0)), hex(leafHash(new Uint8Array([1]))));
    assert.equal(t.size, 2);
  });

  void it('misuse is a LogUsageError: index >= size, size beyond the tree, size1 = 0, bad leaf hash', () => {
    const t = refTree();
    for (const f of [
      () => t.inclusionProof(8, 8),
      () => t.inclusionProof(0, 9),
      () => t.root(9),
      () => t.consistencyProof(0, 8),
      () => t.consistencyProof(5, 4),
      () => t.appendLeafHash(new Uint8Array(31)),
      () => t.inclusionProof(-1, 8),
      () => t.inclusionProof(0.5, 8),
    ]) {
      assert.ok(throwsCode(f, 'LOG_INVALID_ARGUMENT') instanceof LogUsageError);
    }
  });

  void it('the empty tree has the empty root and no proofs', () => {
    const t = new MemoryTree();
    assert.equal(hex(t.root()), vectors.hasherKATs.emptyTreeRoot);
    assert.equal(hex(merkleRoot([])), vectors.hasherKATs.emptyTreeRoot);
    throwsCode(() => t.inclusionProof(0, 0), 'LOG_INVALID_ARGUMENT');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogProofError, MemoryTree, emptyRoot, leafHash, rootFromInclusionProof, verifyConsistency, verifyInclusion } from '../src/index.js';
import { hex, leaves, throwsCode, unb64, unhex, vectors } from './helpers.js';

const ref = vectors.referenceTree8;
const rootOf = (n: number): Uint8Array => unhex(ref.rootsBySize[String(n)]!);
const refLeaf = (i: number): Uint8Array => unhex(ref.leafHashes[i]!);

void describe('verify: RFC 9162 §2.1.3.2 inclusion and §2.1.4.2 consistency', () => {
  void it('accepts every published and derived inclusion proof of the reference tree', () => {
    for (const p of [...ref.publishedInclusionProofs, ...ref.allInclusionProofs_derived]) {
      verifyInclusion(refLeaf(p.leafIndex), p.leafIndex, p.treeSize, p.proof.map(unhex), rootOf(p.treeSize));
    }
  });

  void it('accepts every published and derived consistency proof of the reference tree', () => {
    for (const p of [...ref.publishedConsistencyProofs, ...ref.allConsistencyProofs_derived]) {
      verifyConsistency(p.size1, p.size2, p.proof.map(unhex), rootOf(p.size1), rootOf(p.size2));
    }
  });

  void describe('upstream inclusion probes (transparency-dev/merkle testdata/inclusion)', () => {
    for (const p of vectors.probes.inclusion) {
      void it(`${p.wantErr ? 'refuses' : 'accepts'} ${p.file}`, () => {
        const run = (): void => verifyInclusion(unb64(p.leafHash), p.leafIdx, p.treeSize, (p.proof ?? []).map(unb64), unb64(p.root));
        if (p.wantErr) throwsCode(run);
        else run();
      });
    }
  });

  void describe('upstream consistency probes (transparency-dev/merkle testdata/consistency)', () => {
    for (const p of vectors.probes.consistency) {
      void it(`${p.wantErr ? 'refuses' : 'accepts'} ${p.file}`, () => {
        const run = (): void => verifyConsistency(p.size1, p.size2, (p.proof ?? []).map(unb64), unb64(p.root1), unb64(p.root2));
        if (p.wantErr) throwsCode(run);
        else run();
      });
    }
  });

  void describe('edge cases (README "Edge cases")', () => {
    const t = new MemoryTree();
    leaves(8).forEach((h) => t.appendLeafHash(h));

    void it('empty tree: no leaf is included in it', () => {
      throwsCode(() => verifyInclusion(t.leafHash(0), 0, 0, [], emptyRoot()), 'LOG_INDEX_OUT_OF_RANGE');
    });
    void it('index >= size, negative, fractional or beyond 2^53 is LOG_INDEX_OUT_OF_RANGE', () => {
      for (const i of [8, 9, -1, 0.5, 2 ** 64, Number.NaN]) throwsCode(() => verifyInclusion(t.leafHash(0), i, 8, t.inclusionProof(0), t.root()), 'LOG_INDEX_OUT_OF_RANGE');
    });
    void it('a size that is not a safe integer is LOG_BAD_TREE_SIZE', () => {
      for (const s of [-1, 1.5, 2 ** 53, Number.POSITIVE_INFINITY]) {
        throwsCode(() => verifyInclusion(t.leafHash(0), 0, s, t.inclusionProof(0), t.root()), 'LOG_BAD_TREE_SIZE');
        throwsCode(() => verifyConsistency(1, s, [], t.root(1), t.root()), 'LOG_BAD_TREE_SIZE');
      }
    });
    void it('size1 = size2: the proof must be empty and the roots equal', () => {
      verifyConsistency(8, 8, [], t.root(), t.root());
      throwsCode(() => verifyConsistency(8, 8, [t.root()], t.root(), t.root()), 'LOG_PROOF_TOO_LONG');
      throwsCode(() => verifyConsistency(8, 8, [], t.root(), t.root(7)), 'LOG_ROOT_MISMATCH');
    });
    void it('size1 = 0: refused even with an empty proof (nothing to prove; see verifyCheckpointConsistency)', () => {
      throwsCode(() => verifyConsistency(0, 8, [], emptyRoot(), t.root()), 'LOG_EMPTY_TREE_CONSISTENCY');
      throwsCode(() => verifyConsistency(0, 0, [], emptyRoot(), emptyRoot()), 'LOG_EMPTY_TREE_CONSISTENCY');
    });
    void it('size1 > size2 is LOG_BAD_TREE_SIZE', () => {
      throwsCode(() => verifyConsistency(8, 7, t.consistencyProof(7, 8), t.root(), t.root(7)), 'LOG_BAD_TREE_SIZE');
    });
    void it('proof length: one hash too many or too few is refused by the RFC loop; over 64 before hashing', () => {
      const p = t.inclusionProof(3);
      throwsCode(() => verifyInclusion(t.leafHash(3), 3, 8, [...p, p[0]!], t.root()), 'LOG_PROOF_TOO_LONG');
      throwsCode(() => verifyInclusion(t.leafHash(3), 3, 8, p.slice(1), t.root()), 'LOG_PROOF_TOO_SHORT');
      throwsCode(() => verifyInclusion(t.leafHash(3), 3, 8, Array.from({ length: 65 }, () => p[0]!), t.root()), 'LOG_PROOF_TOO_LONG');
      const c = t.consistencyProof(3);
      throwsCode(() => verifyConsistency(3, 8, [...c, c[0]!], t.root(3), t.root()), 'LOG_PROOF_TOO_LONG');
      throwsCode(() => verifyConsistency(3, 8, c.slice(0, -1), t.root(3), t.root()), 'LOG_PROOF_TOO_SHORT');
      throwsCode(() => verifyConsistency(3, 8, [], t.root(3), t.root()), 'LOG_PROOF_TOO_SHORT');
    });
    void it('hashes that are not 32-byte Uint8Arrays are LOG_BAD_HASH_LENGTH, not a TypeError', () => {
      const p = t.inclusionProof(3);
      throwsCode(() => verifyInclusion(new Uint8Array(31), 3, 8, p, t.root()), 'LOG_BAD_HASH_LENGTH');
      throwsCode(() => verifyInclusion(t.leafHash(3), 3, 8, [...p.slice(0, 2), 'abc' as unknown as Uint8Array], t.root()), 'LOG_BAD_HASH_LENGTH');
      throwsCode(() => verifyInclusion(t.leafHash(3), 3, 8, p, undefined as unknown as Uint8Array), 'LOG_BAD_HASH_LENGTH');
      throwsCode(() => verifyInclusion(t.leafHash(3), 3, 8, null as unknown as Uint8Array[], t.root()), 'LOG_BAD_INCLUSION_PROOF');
      throwsCode(() => verifyConsistency(3, 8, {} as unknown as Uint8Array[], t.root(3), t.root()), 'LOG_BAD_CONSISTENCY_PROOF');
    });
    void it('rootFromInclusionProof recomputes the root; every failure is a LogProofError', () => {
      assert.equal(hex(rootFromInclusionProof(t.leafHash(6), 6, 8, t.inclusionProof(6))), hex(t.root()));
      assert.ok(throwsCode(() => verifyInclusion(leafHash(new Uint8Array(1)), 6, 8, t.inclusionProof(6), t.root())) instanceof LogProofError);
    });
  });
});

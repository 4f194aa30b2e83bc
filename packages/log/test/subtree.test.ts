import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryTree, isValidSubtree } from '../src/index.js';
import { hex, throwsCode, vectors } from './helpers.js';

// transparency-dev/merkle testonly/vectors_test.go, reproducing the "Subtree Test Vectors"
// appendix of draft-ietf-plants-merkle-tree-certs: 130 entries d[i] = byte i; every valid
// subtree (start = 0, start = end, or start a multiple of bit_ceil(end - start)) for
// end 0..130, start 0..end, each output line folded into one rolling SHA-256.
const v = vectors.mtcSubtreeRollingVectors;
const N = 130;
const tree = new MemoryTree();
for (let i = 0; i < N; i++) tree.append(Uint8Array.of(i));

function rolling(body: (write: (line: string) => void) => void): string {
  const h = createHash('sha256');
  body((line) => h.update(line));
  return h.digest('hex');
}
const proofLine = (prefix: string, proof: Uint8Array[]): string => `${prefix}${proof.map((p) => ` ${hex(p)}`).join('')}\n`;

function* validSubtrees(maxEnd: number): Generator<[number, number]> {
  for (let end = 0; end <= maxEnd; end++) for (let start = 0; start <= end; start++) if (isValidSubtree(start, end)) yield [start, end];
}

void describe('subtree: draft-ietf-plants-merkle-tree-certs rolling vectors', () => {
  void it('subtree hashes "[start, end) hash" fold to the published value', () => {
    const got = rolling((w) => {
      for (const [start, end] of validSubtrees(N)) w(`[${start}, ${end}) ${hex(tree.subtreeHash(start, end))}\n`);
    });
    assert.equal(got, v.subtreeHash.want);
  });

  void it('subtree inclusion proofs "index [start, end) proof..." fold to the published value (start 0 = RFC PATH)', () => {
    const got = rolling((w) => {
      for (const [start, end] of validSubtrees(N)) {
        for (let i = start; i < end; i++) w(proofLine(`${i} [${start}, ${end})`, tree.subtreeInclusionProof(i, start, end)));
      }
    });
    assert.equal(got, v.subtreeInclusion.want);
  });

  void it('subtree consistency proofs "[start, end) n proof..." fold to the published value (start 0 = RFC PROOF)', () => {
    const got = rolling((w) => {
      for (let n = 0; n <= N; n++) {
        for (const [start, end] of validSubtrees(n)) w(proofLine(`[${start}, ${end}) ${n}`, tree.subtreeConsistencyProof(start, end, n)));
      }
    });
    assert.equal(got, v.subtreeConsistency.want);
  });

  void it('invalid subtrees are refused as misuse', () => {
    assert.equal(isValidSubtree(1, 3), false);
    assert.equal(isValidSubtree(4, 8), true);
    assert.equal(isValidSubtree(4, 9), false);
    assert.equal(isValidSubtree(3, 2), false);
    throwsCode(() => tree.subtreeHash(1, 3), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => tree.subtreeInclusionProof(3, 4, 8), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => tree.subtreeConsistencyProof(0, 10, 9), 'LOG_INVALID_ARGUMENT');
  });
});

/**
 * Mutation ("fuzz-style") tests: every corrupted proof, root, note or receipt is refused with a
 * coded LogError, never accepted and never an uncaught TypeError/RangeError.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  LogError, MemoryTree, cosignCheckpoint, formatCheckpoint, generateCosigner, generateSigner, openCheckpoint, parseCosignerKey,
  parseCosignerVerifierKey, parseSignerKey, parseVerifierKey, signCheckpoint, verifyConsistency, verifyCosignatures, verifyInclusion,
  verifyReceipt, formatReceipt,
} from '../src/index.js';
import { ascii, leaves, prng, throwsCode } from './helpers.js';

const tree = new MemoryTree();
leaves(37).forEach((h) => tree.appendLeafHash(h));

function flip(b: Uint8Array, bit: number): Uint8Array {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

/** RFC 9162 §2.1.3.1 PATH(m, D[n]) recursion, recording only which side each sibling is on. */
function shape(m: number, n: number): string {
  if (n === 1) return '';
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m < k ? `${shape(m, k)}R` : `${shape(m - k, n - k)}L`;
}

/** Runs fn; it may succeed only if `allowed` says so; any throw must be a coded LogError. */
function refusedOrAllowed(fn: () => void, allowed: () => boolean, what: string): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LogError && typeof err.code === 'string', `${what}: uncoded ${String(err)}`);
    return;
  }
  assert.ok(allowed(), `${what}: a mutation was accepted`);
}

void describe('fuzz: mutations are always a coded error', () => {
  void it('every single-bit flip in inclusion proofs, leaf hashes and roots is refused', () => {
    for (const [i, n] of [[0, 37], [5, 8], [36, 37], [17, 33], [31, 32]] as const) {
      const proof = tree.inclusionProof(i, n);
      const leaf = tree.leafHash(i);
      const root = tree.root(n);
      verifyInclusion(leaf, i, n, proof, root);
      proof.forEach((p, k) => {
        for (let bit = 0; bit < 256; bit++) {
          const bad = proof.map((q, j) => (j === k ? flip(p, bit) : q));
          throwsCode(() => verifyInclusion(leaf, i, n, bad, root), 'LOG_BAD_INCLUSION_PROOF');
        }
      });
      for (let bit = 0; bit < 256; bit++) {
        throwsCode(() => verifyInclusion(flip(leaf, bit), i, n, proof, root), 'LOG_BAD_INCLUSION_PROOF');
        throwsCode(() => verifyInclusion(leaf, i, n, proof, flip(root, bit)), 'LOG_BAD_INCLUSION_PROOF');
      }
    }
  });

  void it('every single-bit flip in consistency proofs and either root is refused', () => {
    for (const [a, b] of [[1, 37], [6, 8], [7, 37], [16, 33], [32, 37]] as const) {
      const proof = tree.consistencyProof(a, b);
      const r1 = tree.root(a);
      const r2 = tree.root(b);
      verifyConsistency(a, b, proof, r1, r2);
      proof.forEach((p, k) => {
        for (let bit = 0; bit < 256; bit++) {
          throwsCode(() => verifyConsistency(a, b, proof.map((q, j) => (j === k ? flip(p, bit) : q)), r1, r2), 'LOG_BAD_CONSISTENCY_PROOF');
        }
      });
      for (let bit = 0; bit < 256; bit++) {
        throwsCode(() => verifyConsistency(a, b, proof, flip(r1, bit), r2), 'LOG_BAD_CONSISTENCY_PROOF');
        throwsCode(() => verifyConsistency(a, b, proof, r1, flip(r2, bit)), 'LOG_BAD_CONSISTENCY_PROOF');
      }
    }
  });

  void it('a proof passes for another size only with the same path shape (size is bound by the checkpoint)', () => {
    const p = tree.inclusionProof(12, 20);
    for (let s = 13; s <= 37; s++) {
      refusedOrAllowed(() => verifyInclusion(tree.leafHash(12), 12, s, p, tree.root(20)), () => shape(12, s) === shape(12, 20), `size ${s}`);
    }
    assert.equal(shape(12, 17), shape(12, 32));
  });

  void it('random structural mutations (drop, duplicate, swap, insert, other index or size) are refused', () => {
    const rnd = prng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const odd = [-1, 0.5, Number.NaN, 2 ** 53, 2 ** 64, Number.POSITIVE_INFINITY];
    for (let round = 0; round < 3000; round++) {
      const n = 1 + Math.floor(rnd() * 37);
      const i = Math.floor(rnd() * n);
      const proof = tree.inclusionProof(i, n);
      const m = 1 + Math.floor(rnd() * n);
      const cproof = tree.consistencyProof(m, n);
      const p = [...proof];
      let idx = i;
      let size = n;
      switch (Math.floor(rnd() * 7)) {
        case 0: if (p.length > 0) p.splice(Math.floor(rnd() * p.length), 1); else p.push(tree.leafHash(0)); break;
        case 1: p.splice(Math.floor(rnd() * (p.length + 1)), 0, pick([...proof, tree.root(), tree.leafHash(i)])); break;
        case 2: if (p.length > 1) { const a = Math.floor(rnd() * (p.length - 1)); [p[a], p[a + 1]] = [p[a + 1]!, p[a]!]; } else p.push(tree.root()); break;
        case 3: idx = rnd() < 0.5 ? pick(odd) : (i + 1 + Math.floor(rnd() * n)) % (n + 1); break;
        case 4: size = rnd() < 0.5 ? pick(odd) : n + 1 + Math.floor(rnd() * 40); break;
        case 5: size = rnd() < 0.5 ? i : Math.max(i + 1, Math.floor(n / 2)); break;
        default: p.push(...p); if (p.length === 0) p.push(tree.root()); break;
      }
      // The RFC 9162 §2.1.3.2 loop binds (index, size) only through the path shape: leaf 12 has
      // the same shape in every size 17..32, so size and root must come from one checkpoint.
      const sameProof = p.length === proof.length && p.every((h, k) => h === proof[k]);
      const sameShape = Number.isSafeInteger(idx) && Number.isSafeInteger(size) && idx >= 0 && idx < size && shape(idx, size) === shape(i, n);
      refusedOrAllowed(() => verifyInclusion(tree.leafHash(i), idx, size, p, tree.root(n)), () => sameProof && sameShape, `inclusion ${i}/${n} round ${round}`);
      const cp = [...cproof];
      if (cp.length > 0 && rnd() < 0.5) cp.splice(Math.floor(rnd() * cp.length), 1);
      else cp.push(pick([tree.root(), tree.root(m), ...cproof]));
      refusedOrAllowed(() => verifyConsistency(m, n, cp, tree.root(m), tree.root(n)), () => false, `consistency ${m}/${n} round ${round}`);
      refusedOrAllowed(() => verifyConsistency(pick(odd), n, cproof, tree.root(m), tree.root(n)), () => false, 'odd size1');
    }
  });

  void it('random byte mutations of a cosigned checkpoint note never change what is accepted', () => {
    const origin = 'reflash.example/log';
    const log = parseSignerKey(generateSigner(origin).signerKey);
    const w = parseCosignerKey(generateCosigner('w.example').signerKey);
    const cp = { origin, size: 37, rootHash: tree.root(), extensions: ['ext'] };
    const body = formatCheckpoint(cp);
    const note = Buffer.from(cosignCheckpoint(signCheckpoint(cp, [log]), w, 1700000000));
    const opts = { origin, verifiers: [parseVerifierKey(log.verifierKey)] };
    const policy = { witnesses: [parseCosignerVerifierKey(w.verifierKey)], threshold: 1 };
    const rnd = prng(7);
    let refused = 0;
    for (let round = 0; round < 1500; round++) {
      const b = Buffer.from(note);
      const at = Math.floor(rnd() * b.length);
      let m: Buffer;
      switch (Math.floor(rnd() * 4)) {
        case 0: b[at]! ^= 1 << Math.floor(rnd() * 8); m = b; break;
        case 1: m = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]); break;
        case 2: m = Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(rnd() * 256)]), b.subarray(at)]); break;
        default: m = b.subarray(0, at); break;
      }
      try {
        const opened = openCheckpoint(new Uint8Array(m), opts);
        verifyCosignatures(new Uint8Array(m), policy);
        assert.equal(opened.note.text, body, `round ${round}: accepted with a changed text`);
      } catch (err) {
        assert.ok(err instanceof LogError, `round ${round}: uncoded ${String(err)}`);
        refused++;
      }
    }
    assert.ok(refused > 1400);
  });

  void it('random mutations of a receipt never verify another entry, index or checkpoint', () => {
    const origin = 'reflash.example/log';
    const key = generateSigner(origin);
    const cp = { origin, size: 37, rootHash: tree.root(), extensions: [] };
    const signed = signCheckpoint(cp, [parseSignerKey(key.signerKey)]);
    const entries = Array.from({ length: 37 }, (_, i) => ascii(`entry-${i}`));
    const receipt = formatReceipt({ index: 21, proof: tree.inclusionProof(21), checkpoint: signed });
    const verifiers = [parseVerifierKey(key.verifierKey)];
    const rnd = prng(99);
    for (let round = 0; round < 800; round++) {
      const chars = [...receipt];
      const at = Math.floor(rnd() * chars.length);
      if (rnd() < 0.5) chars[at] = String.fromCharCode(32 + Math.floor(rnd() * 95));
      else chars.splice(at, 1);
      const mutated = chars.join('');
      refusedOrAllowed(() => {
        const r = verifyReceipt(mutated, entries[21]!, { origin, verifiers });
        assert.equal(r.index, 21);
        assert.equal(formatCheckpoint(r.checkpoint), formatCheckpoint(cp));
      }, () => true, `receipt round ${round}`);
    }
  });
});

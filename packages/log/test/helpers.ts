/** Shared test helpers: the vectors file, hex/base64, coded-error assertions, an RFC oracle. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LogError, leafHash, nodeHash } from '../src/index.js';

// From packages/log/dist/test/helpers.js up to /work, then shared/testdata (../shared from the repo root).
const VECTORS_URL = new URL('../../../../../shared/testdata/merkle-vectors.json', import.meta.url);

export interface InclusionProbe {
  leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; desc: string; wantErr: boolean; file: string;
}
export interface ConsistencyProbe {
  size1: number; size2: number; root1: string; root2: string; proof: string[] | null; desc: string; wantErr: boolean; file: string;
}
export interface Vectors {
  hasherKATs: { emptyTreeRoot: string; leafHash_of_empty: string; leafHash_of_ascii_L123456: string; nodeHash_of_ascii_N123_N456: string };
  referenceTree8: {
    leafInputs: string[];
    leafHashes: string[];
    rootsBySize: Record<string, string>;
    publishedInclusionProofs: { leafIndex: number; treeSize: number; proof: string[] }[];
    publishedConsistencyProofs: { size1: number; size2: number; proof: string[] }[];
    allInclusionProofs_derived: { leafIndex: number; treeSize: number; proof: string[] }[];
    allConsistencyProofs_derived: { size1: number; size2: number; proof: string[] }[];
  };
  probes: { inclusion: InclusionProbe[]; consistency: ConsistencyProbe[] };
  realWorld_CT_Argon2020: {
    'get-sth': { tree_size: number; timestamp: number; sha256_root_hash: string; tree_head_signature: string };
    'get-proof-by-hash': { leaf_index: number; audit_path: string[] };
    'get-sth-consistency': { first: number; second: number; first_root_b64: string; consistency: string[] };
    'get-entries_10000_leaf_input_b64': string;
    leafHash_hex: string;
    logPublicKey_spki_b64: string;
    treeHeadSignature: { digitallySigned_hash_alg: number; sig_alg: number; tbs_hex: string };
  };
  signedNotes: { vkey?: string; skey?: string; note?: string; checkpointBody?: string; source: string }[];
  mtcSubtreeRollingVectors: {
    subtreeHash: { want: string }; subtreeInclusion: { want: string }; subtreeConsistency: { want: string };
  };
  tlogTilesExamples: {
    tilePath_1234067: string;
    tiles_for_treeSize_70000: { level: number; fullTiles: number; partialWidth: number }[];
    tiles_for_treeSize_256: { level: number; fullTiles: number; partialWidth: number }[];
  };
}

export const vectors = JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as Vectors;

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
export const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** Asserts fn throws a LogError (of `code` if given) and returns it. */
export function throwsCode(fn: () => unknown, code?: string): LogError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof LogError, `expected a LogError, got ${String(caught)}`);
  assert.equal(typeof caught.code, 'string');
  if (code !== undefined) assert.equal(caught.code, code, caught.message);
  return caught;
}

export async function rejectsCode(fn: () => Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(fn, (err: unknown) => err instanceof LogError && err.code === code);
}

/** Leaf hashes d[i] = leafHash(byte i), or of arbitrary generated entries. */
export function leaves(n: number, entry: (i: number) => Uint8Array = (i) => ascii(`entry-${i}`)): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => leafHash(entry(i)));
}

/** Deterministic PRNG (mulberry32) for mutation tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Independent oracle: RFC 9162 §2.1.1 MTH, §2.1.3.1 PATH and §2.1.4.1 PROOF/SUBPROOF, written
 * recursively straight from the definitions over a list of leaf hashes.
 */
export class RfcOracle {
  readonly #memo = new Map<string, Uint8Array>();
  constructor(readonly d: readonly Uint8Array[]) {}

  #k(n: number): number {
    let k = 1;
    while (k * 2 < n) k *= 2;
    return k; // largest power of two smaller than n
  }

  mth(lo: number, hi: number): Uint8Array {
    const key = `${lo}:${hi}`;
    const m = this.#memo.get(key);
    if (m !== undefined) return m;
    const n = hi - lo;
    let h: Uint8Array;
    if (n === 0) h = new Uint8Array(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'));
    else if (n === 1) h = this.d[lo]!;
    else {
      const k = this.#k(n);
      h = nodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
    }
    this.#memo.set(key, h);
    return h;
  }

  path(m: number, lo: number, hi: number): Uint8Array[] {
    const n = hi - lo;
    if (n === 1) return [];
    const k = this.#k(n);
    return m < k ? [...this.path(m, lo, lo + k), this.mth(lo + k, hi)] : [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  proof(m: number, n: number): Uint8Array[] {
    return this.#subproof(m, 0, n, true);
  }

  #subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    const k = this.#k(n);
    return m <= k
      ? [...this.#subproof(m, lo, lo + k, b), this.mth(lo + k, hi)]
      : [...this.#subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }
}

/**
 * Split-view (fork) detection between checkpoints of one log, for verifiers and monitors.
 * c2sp.org/tlog-checkpoint "Signatures": a log MUST NOT sign two checkpoints that are
 * inconsistent; two signed checkpoints of one size with different roots prove it did.
 */
import { bytesEqual } from './bytes.js';
import type { Checkpoint } from './checkpoint.js';
import { LogFormatError, LogProofError } from './errors.js';
import { EMPTY_ROOT } from './hash.js';
import { verifyConsistency } from './verify.js';

export interface ForkEvidence {
  readonly origin: string;
  readonly size: number;
  readonly rootA: Uint8Array;
  readonly rootB: Uint8Array;
}

function sameOrigin(a: Checkpoint, b: Checkpoint): void {
  if (a.origin !== b.origin) {
    throw new LogFormatError('LOG_ORIGIN_MISMATCH', `checkpoints of different logs: ${JSON.stringify(a.origin)} and ${JSON.stringify(b.origin)}`);
  }
}

/**
 * Two checkpoints of the same log and size with different roots: returns the evidence (keep
 * both signed notes as proof of misbehaviour), else undefined. Checkpoints of different sizes
 * need a consistency proof: see verifyCheckpointConsistency.
 */
export function detectFork(a: Checkpoint, b: Checkpoint): ForkEvidence | undefined {
  sameOrigin(a, b);
  if (a.size !== b.size || bytesEqual(a.rootHash, b.rootHash)) return undefined;
  return { origin: a.origin, size: a.size, rootA: a.rootHash.slice(), rootB: b.rootHash.slice() };
}

/**
 * The check a verifier runs when it moves from a trusted checkpoint `older` (undefined on
 * first use) to a newer one:
 * - no older checkpoint, or older size 0 (root must be SHA-256("")): nothing to prove, the
 *   proof must be empty (trust on first use; RFC 9162 §2.1.4.2 needs 0 < first);
 * - a smaller newer size: LOG_ROLLBACK;
 * - the same size: the roots must be equal (LOG_ROOT_MISMATCH = fork) and the proof empty;
 * - otherwise RFC 9162 §2.1.4.2 (verifyConsistency; LOG_BAD_CONSISTENCY_PROOF = fork).
 */
export function verifyCheckpointConsistency(older: Checkpoint | undefined, newer: Checkpoint, proof: readonly Uint8Array[]): void {
  if (older !== undefined) sameOrigin(older, newer);
  if (older === undefined || older.size === 0) {
    if (older !== undefined && !bytesEqual(older.rootHash, EMPTY_ROOT)) {
      throw new LogProofError('LOG_ROOT_MISMATCH', 'a checkpoint of size 0 must have the empty-tree root');
    }
    if (proof.length !== 0) throw new LogProofError('LOG_PROOF_TOO_LONG', 'no consistency proof is needed from the empty tree');
    return;
  }
  if (newer.size < older.size) throw new LogProofError('LOG_ROLLBACK', `tree size went back from ${older.size} to ${newer.size}`);
  verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash);
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Checkpoint } from '../src/index.js';
import { MemoryTree, detectFork, emptyRoot, verifyCheckpointConsistency } from '../src/index.js';
import { ascii, hex, leaves, throwsCode } from './helpers.js';

const ORIGIN = 'reflash.example/log';
const honest = new MemoryTree();
leaves(20).forEach((h) => honest.appendLeafHash(h));
const forked = new MemoryTree();
leaves(20, (i) => ascii(i === 7 ? 'rewritten history' : `entry-${i}`)).forEach((h) => forked.appendLeafHash(h));
const cp = (t: MemoryTree, size: number, origin = ORIGIN): Checkpoint => ({ origin, size, rootHash: t.root(size), extensions: [] });

void describe('fork: split views between checkpoints of one log', () => {
  void it('fork: two checkpoints of one size with different roots are detected', () => {
    const ev = detectFork(cp(honest, 12), cp(forked, 12));
    assert.ok(ev);
    assert.equal(ev.size, 12);
    assert.equal(hex(ev.rootA), hex(honest.root(12)));
    assert.equal(hex(ev.rootB), hex(forked.root(12)));
  });

  void it('no fork: same size and root, or different sizes (those need a consistency proof)', () => {
    assert.equal(detectFork(cp(honest, 12), cp(honest, 12)), undefined);
    assert.equal(detectFork(cp(honest, 12), cp(forked, 13)), undefined);
    assert.equal(detectFork(cp(honest, 5), cp(forked, 5)), undefined, 'the trees agree before entry 7');
  });

  void it('checkpoints of different logs cannot be compared', () => {
    throwsCode(() => detectFork(cp(honest, 3), cp(honest, 3, 'other.example/log')), 'LOG_ORIGIN_MISMATCH');
    throwsCode(() => verifyCheckpointConsistency(cp(honest, 3), cp(honest, 4, 'other.example/log'), honest.consistencyProof(3, 4)), 'LOG_ORIGIN_MISMATCH');
  });

  void it('an honest log moves forward with a valid consistency proof', () => {
    verifyCheckpointConsistency(cp(honest, 6), cp(honest, 20), honest.consistencyProof(6, 20));
    verifyCheckpointConsistency(cp(honest, 20), cp(honest, 20), []);
  });

  void it('fork: a rewritten entry makes every consistency proof from before it fail', () => {
    for (const old of [8, 10, 16]) {
      throwsCode(() => verifyCheckpointConsistency(cp(honest, old), cp(forked, 20), forked.consistencyProof(old, 20)), 'LOG_BAD_CONSISTENCY_PROOF');
      throwsCode(() => verifyCheckpointConsistency(cp(honest, old), cp(forked, 20), honest.consistencyProof(old, 20)), 'LOG_BAD_CONSISTENCY_PROOF');
    }
    throwsCode(() => verifyCheckpointConsistency(cp(honest, 20), cp(forked, 20), []), 'LOG_ROOT_MISMATCH');
  });

  void it('rollback: a newer checkpoint with a smaller tree is refused', () => {
    throwsCode(() => verifyCheckpointConsistency(cp(honest, 10), cp(honest, 9), []), 'LOG_ROLLBACK');
  });

  void it('first use and the empty tree: nothing to prove, the proof must be empty', () => {
    verifyCheckpointConsistency(undefined, cp(honest, 20), []);
    const empty: Checkpoint = { origin: ORIGIN, size: 0, rootHash: emptyRoot(), extensions: [] };
    verifyCheckpointConsistency(empty, cp(honest, 20), []);
    throwsCode(() => verifyCheckpointConsistency(undefined, cp(honest, 20), [honest.root()]), 'LOG_PROOF_TOO_LONG');
    throwsCode(() => verifyCheckpointConsistency({ ...empty, rootHash: honest.root(1) }, cp(honest, 20), []), 'LOG_ROOT_MISMATCH');
  });
});

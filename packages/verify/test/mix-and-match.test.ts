/**
 * Mix-and-match attacks (TUF 5.5.2, 5.6.2; Uptane 5.4.4.5 step 2): an old, validly signed file
 * served under the name of the current one is caught by the length and hashes of its META entry.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HashMismatchError, LengthMismatchError, generateSigner } from '@reflash/metadata';
import { rejectsWith } from './support/expect.js';
import { Simulator } from './support/simulator.js';

void describe('mix-and-match attacks', () => {
  void it('mix-and-match: an old snapshot of the same length served as the current one is refused with HASH_MISMATCH', async () => {
    const sim = new Simulator();
    const old = sim.file('1.snapshot.json');
    sim.repo.publish();
    assert.equal(old.byteLength, sim.file('2.snapshot.json').byteLength);
    sim.serve('2.snapshot.json', old);
    await rejectsWith(sim.refresh(), HashMismatchError, 'HASH_MISMATCH');
    assert.deepEqual(sim.store.log, ['save:timestamp']);
  });

  void it('mix-and-match: an old snapshot of another length served as the current one is refused with LENGTH_MISMATCH', async () => {
    const sim = new Simulator();
    const old = sim.file('1.snapshot.json');
    sim.repo.delegate('targets', { name: 'role-a', paths: ['a/*'] }, [generateSigner()]);
    sim.repo.publish();
    assert.ok(old.byteLength < sim.file('2.snapshot.json').byteLength);
    sim.serve('2.snapshot.json', old);
    await rejectsWith(sim.refresh(), LengthMismatchError, 'LENGTH_MISMATCH');
    assert.deepEqual(sim.store.log, ['save:timestamp']);
  });

  void it('mix-and-match: old targets served as the current version (snapshot META with hashes) is refused with HASH_MISMATCH', async () => {
    const sim = new Simulator({ snapshotMetaHashes: true });
    const old = sim.file('1.targets.json');
    sim.repo.replaceTargets('targets', sim.repo.targetsOf().signed);
    sim.repo.publish();
    assert.equal(old.byteLength, sim.file('2.targets.json').byteLength);
    sim.serve('2.targets.json', old);
    await rejectsWith(sim.refresh(), HashMismatchError, 'HASH_MISMATCH');
    assert.deepEqual(sim.store.log, ['save:timestamp', 'save:snapshot']);
  });
});

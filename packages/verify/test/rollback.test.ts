/**
 * Rollback attacks (TUF 5.3.5, 5.4.3, 5.5.4-5.5.5, 5.6.4; Uptane 5.4.4.4-5.4.4.6): versions lower
 * than trusted are refused, and versions other than those named by the parent are BAD_VERSION.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MetaFile, generateSigner } from '@reflash/metadata';
import { BadVersionError, RollbackError } from '../src/errors.js';
import { rejectsWith } from './support/expect.js';
import { Simulator, metaFileOf } from './support/simulator.js';

/** A simulator whose top-level targets role also delegates to `role-a`, both at version 2. */
function withDelegatedRole(): Simulator {
  const sim = new Simulator();
  sim.repo.delegate('targets', { name: 'role-a', paths: ['a/*'] }, [generateSigner()]);
  sim.repo.publish();
  sim.repo.replaceTargets('role-a', sim.repo.targetsOf('role-a').signed);
  sim.repo.publish();
  assert.equal(sim.repo.snapshot.signed.version, 3);
  return sim;
}

void describe('rollback attacks', () => {
  void it('rollback attack: timestamp version lower than trusted is refused with ROLLBACK', async () => {
    const sim = new Simulator();
    const v1 = sim.file('timestamp.json');
    sim.repo.publish();
    await sim.baseline();
    sim.serve('timestamp.json', v1);
    await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK');
    assert.equal(sim.store.version('timestamp'), 2);
    assert.deepEqual(sim.store.log, []);
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json']);
  });

  void it('equal timestamp version is not an error and is not re-persisted (EQUAL_VERSION handled by the Updater)', async () => {
    const sim = new Simulator();
    await sim.baseline();
    const before = sim.store.files.get('timestamp');
    await sim.refresh();
    assert.deepEqual(sim.store.log, []);
    assert.equal(sim.store.files.get('timestamp'), before);
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json']);
  });

  void it('rollback attack: snapshot version in timestamp META decreasing is refused with ROLLBACK', async () => {
    const sim = new Simulator();
    const oldMeta = sim.repo.timestamp.signed.snapshotMeta;
    sim.repo.publish();
    await sim.baseline();
    // timestamp key holder: a newer timestamp naming the older snapshot
    sim.serve('timestamp.json', sim.timestampBytes(3, oldMeta));
    const err = await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK');
    assert.match(err.message, /snapshot version 1 < trusted 2/);
    assert.equal(sim.store.version('timestamp'), 2);
    assert.deepEqual(sim.store.log, []);
  });

  void it('rollback attack: snapshot META rolling back targets.json is refused with ROLLBACK', async () => {
    const sim = withDelegatedRole();
    await sim.baseline();
    sim.publishSnapshot((meta) => meta.set('targets.json', new MetaFile({ version: 1 })));
    const err = await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK');
    assert.match(err.message, /targets\.json version 1 < trusted 2/);
    assert.equal(sim.store.version('snapshot'), 3);
    assert.equal(sim.store.version('timestamp'), 4);
    assert.deepEqual(sim.store.log, ['save:timestamp']);
  });

  void it('rollback attack: snapshot META rolling back a delegated role is refused with ROLLBACK', async () => {
    const sim = withDelegatedRole();
    await sim.baseline();
    sim.publishSnapshot((meta) => meta.set('role-a.json', new MetaFile({ version: 1 })));
    const err = await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK');
    assert.match(err.message, /role-a\.json version 1 < trusted 2/);
    assert.deepEqual(sim.store.log, ['save:timestamp']);
  });

  void it('rollback attack: a targets file removed from snapshot META is refused with ROLLBACK', async () => {
    // The new snapshot is shorter than the trusted one: the trusted copy must still be the
    // baseline of the 5.5.5 checks although it is longer than the new timestamp META length.
    const sim = withDelegatedRole();
    await sim.baseline();
    sim.publishSnapshot((meta) => meta.delete('role-a.json'));
    const err = await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK');
    assert.match(err.message, /role-a\.json was removed/);
    assert.equal(sim.store.version('snapshot'), 3);
    assert.deepEqual(sim.store.log, ['save:timestamp']);
  });

  void it('snapshot whose version differs from timestamp META (hashes matching) is refused with BAD_VERSION', async () => {
    const sim = new Simulator();
    const snap1 = sim.file('1.snapshot.json');
    sim.serve('timestamp.json', sim.timestampBytes(2, metaFileOf(snap1, 2)));
    sim.serve('2.snapshot.json', snap1);
    const err = await rejectsWith(sim.refresh(), BadVersionError, 'BAD_VERSION');
    assert.match(err.message, /snapshot: version 1 does not match timestamp META version 2/);
    assert.deepEqual(sim.store.log, ['save:timestamp']);
  });

  void it('targets whose version differs from snapshot META is refused with BAD_VERSION', async () => {
    const sim = new Simulator();
    const targets1 = sim.file('1.targets.json');
    sim.repo.replaceTargets('targets', sim.repo.targetsOf().signed);
    sim.repo.publish();
    sim.serve('2.targets.json', targets1);
    const err = await rejectsWith(sim.refresh(), BadVersionError, 'BAD_VERSION');
    assert.match(err.message, /targets: version 1 does not match snapshot META version 2/);
    assert.deepEqual(sim.store.log, ['save:timestamp', 'save:snapshot']);
  });

  void it('rollback attack: a snapshot of lower version than trusted, named by a newer timestamp, is refused', async () => {
    // The timestamp names snapshot v1 again with the right hashes: caught by TUF 5.4.3.2.
    const sim = new Simulator();
    const snap1 = sim.file('1.snapshot.json');
    sim.repo.publish();
    await sim.baseline();
    sim.serve('timestamp.json', sim.timestampBytes(3, metaFileOf(snap1, 1)));
    await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK');
    assert.equal(sim.store.version('snapshot'), 2);
  });
});

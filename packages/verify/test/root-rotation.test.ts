/**
 * Root rotation (TUF 5.3; Uptane 5.4.4.3): each root N+1 is signed by a threshold of root N's
 * keys and of its own, has version exactly N+1, and is persisted as soon as it is trusted.
 * Fast-forward recovery (TUF 5.3.11): rotating timestamp or snapshot keys discards both
 * trusted files, so versions inflated with the old keys no longer block the repository.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, Snapshot, UnsignedMetadataError, generateSigner } from '@reflash/metadata';
import { BadVersionError, RollbackError } from '../src/errors.js';
import { rejectsWith } from './support/expect.js';
import { Simulator, metaFileOf } from './support/simulator.js';

const newRootKeys = (): { signers: ReturnType<typeof generateSigner>[]; threshold: number } => ({ signers: [generateSigner(), generateSigner()], threshold: 2 });

void describe('root rotation', () => {
  void it('root rotation 1 -> 2 -> 3 -> 4 with new root keys each time: accepted, each version persisted in order', async () => {
    const sim = new Simulator();
    for (let i = 0; i < 3; i++) sim.repo.rotate({ root: newRootKeys() });
    const u = await sim.refresh();
    assert.equal(u.trusted.root.signed.version, 4);
    assert.deepEqual(sim.fetcher.names().slice(0, 5), ['2.root.json', '3.root.json', '4.root.json', '5.root.json', 'timestamp.json']);
    const roots = sim.store.saved.filter((s) => s.role === 'root');
    assert.deepEqual(roots.map((s) => s.bytes), [sim.file('2.root.json'), sim.file('3.root.json'), sim.file('4.root.json')]);
    assert.equal(sim.store.version('root'), 4);
  });

  void it('root rotation attack: N+1 without a threshold of the old root keys is refused with UNSIGNED_METADATA', async () => {
    const sim = new Simulator();
    sim.repo.rotate({ root: newRootKeys() }, { signWithOld: false });
    const err = await rejectsWith(sim.refresh(), UnsignedMetadataError, 'UNSIGNED_METADATA');
    assert.match(err.message, /old keys/);
    assert.equal(sim.store.version('root'), 1);
    assert.deepEqual(sim.store.log, []);
  });

  void it('root rotation attack: N+1 without a threshold of its own new keys is refused with UNSIGNED_METADATA', async () => {
    const sim = new Simulator();
    sim.repo.rotate({ root: newRootKeys() }, { signWithNew: false });
    const err = await rejectsWith(sim.refresh(), UnsignedMetadataError, 'UNSIGNED_METADATA');
    assert.match(err.message, /new keys/);
    assert.equal(sim.store.version('root'), 1);
  });

  void it('root rotation attack: a chain that breaks at 2 -> 3 keeps root 2 persisted and refuses 3', async () => {
    const sim = new Simulator();
    sim.repo.rotate({ root: newRootKeys() });
    sim.repo.rotate({ root: newRootKeys() }, { signWithOld: false });
    await rejectsWith(sim.refresh(), UnsignedMetadataError, 'UNSIGNED_METADATA');
    assert.equal(sim.store.version('root'), 2);
    assert.deepEqual(sim.store.log, ['save:root']);
  });

  void it('root version skip: root N+2 served as N+1 is refused with BAD_VERSION', async () => {
    const sim = new Simulator();
    sim.repo.rotate({});
    sim.repo.rotate({});
    sim.serve('2.root.json', sim.file('3.root.json'));
    await rejectsWith(sim.refresh(), BadVersionError, 'BAD_VERSION');
    assert.equal(sim.store.version('root'), 1);
  });

  void it('root rollback: root N served as N+1 is refused with ROLLBACK', async () => {
    const sim = new Simulator();
    sim.serve('2.root.json', sim.file('1.root.json'));
    await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK');
    assert.equal(sim.store.version('root'), 1);
  });

  void it('maxRootRotations bounds the root versions taken in one cycle (limit 2 stops at root 3)', async () => {
    const sim = new Simulator();
    for (let i = 0; i < 3; i++) sim.repo.rotate({ root: newRootKeys() });
    const u = await sim.refresh({ limits: { maxRootRotations: 2 } });
    assert.equal(u.trusted.root.signed.version, 3);
    assert.deepEqual(sim.fetcher.names().slice(0, 3), ['2.root.json', '3.root.json', 'timestamp.json']);
    assert.equal(sim.store.version('root'), 3);
    sim.fetcher.fetched.length = 0;
    await sim.refresh();
    assert.deepEqual(sim.fetcher.names().slice(0, 2), ['4.root.json', '5.root.json']);
    assert.equal(sim.store.version('root'), 4);
  });

  void it('fast-forward recovery: attacker timestamp v1000 is discarded once root v2 rotates the timestamp keys', async () => {
    const sim = new Simulator();
    await sim.baseline();
    // The attacker holds the timestamp key and fast-forwards the trusted timestamp.
    sim.serve('timestamp.json', sim.timestampBytes(1000, sim.repo.timestamp.signed.snapshotMeta));
    await sim.refresh();
    assert.equal(sim.store.version('timestamp'), 1000);
    sim.fetcher.overrides.clear();
    sim.repo.publish();
    await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK'); // stuck until the keys rotate
    sim.repo.rotate({ timestamp: { signers: [generateSigner()] } });
    sim.repo.resignAll();
    sim.store.clearLog();
    const u = await sim.refresh();
    assert.equal(u.trusted.timestamp?.signed.version, 3);
    assert.deepEqual(sim.store.log, ['save:root', 'remove:timestamp', 'remove:snapshot', 'save:timestamp', 'save:snapshot', 'save:targets']);
    assert.equal(sim.store.version('timestamp'), 3);
  });

  void it('fast-forward recovery: attacker snapshot v1000 is discarded once root v2 rotates the snapshot keys', async () => {
    const sim = new Simulator();
    await sim.baseline();
    // The attacker holds the snapshot key; the online timestamp service names its snapshot v1000.
    const snap = sim.signed('snapshot', new Snapshot({ ...sim.repo.fresh('snapshot', 1000), meta: sim.repo.snapshot.signed.meta }));
    sim.serve('1000.snapshot.json', snap);
    sim.serve('timestamp.json', sim.timestampBytes(2, metaFileOf(snap, 1000)));
    await sim.refresh();
    assert.equal(sim.store.version('snapshot'), 1000);
    sim.fetcher.overrides.clear();
    sim.repo.publish();
    sim.repo.publish();
    await rejectsWith(sim.refresh(), RollbackError, 'ROLLBACK'); // timestamp v3 names snapshot v3 < 1000
    sim.repo.rotate({ snapshot: { signers: [generateSigner()] } });
    sim.repo.resignAll();
    sim.store.clearLog();
    const u = await sim.refresh();
    assert.equal(u.trusted.snapshot?.signed.version, 4);
    assert.deepEqual(sim.store.log.slice(0, 3), ['save:root', 'remove:timestamp', 'remove:snapshot']);
    assert.equal(sim.store.version('snapshot'), 4);
    assert.equal(Metadata.fromBytes(sim.store.files.get('timestamp')!, 'timestamp').signed.snapshotMeta.version, 4);
  });

  void it('root rotation without timestamp or snapshot key changes keeps the trusted timestamp and snapshot', async () => {
    const sim = new Simulator();
    await sim.baseline();
    sim.repo.rotate({ root: newRootKeys() });
    await sim.refresh();
    assert.deepEqual(sim.store.log, ['save:root']);
  });
});

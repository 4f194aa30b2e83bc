import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RepositoryError } from '@reflash/metadata';
import { rejectsWith } from './support/expect.js';
import { Simulator } from './support/simulator.js';

void describe('Updater (TUF 1.0 client workflow)', () => {
  void it('fetches exactly root N+1, timestamp, snapshot, targets in that order on first refresh', async () => {
    const sim = new Simulator();
    await sim.refresh();
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json']);
    assert.deepEqual([...sim.store.files.keys()].sort(), ['root', 'snapshot', 'targets', 'timestamp']);
  });

  void it('finds a target and builds its hash-prefixed URL', async () => {
    const sim = new Simulator();
    sim.repo.addTarget('dir/a.bin', Buffer.from('abc'));
    sim.repo.publish();
    const u = await sim.refresh();
    const t = await u.getTargetInfo('dir/a.bin');
    assert.ok(t);
    assert.equal(u.targetUrl(t, 'https://x/t/'), `https://x/t/dir/${t.hashes['sha256']}.a.bin`);
    t.verify(Buffer.from('abc'));
  });

  void it('a second refresh with nothing new fetches only root N+1 and the timestamp', async () => {
    const sim = new Simulator();
    await sim.refresh();
    sim.fetcher.fetched.length = 0;
    await sim.refresh();
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json']);
  });

  void it('without consistent snapshots fetches snapshot.json and targets.json unversioned', async () => {
    const sim = new Simulator({ consistentSnapshot: false });
    await sim.refresh();
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json', 'snapshot.json', 'targets.json']);
  });

  void it('a new cycle after a publish fetches only what changed and persists it', async () => {
    const sim = new Simulator();
    await sim.baseline();
    sim.repo.addTarget('a.bin', Buffer.from('a'));
    sim.repo.publish();
    await sim.refresh();
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json', '2.snapshot.json', '2.targets.json']);
    assert.deepEqual(sim.store.log, ['save:timestamp', 'save:snapshot', 'save:targets']);
  });

  void it('a corrupted local copy is not trusted: the repository copy is fetched and verified instead', async () => {
    const sim = new Simulator();
    await sim.baseline();
    sim.store.files.set('snapshot', Buffer.from('{"not": "metadata"}'));
    await sim.refresh();
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json', '1.snapshot.json']);
    assert.deepEqual(sim.store.log, ['save:snapshot']);
  });

  void it('getTargetInfo refreshes first when refresh() was not called', async () => {
    const sim = new Simulator();
    sim.repo.addTarget('a.bin', Buffer.from('a'));
    sim.repo.publish();
    assert.ok(await sim.updater().getTargetInfo('a.bin'));
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json', '2.snapshot.json', '2.targets.json']);
  });

  void it('a missing trusted root is NO_TRUSTED_ROOT, not a silent trust-on-first-use', async () => {
    const sim = new Simulator();
    sim.store.files.delete('root');
    await rejectsWith(sim.refresh(), RepositoryError, 'NO_TRUSTED_ROOT');
    assert.deepEqual(sim.fetcher.fetched, []);
  });
});

/**
 * Slow retrieval and drop-request attacks are defeated by the transport (timeouts, minimum
 * rates) and by expiry (freeze tests). At this layer: a Fetcher failure other than "no such
 * file" is never mistaken for "no newer root" (TUF 5.3.3 stops the root loop only on 404/403).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FetchError } from '@reflash/metadata';
import { rejectsWith } from './support/expect.js';
import { Simulator } from './support/simulator.js';

void describe('slow retrieval and drop-request', () => {
  void it('drop-request: a 5xx while fetching root N+1 propagates as FETCH_FAILED instead of ending the root loop', async () => {
    const sim = new Simulator();
    sim.repo.rotate({});
    sim.fetcher.failures.set('2.root.json', new FetchError(503, 'service unavailable'));
    const err = await rejectsWith(sim.refresh(), FetchError, 'FETCH_FAILED');
    assert.equal((err as FetchError).status, 503);
    assert.deepEqual(sim.fetcher.names(), ['2.root.json']);
    assert.equal(sim.store.version('root'), 1);
  });

  void it('slow retrieval: a transport error (timeout) during the root loop propagates unchanged', async () => {
    const sim = new Simulator();
    const timeout = new Error('download too slow: timed out');
    sim.fetcher.failures.set('2.root.json', timeout);
    await assert.rejects(sim.refresh(), (e) => e === timeout);
    assert.deepEqual(sim.fetcher.names(), ['2.root.json']);
    assert.deepEqual(sim.store.log, []);
  });

  void it('a 403 for root N+1 ends the root loop like a 404 (TUF 5.3.3)', async () => {
    const sim = new Simulator();
    sim.fetcher.failures.set('2.root.json', new FetchError(403, 'forbidden'));
    await sim.refresh();
    assert.deepEqual(sim.fetcher.names(), ['2.root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json']);
  });
});

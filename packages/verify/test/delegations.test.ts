/**
 * Target search through delegations (TUF 5.6.7; TAP 15 succinct hash bins): path routing,
 * terminating delegations, cycles, pre-order depth-first order, limits, and the checks applied
 * to every delegated role's metadata (snapshot META, delegated keys, hashes).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { HashMismatchError, UnsignedMetadataError, generateSigner } from '@reflash/metadata';
import { DelegationError } from '../src/errors.js';
import { rejectsWith } from './support/expect.js';
import { Simulator } from './support/simulator.js';

const KEY = generateSigner();
const DATA = Buffer.from('image');

type Spec = { name: string; paths?: string[]; pathHashPrefixes?: string[]; terminating?: boolean };

/** A simulator with `edges` delegated (parent, role) in order, then published; `holder` lists the target. */
function tree(edges: Array<[string, Spec]>, holder?: { role: string; path: string }, opts: { snapshotMetaHashes?: boolean } = {}): Simulator {
  const sim = new Simulator(opts);
  for (const [parent, spec] of edges) sim.repo.delegate(parent, spec.pathHashPrefixes === undefined ? { paths: ['*'], ...spec } : spec, [KEY]);
  if (holder !== undefined) sim.repo.addTarget(holder.path, DATA, undefined, holder.role);
  sim.repo.publish();
  return sim;
}

void describe('delegations', () => {
  void it('path mismatch: a target listed by a role outside its delegated paths is not found (and the role not fetched)', async () => {
    const sim = tree([['targets', { name: 'role-a', paths: ['a/*'] }]], { role: 'role-a', path: 'b/x.bin' });
    const u = await sim.baseline();
    assert.equal(await u.getTargetInfo('b/x.bin'), undefined);
    assert.deepEqual(sim.fetcher.names(), []);
  });

  void it('terminating delegation stops the search: a later sibling that has the target is neither consulted nor fetched', async () => {
    const sim = tree([['targets', { name: 'A', terminating: true }], ['targets', { name: 'B' }]], { role: 'B', path: 'x.bin' });
    const u = await sim.baseline();
    assert.equal(await u.getTargetInfo('x.bin'), undefined);
    assert.deepEqual(sim.fetcher.names(), ['1.A.json']);
  });

  void it('terminating delegation deeper in the tree also drops the siblings of its ancestors', async () => {
    const sim = tree([['targets', { name: 'A' }], ['A', { name: 'A1', terminating: true }], ['targets', { name: 'B' }]], { role: 'B', path: 'x.bin' });
    const u = await sim.baseline();
    assert.equal(await u.getTargetInfo('x.bin'), undefined);
    assert.deepEqual(sim.fetcher.names(), ['1.A.json', '1.A1.json']);
  });

  void it('non-terminating delegation continues to the next sibling', async () => {
    const sim = tree([['targets', { name: 'A' }], ['targets', { name: 'B' }]], { role: 'B', path: 'x.bin' });
    const u = await sim.baseline();
    const r = await u.search('x.bin');
    assert.equal(r.role, 'B');
    assert.equal(r.target?.length, DATA.byteLength);
    assert.deepEqual(sim.fetcher.names(), ['1.A.json', '1.B.json']);
  });

  void it('delegation cycle (A -> B -> A) terminates and fetches each role once', async () => {
    const sim = tree([['targets', { name: 'A' }], ['A', { name: 'B' }], ['B', { name: 'A' }]]);
    const u = await sim.baseline();
    const r = await u.search('x.bin');
    assert.equal(r.target, undefined);
    assert.deepEqual(r.visited, ['targets', 'A', 'B']);
    assert.deepEqual(sim.fetcher.names(), ['1.A.json', '1.B.json']);
  });

  void it('pre-order depth-first search order on a 3-level tree', async () => {
    const sim = tree([
      ['targets', { name: 'A' }], ['targets', { name: 'B' }],
      ['A', { name: 'A1' }], ['A', { name: 'A2' }], ['A1', { name: 'A11' }], ['B', { name: 'B1' }],
    ]);
    const u = await sim.baseline();
    const r = await u.search('x.bin');
    assert.deepEqual(r.visited, ['targets', 'A', 'A1', 'A11', 'A2', 'B', 'B1']);
    assert.deepEqual(sim.fetcher.names(), ['1.A.json', '1.A1.json', '1.A11.json', '1.A2.json', '1.B.json', '1.B1.json']);
  });

  void it('delegated role missing from snapshot META is refused with DELEGATION_MISSING_META', async () => {
    const sim = tree([['targets', { name: 'A' }]], { role: 'A', path: 'x.bin' });
    sim.publishSnapshot((meta) => meta.delete('A.json'));
    const u = await sim.baseline();
    await rejectsWith(u.getTargetInfo('x.bin'), DelegationError, 'DELEGATION_MISSING_META');
    assert.deepEqual(sim.fetcher.names(), []);
  });

  void it('arbitrary software: delegated metadata signed by a key its delegator did not name is refused with UNSIGNED_METADATA', async () => {
    const sim = tree([['targets', { name: 'A' }]]);
    sim.repo.signers.set('A', [generateSigner()]);
    sim.repo.addTarget('x.bin', Buffer.from('malware'), undefined, 'A');
    sim.repo.publish();
    const u = await sim.baseline();
    await rejectsWith(u.getTargetInfo('x.bin'), UnsignedMetadataError, 'UNSIGNED_METADATA');
    assert.deepEqual(sim.store.log, []);
  });

  void it('mix-and-match: old delegated metadata served as the current version is refused with HASH_MISMATCH', async () => {
    const sim = tree([['targets', { name: 'A' }]], undefined, { snapshotMetaHashes: true });
    const old = sim.file('1.A.json');
    sim.repo.replaceTargets('A', sim.repo.targetsOf('A').signed);
    sim.repo.publish();
    sim.serve('2.A.json', old);
    const u = await sim.baseline();
    await rejectsWith(u.getTargetInfo('x.bin'), HashMismatchError, 'HASH_MISMATCH');
    assert.deepEqual(sim.store.log, []);
  });

  void it('path_hash_prefixes route a target to the role whose prefix matches its path hash', async () => {
    const path = 'pkg/x.bin';
    const h = createHash('sha256').update(path).digest('hex');
    const other = h[0] === '0' ? '1' : '0';
    const sim = tree([
      ['targets', { name: 'A', pathHashPrefixes: [other] }],
      ['targets', { name: 'B', pathHashPrefixes: [h.slice(0, 2)] }],
    ], { role: 'B', path });
    const u = await sim.baseline();
    assert.equal((await u.search(path)).role, 'B');
    assert.deepEqual(sim.fetcher.names(), ['1.B.json']);
  });

  void it('succinct hash-bin delegation (bit_length 4): the target is found in its bin and only that bin is fetched', async () => {
    const sim = new Simulator();
    const sr = sim.repo.delegateSuccinct('targets', 4, 'bin', [KEY]);
    const path = 'ecu/fw-1.2.bin';
    const bin = sr.roleForTarget(path);
    assert.match(bin, /^bin-[0-9a-f]$/);
    sim.repo.addTarget(path, DATA, undefined, bin);
    sim.repo.publish();
    assert.equal([...sim.repo.snapshot.signed.meta.keys()].length, 17);
    const u = await sim.baseline();
    assert.equal((await u.search(path)).role, bin);
    assert.deepEqual(sim.fetcher.names(), [`1.${bin}.json`]);
  });

  void it('maxDelegations bounds the roles visited: a target four delegations deep is out of reach with a limit of 2', async () => {
    const chain: Array<[string, Spec]> = [['targets', { name: 'r1' }], ['r1', { name: 'r2' }], ['r2', { name: 'r3' }], ['r3', { name: 'r4' }]];
    const sim = tree(chain, { role: 'r4', path: 'x.bin' });
    const limited = await sim.baseline({ limits: { maxDelegations: 2 } });
    const r = await limited.search('x.bin');
    assert.equal(r.target, undefined);
    assert.equal(r.limitReached, true);
    assert.deepEqual(sim.fetcher.names(), ['1.r1.json', '1.r2.json']);
    const enough = await sim.baseline({ limits: { maxDelegations: 4 } });
    assert.equal((await enough.search('x.bin')).role, 'r4');
  });

  void it('delegated role names needing URL-encoding ("a/b", "?#") are fetched and stored percent-encoded', async () => {
    const sim = tree([['targets', { name: 'a/b' }], ['targets', { name: '?#' }]], { role: '?#', path: 'x.bin' });
    const u = await sim.baseline();
    assert.equal((await u.search('x.bin')).role, '?#');
    assert.deepEqual(sim.fetcher.names(), ['1.a%2Fb.json', '1.%3F%23.json']);
    assert.deepEqual(sim.store.log, ['save:a%2Fb', 'save:%3F%23']);
  });

  void it('delegated metadata is persisted and reused: the next cycle fetches no delegated role', async () => {
    const sim = tree([['targets', { name: 'A' }]], { role: 'A', path: 'x.bin' });
    await (await sim.baseline()).getTargetInfo('x.bin');
    const u = await sim.baseline();
    assert.ok(await u.getTargetInfo('x.bin'));
    assert.deepEqual(sim.fetcher.names(), []);
  });
});

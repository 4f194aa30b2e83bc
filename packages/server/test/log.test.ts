/**
 * The accountability log in the server: appends sequenced through the database, integration
 * into signed checkpoints, proofs that come with their checkpoint, tlog-tiles, receipts.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MemoryTree, checkCosignatures, consistencyProof, decodeEntryBundle, emptyRoot, entryBundlePath, generateCosigner, inclusionProof,
  leafHash, openCheckpoint, parseCosignerKey, parseCosignerVerifierKey, parseNote, parseVerifierKey, tileHashReader, verifyConsistency,
  verifyInclusion, verifyReceipt,
} from '@reflash/log';
import type { Checkpoint } from '@reflash/log';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { replayStoredLog, sampleEvent } from './audit-helpers.js';

function b64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

forEachDialect('accountability log', (dialect) => {
  let h: Harness;
  const tree = new MemoryTree();
  let verifierKey: string;
  let origin: string;

  function open(note: string): Checkpoint {
    return openCheckpoint(note, { origin, verifiers: [parseVerifierKey(verifierKey)] }).checkpoint;
  }

  async function getText(url: string): Promise<string> {
    const r = await h.app.inject({ url });
    assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
    return r.body;
  }

  before(async () => {
    h = await makeHarness(dialect, { logOrigin: 'fleet.example/log' });
    verifierKey = (await getText('/log/key')).trim();
    origin = h.ctx.audit.origin;
  });
  after(async () => { await h.close(); });

  it('signs the empty tree at first start and serves the verifier key', async () => {
    assert.equal(origin, 'fleet.example/log');
    assert.match(verifierKey, /^fleet\.example\/log\+[0-9a-f]{8}\+/);
    const cp = open(await getText('/log/checkpoint'));
    assert.equal(cp.size, 0);
    assert.deepEqual(cp.rootHash, emptyRoot());
  });

  it('appends get contiguous indexes when acknowledged (group commit), and the VIN is only in hashed form', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => h.ctx.audit.append(sampleEvent(i))));
    assert.deepEqual(results.map((r) => r.index), Array.from({ length: 40 }, (_, i) => i));
    for (const r of results) tree.append(r.entry);
    const vehicle = JSON.parse(Buffer.from(results[3]!.entry).toString('utf8')) as Record<string, unknown>;
    assert.equal(vehicle['type'], 'vehicle-update-result');
    assert.equal(vehicle['vin'], undefined);
    assert.equal(vehicle['vinHash'], h.ctx.audit.vinHash('WVWZZZ1JZ3W100003'));
    assert.equal(vehicle['time'], '2026-11-21T12:00:00.000Z');
    assert.ok(!Buffer.from(results[3]!.entry).toString('utf8').includes('WVWZZZ1JZ3W100003'));
    // Appended but not integrated: the public view is still the empty tree.
    assert.equal(open(await getText('/log/checkpoint')).size, 0);
    assert.equal((await h.app.inject({ url: '/api/v1/log/entries/0' })).statusCode, 404);
  });

  it('integrates into a signed checkpoint whose root is the RFC 9162 root of the entries', async () => {
    const r = await h.ctx.audit.integrate();
    assert.deepEqual(r, { previousSize: 0, size: 40, signed: true });
    const cp = open(await getText('/log/checkpoint'));
    assert.equal(cp.size, 40);
    assert.deepEqual(cp.rootHash, tree.root());
    assert.equal((await h.ctx.audit.integrate()).signed, false, 'nothing new: no new checkpoint');
    await replayStoredLog(h.ctx);
  });

  it('serves entries as the exact bytes hashed', async () => {
    const r = await h.app.inject({ url: '/api/v1/log/entries/5' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(leafHash(r.rawPayload), tree.leafHash(5));
  });

  it('inclusion proofs by leaf hash and by index come with the checkpoint they were built against', async () => {
    for (let i = 0; i < 40; i += 3) {
      const byHash = await h.app.inject({ url: `/api/v1/log/proof/inclusion?hash=${Buffer.from(tree.leafHash(i)).toString('hex')}` });
      assert.equal(byHash.statusCode, 200);
      const p = byHash.json<{ index: number; treeSize: number; leafHash: string; proof: string[]; checkpoint: string }>();
      assert.equal(p.index, i);
      const cp = open(p.checkpoint);
      assert.equal(cp.size, p.treeSize);
      verifyInclusion(tree.leafHash(i), i, cp.size, p.proof.map(b64), cp.rootHash);
      const byIndex = await h.app.inject({ url: `/api/v1/log/proof/inclusion?index=${i}` });
      assert.deepEqual(byIndex.json(), p);
    }
    const missing = await h.app.inject({ url: `/api/v1/log/proof/inclusion?hash=${'00'.repeat(32)}` });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'LOG_ENTRY_NOT_FOUND');
  });

  it('consistency proofs between signed sizes verify; proofs for an older signed size use its checkpoint', async () => {
    const more = await Promise.all(Array.from({ length: 300 }, (_, i) => h.ctx.audit.append(sampleEvent(40 + i))));
    for (const r of more) tree.append(r.entry);
    assert.equal((await h.ctx.audit.integrate()).size, 340);
    const c = (await h.app.inject({ url: '/api/v1/log/proof/consistency?from=40' })).json<{ from: number; to: number; proof: string[]; checkpoint: string }>();
    assert.equal(c.to, 340);
    const cp = open(c.checkpoint);
    verifyConsistency(40, 340, c.proof.map(b64), tree.root(40), cp.rootHash);
    const old = (await h.app.inject({ url: '/api/v1/log/proof/inclusion?index=7&size=40' })).json<{ treeSize: number; proof: string[]; checkpoint: string }>();
    assert.equal(old.treeSize, 40);
    verifyInclusion(tree.leafHash(7), 7, 40, old.proof.map(b64), open(old.checkpoint).rootHash);
    assert.equal((await h.app.inject({ url: '/api/v1/log/proof/inclusion?index=7&size=41' })).statusCode, 404);
    assert.equal((await h.app.inject({ url: '/api/v1/log/proof/consistency?from=341' })).statusCode, 400);
    assert.equal(open(await getText('/api/v1/log/checkpoints/40')).size, 40);
  });

  it('serves C2SP tlog-tiles: tiles build the same proofs, entry bundles hold the entries', async () => {
    const cp = open(await getText('/log/checkpoint'));
    const fetched: string[] = [];
    const reader = tileHashReader(cp.size, async (_tile, path) => {
      fetched.push(path);
      const r = await h.app.inject({ url: `/log/${path}` });
      assert.equal(r.statusCode, 200, path);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      return new Uint8Array(r.rawPayload);
    });
    for (const i of [0, 255, 256, 300, 339]) {
      const proof = await inclusionProof(reader, i, cp.size);
      assert.deepEqual(proof, tree.inclusionProof(i, cp.size));
      verifyInclusion(tree.leafHash(i), i, cp.size, proof, cp.rootHash);
    }
    assert.deepEqual(await consistencyProof(reader, 40, cp.size), tree.consistencyProof(40, cp.size));
    assert.ok(fetched.includes('tile/0/000') && fetched.includes('tile/0/001.p/84') && fetched.includes('tile/1/000.p/1'), fetched.join(' '));
    const full = await h.app.inject({ url: `/log/${entryBundlePath(0)}` });
    const entries = decodeEntryBundle(new Uint8Array(full.rawPayload), 256);
    entries.forEach((e, i) => assert.deepEqual(leafHash(e), tree.leafHash(i)));
    const partial = decodeEntryBundle(new Uint8Array((await h.app.inject({ url: `/log/${entryBundlePath(1, 84)}` })).rawPayload), 84);
    assert.deepEqual(leafHash(partial[83]!), tree.leafHash(339));
    // Beyond the signed tree, or malformed: 404.
    for (const path of ['tile/0/001', 'tile/0/001.p/85', 'tile/entries/001', 'tile/1/000', 'tile/0/x000/001', 'tile/0/abc']) {
      const r = await h.app.inject({ url: `/log/${path}` });
      assert.equal(r.statusCode, 404, path);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'LOG_TILE_NOT_FOUND');
    }
  });

  it('a receipt integrates first if needed and verifies offline with only the log key', async () => {
    const { index, entry } = await h.ctx.audit.append(sampleEvent(3));
    tree.append(entry);
    const receipt = await h.ctx.audit.receipt(index);
    const v = verifyReceipt(receipt, entry, { origin, verifiers: [parseVerifierKey(verifierKey)] });
    assert.equal(v.index, index);
    assert.equal(v.checkpoint.size, index + 1);
    assert.deepEqual(Buffer.from(v.extra!), Buffer.from(entry), 'the entry travels in the receipt');
    const served = await getText(`/api/v1/log/receipts/${index}`);
    assert.equal(served, receipt);
    assert.equal((await h.app.inject({ url: '/api/v1/log/receipts/999999' })).statusCode, 404);
  });

  it('a receipt asked for while an older integration runs waits for its own entry', async () => {
    tree.append((await h.ctx.audit.append(sampleEvent(1))).entry);
    const running = h.ctx.audit.integrate();
    const { index, entry } = await h.ctx.audit.append(sampleEvent(2));
    tree.append(entry);
    const receipt = await h.ctx.audit.receipt(index);
    await running;
    assert.equal(verifyReceipt(receipt, entry, { origin, verifiers: [parseVerifierKey(verifierKey)] }).index, index);
  });

  it('stores a witness cosignature after checking it, and serves the checkpoint with it', async () => {
    const w = generateCosigner('witness.example/w1');
    const cosigner = parseCosignerKey(w.signerKey);
    const note = await getText('/log/checkpoint');
    const size = open(note).size;
    const line = cosigner.cosign(parseNote(note).textBytes, Math.floor(h.clock.now / 1000));
    const bad = await h.app.inject({ method: 'POST', url: `/api/v1/log/checkpoints/${size}/cosignatures`, headers: h.auth('admin'), payload: { witnessKey: generateCosigner('witness.example/w2').verifierKey, signature: line } });
    assert.equal(bad.statusCode, 422);
    const forbidden = await h.app.inject({ method: 'POST', url: `/api/v1/log/checkpoints/${size}/cosignatures`, headers: h.auth('auditor'), payload: { witnessKey: w.verifierKey, signature: line } });
    assert.equal(forbidden.statusCode, 403);
    const ok = await h.app.inject({ method: 'POST', url: `/api/v1/log/checkpoints/${size}/cosignatures`, headers: h.auth('admin'), payload: { witnessKey: w.verifierKey, signature: line } });
    assert.equal(ok.statusCode, 200, ok.body);
    const served = await getText('/log/checkpoint');
    assert.equal(served, note + line);
    const r = checkCosignatures(served, { witnesses: [parseCosignerVerifierKey(w.verifierKey)], threshold: 1 });
    assert.equal(r.missing, 0);
    open(served);
  });

  it('operators can look up the salted hash of a VIN and the log status; the public cannot', async () => {
    assert.equal((await h.app.inject({ url: '/api/v1/log/vin-hash?vin=ABC' })).statusCode, 401);
    const r = await h.app.inject({ url: '/api/v1/log/vin-hash?vin=WVWZZZ1JZ3W100003', headers: h.auth('auditor') });
    assert.equal(r.json<{ vinHash: string }>().vinHash, h.ctx.audit.vinHash('WVWZZZ1JZ3W100003'));
    assert.match(h.ctx.audit.vinHash('X'), /^[0-9a-f]{64}$/);
    const s = (await h.app.inject({ url: '/api/v1/log/status', headers: h.auth('operator') })).json<{ size: number; appended: number; halted: unknown; verifierKey: string }>();
    assert.equal(s.size, tree.size);
    assert.equal(s.appended, tree.size);
    assert.equal(s.halted, null);
    assert.equal(s.verifierKey, verifierKey);
  });

  it('several processes append and integrate concurrently without losing or duplicating an index', async () => {
    // A second AuditLog on the same database stands for a second server process.
    // With PostgreSQL it has its own connection pool, as a separate process would.
    const { AuditLog } = await import('../src/audit/service.js');
    const { Metrics } = await import('../src/plugins/metrics.js');
    const { openDb } = await import('../src/db/connect.js');
    const db = dialect === 'postgres' ? await openDb({ url: h.ctx.config.database, poolSize: 3 }) : h.ctx.db;
    const other = await AuditLog.open({ db, masterKey: 'test-master-key-0123456789abcdef0123456789', origin, now: () => h.clock.now, log: h.ctx.log, metrics: new Metrics(false) });
    assert.equal(other.verifierKey, verifierKey, 'one log key for all processes');
    const start = tree.size;
    const appended = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? h.ctx.audit : other).append(sampleEvent(i))));
    const [a, b] = await Promise.all([h.ctx.audit.integrate(), other.integrate()]);
    assert.ok(a.alert === undefined && b.alert === undefined);
    const indexes = appended.map((x) => x.index).sort((x, y) => x - y);
    assert.deepEqual(indexes, Array.from({ length: 200 }, (_, i) => start + i));
    const { size, entries } = await replayStoredLog(h.ctx);
    assert.equal(size, start + 200);
    for (const x of appended) assert.deepEqual(Buffer.from(entries[x.index]!), Buffer.from(x.entry));
    await other.close();
    if (db !== h.ctx.db) await db.close();
  });
});

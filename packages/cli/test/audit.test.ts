/**
 * `reflash audit`: the third-party verifier against a real server (first and incremental runs,
 * witnesses, receipts) and against a stub log that misbehaves (forks, rollback, inconsistent
 * growth, entries that do not match the signed root).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MemoryTree, encodeEntryBundle, encodeHashTile, generateCosigner, generateSigner, parseCosignerKey, parseNote, parseSignerKey,
  parseTilePath, signCheckpoint,
} from '@reflash/log';
import { defaults, startServer } from '@reflash/server';
import type { RunningServer } from '@reflash/server';
import { auditEvents } from '@reflash/server/audit/events';
import { captureOutput } from '../src/client/output.js';
import { LogMisbehaviourError, logTrust, verifyLog, verifyReceiptCommand } from '../src/commands/audit.js';
import { TestServer } from './support/http.js';

const REFLASH = fileURLToPath(new URL('../../bin/reflash', import.meta.url));

function event(i: number): ReturnType<typeof auditEvents.campaignTransition> {
  return auditEvents.campaignTransition({ campaignId: `c-${i}`, state: i % 2 === 0 ? 'started' : 'paused', by: 'token:0123' });
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [REFLASH, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

void describe('reflash audit verify against a running server', () => {
  let dir: string;
  let server: RunningServer;
  let logKey: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-audit-'));
    const dataDir = join(dir, 'data');
    server = await startServer({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), port: 0, logLevel: 'silent', logOrigin: 'fleet.example/log', logIntegrateIntervalMs: 20 }, {
      env: { REFLASH_MASTER_KEY: 'test-master-key-0123456789abcdef0123456789' },
    });
    logKey = server.ctx.audit.verifierKey;
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function appendAndIntegrate(n: number): Promise<void> {
    await Promise.all(Array.from({ length: n }, (_, i) => server.ctx.audit.append(event(i))));
    await server.ctx.audit.integrate();
  }

  void it('verifies the whole log, then only what is new (state file), then nothing new', async () => {
    const state = join(dir, 'state.json');
    await appendAndIntegrate(300);
    const out = captureOutput();
    const first = await verifyLog({ url: server.url, trust: logTrust({ logKey }), state }, out);
    assert.deepEqual({ size: first.size, previousSize: first.previousSize, replayed: first.replayed }, { size: 300, previousSize: 0, replayed: 300 });
    assert.match(out.lines[0]!, /^log fleet\.example\/log: tree size 300 verified/);
    await appendAndIntegrate(250);
    const second = await verifyLog({ url: server.url, trust: logTrust({ logKey }), state }, captureOutput());
    assert.deepEqual({ size: second.size, previousSize: second.previousSize, replayed: second.replayed }, { size: 550, previousSize: 300, replayed: 250 });
    const third = await verifyLog({ url: server.url, trust: logTrust({ logKey }), state, concurrency: 1 }, captureOutput());
    assert.equal(third.replayed, 0);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { compactRange: { size: number } };
    assert.equal(saved.compactRange.size, 550);
  });

  void it('the reflash command: exit 0 and a summary; a wrong log key: exit 1', async () => {
    const ok = await run(['audit', 'verify', '--url', server.url, '--log-key', logKey]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /tree size \d+ verified/);
    const other = generateSigner('fleet.example/log').verifierKey;
    const bad = await run(['audit', 'verify', '--url', server.url, '--log-key', other]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /reflash: LOG_NO_TRUSTED_SIGNATURE/);
    const key = await run(['audit', 'key', '--url', server.url]);
    assert.equal(key.stdout.trim(), logKey);
  });

  void it('requires k of n witness cosignatures when asked', async () => {
    const w = [generateCosigner('w1.example'), generateCosigner('w2.example'), generateCosigner('w3.example')];
    const cp = await server.ctx.audit.checkpoint();
    const now = Math.floor(Date.now() / 1000);
    for (const x of w.slice(0, 2)) await server.ctx.audit.addCosignature(cp.size, x.verifierKey, parseCosignerKey(x.signerKey).cosign(parseNote(cp.note).textBytes, now));
    const witness = w.map((x) => x.verifierKey);
    const r = await verifyLog({ url: server.url, trust: logTrust({ logKey, witness, witnessThreshold: '2' }) }, captureOutput());
    assert.equal(r.cosignatures?.valid.length, 2);
    await assert.rejects(verifyLog({ url: server.url, trust: logTrust({ logKey, witness }) }, captureOutput()), { code: 'LOG_COSIGNATURE_THRESHOLD' });
    const cli = await run(['audit', 'verify', '--url', server.url, '--log-key', logKey, '--witness', witness[0]!, '--witness', witness[2]!, '--witness-threshold', '2']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /LOG_COSIGNATURE_THRESHOLD: 1 of 2/);
  });

  void it('verify-receipt checks a vehicle\'s receipt offline', async () => {
    const { index, entry } = await server.ctx.audit.append(auditEvents.vehicleUpdateResult({
      vin: 'WVWZZZ1JZ3W386752', ecuSerial: 'ecu-1', from: null, to: { sha256: 'ab'.repeat(32) }, status: 'installed', attestation: { signed: {} },
    }));
    const file = join(dir, 'receipt.txt');
    writeFileSync(file, await server.ctx.audit.receipt(index));
    const out = captureOutput();
    const v = await verifyReceiptCommand(file, logTrust({ logKey }), undefined, out);
    assert.equal(v.index, index);
    assert.match(out.lines[0]!, /^receipt OK: entry \d+ \(vehicle-update-result at /);
    const entryFile = join(dir, 'entry.json');
    writeFileSync(entryFile, entry);
    const cli = await run(['audit', 'verify-receipt', file, '--log-key', logKey, '--entry', entryFile]);
    assert.equal(cli.code, 0, cli.stderr);
    writeFileSync(entryFile, Buffer.from(entry).toString().replace('installed', 'failed'));
    const forged = await run(['audit', 'verify-receipt', file, '--log-key', logKey, '--entry', entryFile]);
    assert.equal(forged.code, 1);
    assert.match(forged.stderr, /LOG_BAD_INCLUSION_PROOF/);
  });
});

/** A stub tlog-tiles log served from a MemoryTree; the test swaps what it serves. */
class StubLog {
  tree = new MemoryTree();
  entries: Uint8Array[] = [];
  note = '';
  /** entries served in bundles (default: the tree's) */
  bundleEntries: Uint8Array[] | undefined;

  constructor(readonly signerKey: string) {}

  static build(signerKey: string, entries: readonly string[]): StubLog {
    const s = new StubLog(signerKey);
    for (const e of entries) {
      const b = Buffer.from(e);
      s.entries.push(b);
      s.tree.append(b);
    }
    s.note = signCheckpoint({ origin: 'stub.example/log', size: s.tree.size, rootHash: s.tree.root(), extensions: [] }, [parseSignerKey(signerKey)]);
    return s;
  }

  handle(path: string): Uint8Array | undefined {
    if (path === '/log/checkpoint') return Buffer.from(this.note);
    if (!path.startsWith('/log/tile/')) return undefined;
    const t = parseTilePath(path.slice('/log/'.length));
    const begin = t.index * 256;
    if (t.level < 0) return encodeEntryBundle((this.bundleEntries ?? this.entries).slice(begin, begin + t.width));
    const ids = Array.from({ length: t.width }, (_, i) => ({ level: 8 * t.level, index: begin + i }));
    return encodeHashTile(this.tree.readNodesSync(ids));
  }
}

function entries(n: number, tag = 'e'): string[] {
  return Array.from({ length: n }, (_, i) => `{"${tag}":${i}}`);
}

void describe('reflash audit verify against a misbehaving log', () => {
  const key = generateSigner('stub.example/log');
  const trust = logTrust({ logKey: key.verifierKey });
  let http: TestServer;
  let log: StubLog;
  let dir: string;
  let state: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-audit-stub-'));
    http = await TestServer.start((req, res) => {
      const body = log.handle(new URL(req.url ?? '/', 'http://x').pathname);
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': body.byteLength }).end(body);
    });
  });
  after(async () => {
    await http.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function rememberHonest(size: number): Promise<void> {
    state = join(dir, `state-${Math.random().toString(36).slice(2)}.json`);
    log = StubLog.build(key.signerKey, entries(size));
    assert.equal((await verifyLog({ url: http.origin, trust, state }, captureOutput())).size, size);
  }

  async function expectMisbehaviour(code: string, message: RegExp): Promise<void> {
    const before = readFileSync(state, 'utf8');
    await assert.rejects(verifyLog({ url: http.origin, trust, state }, captureOutput()), (err: unknown) => {
      assert.ok(err instanceof LogMisbehaviourError, String(err));
      assert.equal(err.code, code);
      assert.match(err.message, message);
      assert.ok(err.evidence.length >= 1);
      return true;
    });
    assert.equal(readFileSync(state, 'utf8'), before, 'the state is not advanced past a misbehaving log');
  }

  void it('two checkpoints of one size with different roots: FORK', async () => {
    await rememberHonest(300);
    log = StubLog.build(key.signerKey, entries(300, 'other'));
    await expectMisbehaviour('LOG_FORK', /^FORK: the log signed two different trees of size 300/);
  });

  void it('a larger checkpoint that does not extend the remembered tree: FORK (inconsistent)', async () => {
    await rememberHonest(300);
    log = StubLog.build(key.signerKey, [...entries(299), '{"rewritten":true}', ...entries(200, 'more')]);
    await expectMisbehaviour('LOG_INCONSISTENT', /^FORK: tree 500 is not consistent with the remembered tree 300/);
  });

  void it('a smaller checkpoint: ROLLBACK', async () => {
    await rememberHonest(300);
    log = StubLog.build(key.signerKey, entries(200));
    await expectMisbehaviour('LOG_ROLLBACK', /^ROLLBACK/);
  });

  void it('entry bundles that do not hash to the signed root', async () => {
    await rememberHonest(10);
    log = StubLog.build(key.signerKey, entries(600));
    log.bundleEntries = [...log.entries];
    log.bundleEntries[400] = Buffer.from('{"e":"forged"}');
    await expectMisbehaviour('LOG_ENTRIES_MISMATCH', /do not hash to the signed root of tree 600/);
  });

  void it('an honest extension verifies incrementally from the saved compact range', async () => {
    await rememberHonest(300);
    log = StubLog.build(key.signerKey, entries(777));
    const r = await verifyLog({ url: http.origin, trust, state }, captureOutput());
    assert.deepEqual({ previousSize: r.previousSize, replayed: r.replayed }, { previousSize: 300, replayed: 477 });
  });

  void it('the reflash command reports a fork with the evidence and exits 1', async () => {
    await rememberHonest(50);
    log = StubLog.build(key.signerKey, entries(50, 'x'));
    const r = await run(['audit', 'verify', '--url', http.origin, '--log-key', key.verifierKey, '--state', state]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /FORK: the log signed two different trees of size 50/);
    assert.match(r.stderr, /evidence \(signed by the log; keep it\)/);
    assert.match(r.stderr, /reflash: LOG_FORK/);
  });
});

/**
 * `reflash inspect`: fetch a vehicle's signed inspection statement and verify it (published or
 * pinned key); `reflash inspect verify FILE --key KEY` verifies offline, and refuses a tampered
 * statement or another key. Also `reflash sums export` writes the bytes the server logged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigner } from '@reflash/log';
import { createToken, defaults, startServer } from '@reflash/server';
import type { RunningServer } from '@reflash/server';
import { AdminClient } from '../src/client/admin.js';
import { captureOutput } from '../src/client/output.js';
import { inspectOnline, inspectVerifyFile } from '../src/commands/inspect.js';
import { exportCommand } from '../src/commands/sums.js';

const REFLASH = fileURLToPath(new URL('../../bin/reflash', import.meta.url));

function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [REFLASH, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

void describe('reflash inspect', () => {
  let dir: string;
  let server: RunningServer;
  let client: AdminClient;
  const sha = 'ab'.repeat(32);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-inspect-'));
    const dataDir = join(dir, 'data');
    server = await startServer({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), port: 0, logLevel: 'silent', logIntegrateIntervalMs: 20 }, {
      env: { REFLASH_MASTER_KEY: 'test-master-key-0123456789abcdef0123456789' },
    });
    const q = server.ctx.db.kysely;
    await q.insertInto('vehicles').values({ vin: 'INSPECT-1', model: 'M1', primary_ecu_serial: 'E1', created_at: 0, last_seen_at: 1000, manifest_count: 1 }).execute();
    await q.insertInto('ecus').values({
      serial: 'E1', vin: 'INSPECT-1', hardware_id: 'hw-brake', public_key: '{}', key_id: 'k1', last_counter: 7,
      installed_filename: 'ecu/brake-2.0.bin', installed_length: 100, installed_sha256: sha, installed_at: 1000,
    }).execute();
    await q.insertInto('sums_rxswins').values({ model: 'M1', regulation: 'R13-H', rxswin: 'R13H-M1-0002', software: JSON.stringify([{ hardwareId: 'hw-brake', filename: 'ecu/brake-2.0.bin' }]), created_by: 't', created_at: 0 }).execute();
    client = new AdminClient({ baseUrl: server.url, token: (await createToken(server.ctx, 'inspector', 'auditor')).token });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it('fetches and verifies a statement, saves it, and verifies it offline; a tampered one fails', async () => {
    const file = join(dir, 'statement.note');
    const out = captureOutput();
    const st = await inspectOnline(client, 'INSPECT-1', { out: file }, out);
    assert.equal(st.vin, 'INSPECT-1');
    assert.match(out.lines[0]!, /^vehicle INSPECT-1 \(model M1\)/);
    assert.ok(out.lines.some((l) => l.includes(`ECU E1 [hw-brake]: ecu/brake-2.0.bin sha256 ${sha} 100 bytes (report 7)`)));
    assert.ok(out.lines.includes('  RXSWIN R13-H: R13H-M1-0002'));
    const key = ((await client.get('/api/v1/inspect/key')) as { key: string }).key;
    const keyFile = join(dir, 'inspection.key');
    writeFileSync(keyFile, `${key}\n`);

    const offline = captureOutput();
    await inspectVerifyFile(file, keyFile, offline);
    assert.match(offline.lines.at(-1)!, /^signature: verified/);
    const ok = await run(['inspect', 'verify', file, '--key', key]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /RXSWIN R13-H: R13H-M1-0002/);

    const tampered = join(dir, 'tampered.note');
    writeFileSync(tampered, readFileSync(file, 'utf8').replace('R13H-M1-0002', 'R13H-M1-0003'));
    const bad = await run(['inspect', 'verify', tampered, '--key', keyFile]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /LOG_BAD_SIGNATURE/);
    const other = generateSigner(key.split('+')[0]!).verifierKey;
    const wrongKey = await run(['inspect', 'verify', file, '--key', other]);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /LOG_NO_TRUSTED_SIGNATURE/);
  });

  void it('pins a key: a statement signed by another key is refused', async () => {
    const other = generateSigner('reflash/log/inspection').verifierKey;
    await assert.rejects(inspectOnline(client, 'INSPECT-1', { key: other }, captureOutput()), /no valid signature/);
  });

  void it('writes an export with the SHA-256 the server logged', async () => {
    const file = join(dir, 'export.csv');
    const r = await exportCommand(client, { format: 'csv', model: 'M1' }, file, captureOutput());
    assert.equal(readFileSync(file).byteLength, r.bytes);
    assert.match(readFileSync(file, 'utf8'), /^id,vin,model,regulation/);
  });
});

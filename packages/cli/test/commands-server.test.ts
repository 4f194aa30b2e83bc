/**
 * `reflash server`: starts on port 0 with a fresh data folder, answers /healthz, and stops
 * cleanly (exit 0) on SIGTERM; a bad configuration is `reflash: CONFIG_INVALID: ...`, exit 2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REFLASH = fileURLToPath(new URL('../../bin/reflash', import.meta.url));

void describe('reflash server', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-server-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void it('starts on port 0, answers /healthz and exits 0 on SIGTERM', async () => {
    const dataDir = join(dir, 'data');
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('REFLASH_')) delete env[k];
    const child = spawn(process.execPath, [REFLASH, 'server', '--data-dir', dataDir, '--port', '0', '--log-level', 'info'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error(`no "listening" line within 20 s; stderr: ${stderr}`)), 20_000);
        child.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          for (const line of buf.split('\n')) {
            if (!line.includes('reflash server listening')) continue;
            clearTimeout(timer);
            resolve((JSON.parse(line) as { address: string }).address);
          }
        });
        child.once('exit', () => reject(new Error(`the server exited early; stderr: ${stderr}`)));
      });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${url}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok' });
      assert.ok(existsSync(join(dataDir, 'admin.token')), 'the first admin token is written to the data folder');
    } finally {
      child.kill('SIGTERM');
    }
    assert.deepEqual(await exited, { code: 0, signal: null });
  });

  void it('a bad configuration: CONFIG_INVALID, exit 2', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [REFLASH, 'server', '--data-dir', join(dir, 'x'), '--port', 'eighty'], { timeout: 20_000 }, (err, _stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr });
      });
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^reflash: CONFIG_INVALID: flag --port: port must be a whole number/m);
  });
});

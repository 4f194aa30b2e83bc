/**
 * The fleet simulator against a server in this process (startServer, port 0, SQLite in a temp
 * folder): prepare (TEST keys, Image-repo init, signed image set, provisioning, assignment) then
 * 5 vehicles x 2 ECUs updated over real HTTP; with every fault injected, each vehicle ends
 * either updated or failed with a reason, never with a mix of old and new images; the
 * `reflash fleet simulate` command prints its summary and exits 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaults, startServer } from '@reflash/server';
import type { RunningServer } from '@reflash/server';
import { AdminClient } from '../src/client/admin.js';
import { captureOutput } from '../src/client/output.js';
import { runFleet } from '../src/commands/fleet.js';

const REFLASH = fileURLToPath(new URL('../../bin/reflash', import.meta.url));

void describe('reflash fleet simulate', () => {
  let dir: string;
  let server: RunningServer;
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-fleet-test-'));
    const dataDir = join(dir, 'data');
    server = await startServer({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), port: 0, logLevel: 'silent', sqliteSynchronous: 'normal' }, { env: {} });
    token = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it('5 vehicles x 2 ECUs: prepared, then every vehicle updated over HTTP', async () => {
    const client = new AdminClient({ baseUrl: server.url, token });
    const { summary, state } = await runFleet({
      client, keystore: join(dir, 'keystore'), vehicles: 5, ecus: 2, imageSize: 64 * 1024, concurrency: 3, faults: [], faultRate: 0, seed: 1, out: captureOutput(),
    });
    assert.deepEqual({ vehicles: summary.vehicles, updated: summary.updated, failed: summary.failed }, { vehicles: 5, updated: 5, failed: 0 });
    // Per vehicle: 2 check-ins (their answers carry the Director metadata), the Image repository's
    // metadata (next root: 404, timestamp, snapshot, targets) and 2 image downloads.
    assert.ok(summary.requests >= 5 * 8, `requests ${summary.requests}`);
    for (const r of summary.results) {
      assert.deepEqual(r.changes.map((c) => c.to), state.ecus.map((e) => `${e.target.filepath} (release 2)`));
      assert.deepEqual(r.changes.map((c) => c.from), state.ecus.map((e) => `${e.factory.filepath} (release 1)`));
    }
    const a = await client.get(`/api/v1/assignments?vin=${state.vins[0]!}`) as { assignments: Array<{ status: string }> };
    assert.deepEqual(a.assignments.map((x) => x.status), ['installed', 'installed']);
  });

  void it('faults (dropped downloads, power loss, low battery): each vehicle updated or failed with a reason, never mixed', async () => {
    const client = new AdminClient({ baseUrl: server.url, token });
    const { summary } = await runFleet({
      client, keystore: join(dir, 'keystore'), vehicles: 4, ecus: 2, imageSize: 64 * 1024, concurrency: 4, faults: ['drop-download', 'power-loss', 'low-battery'], faultRate: 1, seed: 3, out: captureOutput(),
    });
    assert.equal(summary.vehicles, 4);
    assert.equal(summary.faultsInjected['low-battery'], 4);
    assert.ok((summary.faultsInjected['power-loss'] ?? 0) >= 1);
    for (const r of summary.results) {
      const versions = new Set(r.changes.map((c) => c.to.endsWith('(release 2)') ? 'new' : 'old'));
      assert.equal(versions.size, 1, `${r.vin}: ${JSON.stringify(r.changes)}`);
      if (r.updated) assert.ok(versions.has('new'));
      else assert.ok(r.reason !== undefined && versions.has('old'), `${r.vin}: ${r.reason ?? ''}`);
    }
    assert.equal(summary.updated + summary.failed, 4);
  });

  void it('the command: summary as JSON, exit 0', async () => {
    const tokenFile = join(dir, 'token');
    await import('node:fs/promises').then((fs) => fs.writeFile(tokenFile, token));
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [REFLASH, 'fleet', 'simulate', '--server', server.url, '--token-file', tokenFile, '--keystore', join(dir, 'keystore'), '--vehicles', '2', '--ecus', '2', '--image-size', '4096', '--json'], { timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      });
    });
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { vehicles: number; updated: number; failed: number; requests: number };
    assert.deepEqual({ vehicles: s.vehicles, updated: s.updated, failed: s.failed }, { vehicles: 2, updated: 2, failed: 0 });
  });
});

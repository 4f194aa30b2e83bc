/**
 * Offline update: `reflash vehicle export-bundle` against a server in this process writes a
 * vehicle's Director and Image-repository metadata and its assigned images; the same Primary
 * (@reflash/vehicle BundleBackend, no network; `reflash fleet install-bundle`) installs it with full verification and records
 * its manifests and report in the outbox. One flipped byte in an image or in a metadata file of
 * the bundle: refused, every ECU stays on its old image.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaults, startServer } from '@reflash/server';
import type { RunningServer } from '@reflash/server';
import { BundleBackend } from '@reflash/vehicle';
import type { BundleManifest } from '@reflash/vehicle';
import { AdminClient } from '../src/client/admin.js';
import { captureOutput } from '../src/client/output.js';
import { exportBundle } from '../src/commands/bundle.js';
import { prepareFleet } from '../src/fleet/prepare.js';
import type { FleetState } from '../src/fleet/prepare.js';
import { SIM_CONFIG, openSimVehicle } from '../src/fleet/simulate.js';

const REFLASH = fileURLToPath(new URL('../../bin/reflash', import.meta.url));

async function flipByte(path: string, at?: number): Promise<void> {
  const b = await readFile(path);
  const i = at ?? b.length >> 1;
  b[i] = b[i]! ^ 0x01;
  await writeFile(path, b);
}

void describe('offline update bundles', () => {
  let dir: string;
  let server: RunningServer;
  let token: string;
  let state: FleetState;
  const stateDir = (): string => join(dir, 'fleet');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-bundle-test-'));
    const dataDir = join(dir, 'data');
    server = await startServer({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), port: 0, logLevel: 'silent', sqliteSynchronous: 'normal' }, { env: {} });
    token = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    state = await prepareFleet(new AdminClient({ baseUrl: server.url, token }), {
      stateDir: stateDir(), keystore: join(dir, 'keystore'), vehicles: 3, ecus: 2, imageSize: 96 * 1024, out: captureOutput(),
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function install(vin: string, bundle: string): Promise<{ outcome: string; code: string | undefined; running: string[] }> {
    const backend = await BundleBackend.open(bundle, vin);
    const v = await openSimVehicle({ stateDir: stateDir(), state, vin, backend: () => backend, config: { ...SIM_CONFIG, downloadRetry: { baseMs: 1, factor: 1, capMs: 1, maxAttempts: 2 } } });
    const r = await v.primary.runCycle();
    return { outcome: r.outcome, code: r.record.outcome?.code, running: v.ecus.map((e) => e.running.image?.filepath ?? '') };
  }

  void it('export-bundle (the command), then the Primary installs it with no network', async () => {
    const vin = state.vins[0]!;
    const out = join(dir, 'bundle-ok');
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, token);
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [REFLASH, 'vehicle', 'export-bundle', vin, '--server', server.url, '--token-file', tokenFile, '--out', out], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      });
    });
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8')) as BundleManifest;
    assert.equal(m.images.length, 2);
    assert.ok(m.director.includes('1.root.json') && m.director.includes('timestamp.json'));
    assert.ok(m.image.includes('1.root.json') && m.image.some((f) => /^\d+\.targets\.json$/.test(f)));
    // The server is not used from here on: `reflash fleet install-bundle`.
    const inst = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [REFLASH, 'fleet', 'install-bundle', '--state-dir', stateDir(), '--vin', vin, '--bundle', out], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      });
    });
    assert.equal(inst.code, 0, inst.stderr + inst.stdout);
    assert.match(inst.stdout, new RegExp(`^${vin}: success`));
    for (const e of state.ecus) assert.ok(inst.stdout.includes(`${e.factory.filepath} -> ${e.target.filepath}`), inst.stdout);
    const outbox = await readdir(join(out, 'outbox'));
    assert.ok(outbox.some((f) => f.endsWith('-manifest.json')) && outbox.some((f) => f.endsWith('-report.json')), outbox.join(','));
    // A bundle for another vehicle is refused before anything runs.
    await assert.rejects(BundleBackend.open(out, state.vins[1]), /bundle for/);
  });

  void it('one flipped byte in an image: refused, every ECU stays on its old image', async () => {
    const vin = state.vins[1]!;
    const out = join(dir, 'bundle-image');
    const m = await exportBundle({ serverUrl: server.url, token, vin, out }, captureOutput());
    await flipByte(join(out, m.images[1]!.file));
    const res = await install(vin, out);
    assert.notEqual(res.outcome, 'success');
    assert.deepEqual(res.running, state.ecus.map((e) => e.factory.filepath), JSON.stringify(res));
  });

  void it('one flipped byte in Director targets or Image-repository metadata: rejected', async () => {
    const vin = state.vins[2]!;
    const out = join(dir, 'bundle-meta');
    const m = await exportBundle({ serverUrl: server.url, token, vin, out }, captureOutput());
    const targets = m.director.find((f) => /^\d+\.targets\.json$/.test(f))!;
    const file = join(out, 'director', targets);
    const text = await readFile(file, 'utf8');
    // A byte inside the signed part: a hex digit of the first target's sha256.
    const at = text.indexOf('"sha256":"') + 12;
    await flipByte(file, at);
    const res = await install(vin, out);
    assert.equal(res.outcome, 'rejected', JSON.stringify(res));
    assert.deepEqual(res.running, state.ecus.map((e) => e.factory.filepath));
    // Image-repository snapshot tampered: rejected too (fresh export).
    const m2 = await exportBundle({ serverUrl: server.url, token, vin, out }, captureOutput());
    const snap = m2.image.find((f) => /^\d+\.snapshot\.json$/.test(f))!;
    const sfile = join(out, 'image', snap);
    const stext = await readFile(sfile, 'utf8');
    await flipByte(sfile, stext.indexOf('"expires":"') + 12);
    const res2 = await install(vin, out);
    assert.equal(res2.outcome, 'rejected', JSON.stringify(res2));
    assert.deepEqual(res2.running, state.ecus.map((e) => e.factory.filepath));
  });
});

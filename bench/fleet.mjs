// Fleet simulation against one server on this machine: N vehicles x 3 ECUs, 256 KiB images.
//
// The server is a child process (@reflash/server startServer, the code `reflash server` runs:
// SQLite in a temporary data folder with the default `group` durability: the WAL fsynced once for all
// commits waiting, every answer after its commits are durable; log level error) on 127.0.0.1:0. This process is the fleet: `reflash fleet` code
// (packages/cli/src/fleet): first prepare (TEST offline keys, Image-repo init, one signed 256 KiB
// image per ECU hardware id uploaded, N vehicles provisioned, the image set assigned; timed
// apart), then every vehicle is a real Primary (@reflash/vehicle) with 3 file-based ECUs
// talking HTTP to the server (HttpBackend: signed requests, full verification, streamed Range
// downloads, A/B install), `concurrency` vehicles at a time, until each is updated (a cycle
// ended in success and the next check-in found nothing to do) or failed. No fault injection:
// failures must be 0. Each vehicle's state folder is removed when it is done.
//
// Knobs (environment): BENCH_FLEET_VEHICLES ("1000"; a list such as "1000,10000" runs each),
// BENCH_FLEET_CONCURRENCY (64), BENCH_FLEET_ECUS (3), BENCH_FLEET_IMAGE_BYTES (262144).
// Many vehicles at once do many small fsyncs (atomic state files): libuv's default 4 threads
// would serialise them. Effective only if no fs work ran in this process before (it did not:
// scripts/bench.mjs reads synchronously); `reflash fleet simulate` sets the same in bin/reflash.
process.env.UV_THREADPOOL_SIZE ??= '64';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { envInt, fmtBytes, fmtInt, fmtMs, printTable } from './lib.mjs';

export const title = 'Fleet simulation: N vehicles x 3 ECUs updated over HTTP against one server (SQLite)';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** "128 s", "1,270 s (21.2 min)" */
function fmtSeconds(ms) {
  const s = ms / 1000;
  if (s < 100) return fmtMs(ms);
  return `${fmtInt(Math.round(s))} s${s >= 600 ? ` (${(s / 60).toFixed(1)} min)` : ''}`;
}

const SERVER_SCRIPT = `
const { defaults, startServer } = await import('@reflash/server');
const { join } = await import('node:path');
const dataDir = process.argv[1];
const server = await startServer({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), port: 0, logLevel: 'error' }, { env: {} });
process.stdout.write(JSON.stringify({ url: server.url }) + '\\n');
process.once('SIGTERM', () => { server.close().then(() => process.exit(0), () => process.exit(1)); });
`;

/** Start a server child process in a temp data folder; returns { url, token, pid, peakRssKiB(), stop() }. */
export async function startServerProcess() {
  const dataDir = mkdtempSync(join(tmpdir(), 'reflash-bench-server-'));
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER_SCRIPT, dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined) resolve(JSON.parse(line).url);
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  child.stdout.resume();
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    url, token, pid: child.pid,
    peakRssKiB() {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m === null ? undefined : Number(m[1]);
      } catch {
        return undefined;
      }
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function runOne(vehicles, opts, log) {
  const { AdminClient } = await import('@reflash/cli/client/admin');
  const { prepareFleet } = await import('@reflash/cli/fleet/prepare');
  const { simulateFleet } = await import('@reflash/cli/fleet/simulate');
  const server = await startServerProcess();
  const stateDir = mkdtempSync(join(tmpdir(), 'reflash-bench-fleet-'));
  try {
    log(`   -- ${fmtInt(vehicles)} vehicles: server ${server.url} (child process ${server.pid}, SQLite)`);
    const client = new AdminClient({ baseUrl: server.url, token: server.token, timeoutMs: 120_000 });
    const quiet = { out: () => undefined, note: () => undefined };
    const t0 = performance.now();
    const state = await prepareFleet(client, { stateDir, keystore: join(stateDir, 'keystore'), vehicles, ecus: opts.ecus, imageSize: opts.imageBytes, concurrency: 16, out: quiet });
    const prepareMs = performance.now() - t0;
    log(`   prepared (keys, image set, provisioning, assignment) in ${fmtSeconds(prepareMs)}`);
    let done = 0;
    const s = await simulateFleet({
      stateDir, state, serverUrl: server.url, concurrency: opts.concurrency, faults: [], faultRate: 0, seed: 1, cleanup: true,
      onVehicleDone: () => {
        done++;
        if (done % Math.max(1, Math.floor(vehicles / 10)) === 0) log(`   ${fmtInt(done)} done`);
      },
    });
    const r = {
      vehicles, ecus: opts.ecus, imageBytes: opts.imageBytes, concurrency: opts.concurrency, prepareMs,
      wallMs: s.wallMs, requests: s.requests, requestsPerSecond: s.requestsPerSecond, updated: s.updated, failed: s.failed, failures: s.failures,
      httpErrors: s.httpErrors, imageBytesDownloaded: vehicles * opts.ecus * opts.imageBytes, serverPeakRssKiB: server.peakRssKiB(),
    };
    log(`   updated ${fmtInt(r.updated)}, failed ${fmtInt(r.failed)} in ${fmtSeconds(r.wallMs)}; ${fmtInt(r.requests)} requests`);
    for (const [reason, n] of Object.entries(s.failures)) log(`     failed ${n}: ${reason}`);
    return r;
  } finally {
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export async function run({ log }) {
  const opts = {
    vehicles: (process.env.BENCH_FLEET_VEHICLES ?? '1000').split(',').map((s) => Number(s.trim())),
    concurrency: envInt('BENCH_FLEET_CONCURRENCY', 64),
    ecus: envInt('BENCH_FLEET_ECUS', 3),
    imageBytes: envInt('BENCH_FLEET_IMAGE_BYTES', 256 * 1024),
  };
  for (const v of opts.vehicles) if (!Number.isSafeInteger(v) || v < 1) throw new Error(`BENCH_FLEET_VEHICLES: bad value ${v}`);
  log(`   ${opts.vehicles.map(fmtInt).join(', ')} vehicles x ${opts.ecus} ECUs, ${fmtBytes(opts.imageBytes)} images, concurrency ${opts.concurrency}`);
  log(`   load average before: ${loadavg()[0].toFixed(2)} (${cpus().length} cores; the server and the fleet share them)`);
  const results = [];
  for (const v of opts.vehicles) results.push(await runOne(v, opts, log));
  printTable([
    { key: 'vehicles', title: 'vehicles' }, { key: 'ecus', title: 'ECUs' }, { key: 'image', title: 'image' }, { key: 'conc', title: 'concurrency' },
    { key: 'prep', title: 'prepare' }, { key: 'wall', title: 'update wall time' }, { key: 'req', title: 'requests' }, { key: 'rps', title: 'requests/s' },
    { key: 'vps', title: 'vehicles/s' }, { key: 'updated', title: 'updated' }, { key: 'failed', title: 'failed' }, { key: 'rss', title: 'server peak RSS' },
  ], results.map((r) => ({
    vehicles: fmtInt(r.vehicles), ecus: r.ecus, image: fmtBytes(r.imageBytes), conc: r.concurrency, prep: fmtSeconds(r.prepareMs), wall: fmtSeconds(r.wallMs),
    req: fmtInt(r.requests), rps: r.requestsPerSecond.toFixed(0), vps: (r.vehicles / (r.wallMs / 1000)).toFixed(1), updated: fmtInt(r.updated), failed: fmtInt(r.failed),
    rss: r.serverPeakRssKiB === undefined ? '-' : fmtBytes(r.serverPeakRssKiB * 1024),
  })), log);
  return { options: opts, results };
}

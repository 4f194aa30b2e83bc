// Primary peak RSS while installing a 1 GiB image (goal <= 64 MiB), and its hashing throughput
// next to `sha256sum` on the same file.
//
// Setup (this process): a server child process (bench/fleet.mjs startServerProcess: SQLite in a
// temp folder), then `reflash fleet` prepare for 1 vehicle with 1 ECU and a 1 GiB image
// (pseudo-random bytes, AES-CTR keystream, written to a temp file, uploaded, signed, assigned).
// Measured (a fresh child process that loads only @reflash/vehicle, as shipped): one Primary runs
// update cycles over HTTP (HttpBackend, net/http-client.ts) until the image is installed: full
// verification, streamed download to disk with length/SHA-256/SHA-512 checked while it arrives,
// streamed into the ECU's inactive bank (hashed again), read back and measured boot (hashed
// again), confirm. Peak RSS is the child's maxRSS (process.resourceUsage(), = VmHWM) over its
// whole life. The goal is judged on the run with Node's default flags: the product applies no
// V8 or malloc setting of its own. A second child with `--max-semi-space-size=1` and
// MALLOC_ARENA_MAX=1 (set here, by the benchmark) is reported for comparison only.
// Then, in the same child, the Primary's hashing code (digest.ts StreamingDigest fed by
// digestFile: one reused read buffer) on the installed bank file, SHA-256 only and SHA-256 +
// SHA-512 (what the metadata lists), and here `sha256sum` on the same file (page cache warm for
// both). Everything is removed afterwards.
//
// Knobs: BENCH_RSS_IMAGE_BYTES (1073741824); BENCH_RSS_TRACE=1 prints the child's RSS and peak
// at every state transition (stderr).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fmtBytes, fmtMs, printTable } from './lib.mjs';

export const title = 'Primary peak RSS installing a 1 GiB image; hashing throughput vs sha256sum';

const GOAL_MIB = 64;
const TUNED_FLAG = '--max-semi-space-size=1';
/** glibc: one malloc arena (the default is 8 per core: each thread's frees stay in its arena) */
const TUNED_ENV = { MALLOC_ARENA_MAX: '1' };
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function mbps(bytes, ms) {
  return bytes / (1024 * 1024) / (ms / 1000);
}

/** RSS now and peak, V8 heap (committed; of which new space) and external memory, in MiB. */
function traceLine() {
  const m = process.memoryUsage();
  const mib = (n) => (n / 1048576).toFixed(1);
  return `rss ${mib(m.rss)} MiB, peak ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB (heap ${mib(m.heapTotal)}, external ${mib(m.external)})`;
}

async function child(spec) {
  const { join: pjoin } = await import('node:path');
  const { Ecu, HttpBackend, Primary, StreamingDigest, digestFile } = await import('@reflash/vehicle');
  const ecu = await Ecu.open(pjoin(spec.vehicleDir, 'ecus', spec.ecu));
  const backend = new HttpBackend({ serverUrl: spec.url, vin: spec.vin, keyId: ecu.signer.keyId, privateKey: ecu.signer.privateKey, timeoutMs: 120_000 });
  const primary = await Primary.open({
    dir: pjoin(spec.vehicleDir, 'primary'), vin: spec.vin, primaryEcuSerial: ecu.serial, signer: ecu.signer, ecus: [ecu], backend,
    signals: { get: (p) => Promise.resolve(p === 'Vehicle.Speed' ? 0 : p === 'Vehicle.Powertrain.Transmission.SelectedGear' ? 126 : 90) },
    hmi: { requestConsent: () => Promise.resolve('accepted') },
    config: { transferChunkBytes: 64 * 1024 },
    // BENCH_RSS_TRACE=1: the RSS at every state transition, on stderr.
    ...(process.env.BENCH_RSS_TRACE === '1' ? { onTransition: (t) => process.stderr.write(`   ${t.from} -> ${t.to}: ${traceLine()}\n`) } : {}),
  });
  const baseRssKiB = Math.round(process.memoryUsage().rss / 1024);
  const t0 = performance.now();
  const r = await primary.runCycle();
  const installMs = performance.now() - t0;
  const maxRssKiB = process.resourceUsage().maxRSS;
  if (r.outcome !== 'success') throw new Error(`install: ${r.outcome} ${JSON.stringify(r.record.outcome)}`);
  const image = ecu.running.image;
  const bank = pjoin(spec.vehicleDir, 'ecus', spec.ecu, `bank-${ecu.running.bank}.img`);
  const hashRun = async (hashes) => {
    const d = new StreamingDigest({ filepath: image.filepath, length: image.length, hashes });
    const t = performance.now();
    await digestFile(bank, d);
    d.verify();
    return performance.now() - t;
  };
  const sha256Ms = await hashRun({ sha256: image.hashes.sha256 });
  const bothMs = await hashRun({ sha256: image.hashes.sha256, sha512: image.hashes.sha512 });
  process.stdout.write(`${JSON.stringify({ installMs, baseRssKiB, maxRssKiB, node: process.execArgv.join(' '), bank, sha256: image.hashes.sha256, length: image.length, sha256Ms, bothMs, afterHashRssKiB: process.resourceUsage().maxRSS })}\n`);
}

function runChild(spec, nodeFlags = [], env = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...nodeFlags, fileURLToPath(import.meta.url)], { cwd: ROOT, env: { ...process.env, ...env, BENCH_RSS_CHILD: JSON.stringify(spec) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d.toString(); });
    c.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`child exited ${code}: ${out}`))));
  });
}

function sha256sum(file) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const c = spawn('sha256sum', [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d.toString(); });
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve({ ms: performance.now() - t, hex: out.split(' ')[0] }) : reject(new Error(`sha256sum exited ${code}`))));
  });
}

export async function run({ log }) {
  const size = Number(process.env.BENCH_RSS_IMAGE_BYTES ?? 1024 * 1024 * 1024);
  const { startServerProcess } = await import('./fleet.mjs');
  const { AdminClient } = await import('@reflash/cli/client/admin');
  const { prepareFleet, vehicleDir } = await import('@reflash/cli/fleet/prepare');
  const server = await startServerProcess();
  const stateDir = mkdtempSync(join(tmpdir(), 'reflash-bench-rss-'));
  try {
    const client = new AdminClient({ baseUrl: server.url, token: server.token, timeoutMs: 300_000 });
    const t0 = performance.now();
    const state = await prepareFleet(client, { stateDir, keystore: join(stateDir, 'keystore'), vehicles: 2, ecus: 1, imageSize: size, out: { out: () => undefined, note: () => undefined } });
    log(`   ${size >= 1 << 30 ? `${(size / (1 << 30)).toFixed(2)} GiB` : fmtBytes(size)} image generated, uploaded, signed and assigned in ${fmtMs(performance.now() - t0)} (server ${server.url}, child process)`);
    const spec = (vin) => ({ url: server.url, vin, vehicleDir: vehicleDir(stateDir, vin), ecu: state.ecus[0].serial });
    const c = await runChild(spec(state.vins[0]));
    // For comparison only (not applied by the product): a small V8 young generation (default
    // semi-spaces grow to 8 MiB) and one glibc malloc arena.
    const tuned = await runChild(spec(state.vins[1]), [TUNED_FLAG], TUNED_ENV);
    const s = await sha256sum(c.bank);
    if (s.hex !== c.sha256) throw new Error(`sha256sum says ${s.hex}, the metadata ${c.sha256}`);
    const rssMiB = c.maxRssKiB / 1024;
    log(`   installed in ${fmtMs(c.installMs)} (${mbps(size, c.installMs).toFixed(0)} MiB/s end to end: download hashed while streaming, bank write hashed, readback and measured boot hashed)`);
    printTable([
      { key: 'what', title: 'measure', align: 'left' }, { key: 'value', title: 'value' }, { key: 'note', title: 'note', align: 'left' },
    ], [
      { what: 'Primary RSS before the cycle (node + modules)', value: `${(c.baseRssKiB / 1024).toFixed(1)} MiB`, note: 'default V8 flags' },
      { what: 'Primary peak RSS (installing)', value: `${rssMiB.toFixed(1)} MiB`, note: `default flags, as shipped; goal <= ${GOAL_MIB} MiB: ${rssMiB <= GOAL_MIB ? 'met' : 'NOT met'}` },
      { what: 'Primary peak RSS (installing)', value: `${(tuned.maxRssKiB / 1024).toFixed(1)} MiB`, note: `for comparison, set by the benchmark: node ${TUNED_FLAG}, MALLOC_ARENA_MAX=1 (before the cycle ${(tuned.baseRssKiB / 1024).toFixed(1)} MiB)` },
      { what: 'install time (1 image, 1 ECU)', value: fmtMs(c.installMs), note: `${mbps(size, c.installMs).toFixed(0)} MiB/s end to end` },
      { what: 'Primary hashing: SHA-256', value: `${mbps(size, c.sha256Ms).toFixed(0)} MiB/s`, note: fmtMs(c.sha256Ms) },
      { what: 'Primary hashing: SHA-256 + SHA-512', value: `${mbps(size, c.bothMs).toFixed(0)} MiB/s`, note: fmtMs(c.bothMs) },
      { what: 'sha256sum (coreutils)', value: `${mbps(size, s.ms).toFixed(0)} MiB/s`, note: `${fmtMs(s.ms)} incl. process start` },
      { what: 'ratio Primary SHA-256 / sha256sum', value: (s.ms / c.sha256Ms).toFixed(2), note: '>1: the Primary is faster' },
    ], log);
    return { imageBytes: size, ...c, tuned: { flag: TUNED_FLAG, env: TUNED_ENV, ...tuned }, sha256sumMs: s.ms, goalMiB: GOAL_MIB };
  } finally {
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_RSS_CHILD !== undefined) {
  await child(JSON.parse(process.env.BENCH_RSS_CHILD));
}

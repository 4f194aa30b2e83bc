/**
 * `reflash fleet prepare|simulate` and `reflash demo-fleet`:
 * - prepare: TEST offline keys, Image-repository init if needed, one signed v2 image per ECU
 *   hardware id, N vehicles provisioned into --state-dir, the image set assigned (fleet/prepare.ts);
 * - simulate: runs the vehicles of --state-dir (prepared first when it has none) as real HTTP
 *   clients with bounded concurrency, a progress bar on a terminal, and a summary
 *   (fleet/simulate.ts); exit 1 when a vehicle was not updated;
 * - install-bundle: one vehicle of --state-dir installs an offline bundle (export-bundle);
 * - demo-fleet: all of it against a server started here on embedded defaults (temp data folder,
 *   port 0), then each vehicle's ECUs old -> new.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { UsageError } from '@reflash/metadata';
import { BundleBackend } from '@reflash/vehicle';
import { AdminClient } from '../client/admin.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom, positiveInt } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';
import { loadFleetState, prepareFleet } from '../fleet/prepare.js';
import type { FleetState } from '../fleet/prepare.js';
import { FAULTS, openSimVehicle, simulateFleet } from '../fleet/simulate.js';
import type { Fault, FleetSummary, VehicleResult } from '../fleet/simulate.js';

export interface FleetRunOptions {
  readonly client: AdminClient;
  readonly stateDir?: string | undefined;
  readonly keystore?: string | undefined;
  readonly vehicles: number;
  readonly ecus: number;
  readonly imageSize: number;
  readonly concurrency: number;
  readonly faults: readonly Fault[];
  readonly faultRate: number;
  readonly seed: number;
  readonly out: Output;
  /** progress bars on this stream when it is a terminal */
  readonly progress?: NodeJS.WriteStream | undefined;
}

function bar(label: string, total: number, stream: NodeJS.WriteStream | undefined): { tick(n?: number): void; stop(): void } {
  if (stream?.isTTY !== true || total <= 0) return { tick: () => undefined, stop: () => undefined };
  const b = new cliProgress.SingleBar({
    stream, format: `${label} [{bar}] {value}/{total} | {eta_formatted} | {info}`, hideCursor: true, clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  b.start(total, 0, { info: '' });
  let n = 0;
  let failed = 0;
  return {
    tick: (f = 0) => {
      n++;
      failed += f;
      b.update(n, { info: failed === 0 ? 'ok' : `${failed} failed` });
    },
    stop: () => b.stop(),
  };
}

export interface FleetRunResult {
  readonly state: FleetState;
  readonly summary: FleetSummary;
  readonly stateDir: string;
}

/** Prepare (unless --state-dir already holds a fleet), then simulate. */
export async function runFleet(o: FleetRunOptions): Promise<FleetRunResult> {
  const temporary = o.stateDir === undefined;
  const stateDir = o.stateDir ?? await mkdtemp(join(tmpdir(), 'reflash-fleet-'));
  try {
    let state = await loadFleetState(stateDir);
    if (state === undefined) {
      const p = bar('provisioning', o.vehicles, o.progress);
      try {
        state = await prepareFleet(o.client, {
          stateDir, keystore: o.keystore ?? join(stateDir, 'keystore'), vehicles: o.vehicles, ecus: o.ecus, imageSize: o.imageSize,
          concurrency: Math.min(o.concurrency, 16), out: o.out, onProvisioned: () => p.tick(),
        });
      } finally {
        p.stop();
      }
      o.out.note(`prepared ${state.vins.length} vehicle(s) x ${state.ecus.length} ECU(s), image set ${state.ecus.map((e) => e.target.filepath).join(', ')} (${state.imageSize} bytes each) assigned`);
    } else {
      o.out.note(`reusing ${state.vins.length} vehicle(s) from ${stateDir}`);
    }
    const s = bar('updating    ', state.vins.length, o.progress);
    let summary: FleetSummary;
    try {
      summary = await simulateFleet({
        stateDir, state, serverUrl: o.client.baseUrl, concurrency: o.concurrency, faults: o.faults, faultRate: o.faultRate, seed: o.seed,
        cleanup: temporary, onVehicleDone: (r: VehicleResult) => s.tick(r.updated ? 0 : 1),
      });
    } finally {
      s.stop();
    }
    return { state, summary, stateDir };
  } finally {
    if (temporary) await rm(stateDir, { recursive: true, force: true });
  }
}

export function summaryLines(s: FleetSummary): string[] {
  const lines = [
    `vehicles ${s.vehicles}: updated ${s.updated}, failed ${s.failed}`,
    `wall time ${(s.wallMs / 1000).toFixed(1)} s, ${s.requests} requests (${s.requestsPerSecond.toFixed(0)}/s), ${s.httpErrors} network errors or 5xx`,
  ];
  const f = Object.entries(s.faultsInjected);
  if (f.length > 0) lines.push(`faults injected: ${f.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const [reason, n] of Object.entries(s.failures).sort((a, b) => b[1] - a[1])) lines.push(`  failed ${n}: ${reason}`);
  return lines;
}

function parseFaults(v: string[] | undefined): Fault[] {
  const out: Fault[] = [];
  for (const f of (v ?? []).flatMap((x) => x.split(','))) {
    if (!(FAULTS as readonly string[]).includes(f)) throw new UsageError(`--fault ${f}: one of ${FAULTS.join(', ')}`);
    out.push(f as Fault);
  }
  return out;
}

function probability(v: string | undefined): number {
  if (v === undefined) return 0.2;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--fault-rate must be between 0 and 1, got ${v}`);
  return n;
}

interface FleetCliOptions extends ServerOptions {
  vehicles?: string;
  ecus?: string;
  imageSize?: string;
  concurrency?: string;
  fault?: string[];
  faultRate?: string;
  seed?: string;
  stateDir?: string;
  keystore?: string;
  json?: boolean;
}

function addFleetOptions(cmd: Command): Command {
  return addServerOptions(cmd
    .option('--vehicles <n>', 'vehicles to provision', '10')
    .option('--ecus <m>', 'ECUs per vehicle (the first is the Primary)', '3')
    .option('--image-size <bytes>', 'size of each new image', String(256 * 1024))
    .option('--keystore <dir>', 'key store for the TEST offline keys (default: in the state folder)')
    .option('--state-dir <dir>', 'vehicle state folder (kept; default: a temporary folder)'));
}

export function registerFleet(program: Command): void {
  const fleet = program.command('fleet').description('fleet simulator: many vehicles as real HTTP clients');
  const prepare = fleet.command('prepare')
    .description('TEST keys, Image-repo init if needed, one signed image per ECU hardware id, provision vehicles into --state-dir, assign');
  addFleetOptions(prepare).action(async (o: FleetCliOptions) => {
    if (o.stateDir === undefined) throw new UsageError('fleet prepare needs --state-dir (then: fleet simulate --state-dir)');
    const client = await adminClientFrom(o, process.env);
    const state = await prepareFleet(client, {
      stateDir: o.stateDir, keystore: o.keystore ?? join(o.stateDir, 'keystore'),
      vehicles: positiveInt('--vehicles', o.vehicles), ecus: positiveInt('--ecus', o.ecus), imageSize: positiveInt('--image-size', o.imageSize), out: CONSOLE,
    });
    CONSOLE.out(`prepared ${state.vins.length} vehicle(s) in ${o.stateDir}`);
  });
  const simulate = fleet.command('simulate')
    .description('run the fleet until every vehicle is updated or failed; prepares it first unless --state-dir holds one')
    .option('--concurrency <c>', 'vehicles running at once', '32')
    .option('--fault <kind>', `inject a fault: ${FAULTS.join(', ')} (repeatable)`, (v: string, p: string[] | undefined) => [...(p ?? []), v])
    .option('--fault-rate <p>', 'probability that a fault hits a vehicle', '0.2')
    .option('--seed <s>', 'seed of the fault injection', '1')
    .option('--json', 'print the summary as JSON');
  addFleetOptions(simulate).action(async (o: FleetCliOptions) => {
    const client = await adminClientFrom(o, process.env);
    const { summary } = await runFleet({
      client, stateDir: o.stateDir, keystore: o.keystore,
      vehicles: positiveInt('--vehicles', o.vehicles), ecus: positiveInt('--ecus', o.ecus), imageSize: positiveInt('--image-size', o.imageSize),
      concurrency: positiveInt('--concurrency', o.concurrency), faults: parseFaults(o.fault), faultRate: probability(o.faultRate),
      seed: positiveInt('--seed', o.seed, 1), out: CONSOLE, progress: process.stderr,
    });
    if (o.json === true) {
      const { results, ...rest } = summary;
      CONSOLE.out(JSON.stringify({ ...rest, failedVehicles: results.filter((r) => !r.updated).map((r) => ({ vin: r.vin, reason: r.reason })) }, null, 2));
    } else {
      for (const l of summaryLines(summary)) CONSOLE.out(l);
    }
    if (summary.failed > 0) process.exitCode = 1;
  });

  fleet.command('install-bundle')
    .description('offline update: one vehicle of --state-dir installs an export-bundle folder (no network, full verification)')
    .requiredOption('--state-dir <dir>', 'fleet state folder (from fleet prepare)')
    .requiredOption('--vin <vin>', 'the vehicle')
    .requiredOption('--bundle <dir>', 'bundle folder (reflash vehicle export-bundle)')
    .action(async (o: { stateDir: string; vin: string; bundle: string }) => {
      const state = await loadFleetState(o.stateDir);
      if (state === undefined || !state.vins.includes(o.vin)) throw new UsageError(`${o.stateDir} holds no vehicle ${o.vin}`);
      const backend = await BundleBackend.open(o.bundle, o.vin);
      const v = await openSimVehicle({ stateDir: o.stateDir, state, vin: o.vin, backend: () => backend });
      const before = v.ecus.map((e) => e.running.image?.filepath ?? '(none)');
      const r = await v.primary.runCycle();
      CONSOLE.out(`${o.vin}: ${r.outcome}${r.record.outcome?.code === undefined ? '' : ` (${r.record.outcome.code})`}`);
      for (const [i, e] of v.ecus.entries()) CONSOLE.out(`  ${e.serial}: ${before[i]!} -> ${e.running.image?.filepath ?? '(none)'}`);
      if (r.outcome !== 'success' && r.outcome !== 'no-update') process.exitCode = 1;
    });

  program.command('demo-fleet')
    .description('start a server (temporary data folder), publish a signed image set, simulate a small fleet until every vehicle is updated')
    .option('--vehicles <n>', 'vehicles', '5')
    .option('--ecus <m>', 'ECUs per vehicle', '3')
    .action(async (o: { vehicles?: string; ecus?: string }) => {
      if (!(await demoFleet({ vehicles: positiveInt('--vehicles', o.vehicles, 5), ecus: positiveInt('--ecus', o.ecus, 3) }, CONSOLE))) process.exitCode = 1;
    });
}

/** `npm run demo`: server on embedded defaults in a temp folder, a small fleet updated over HTTP. */
export async function demoFleet(o: { vehicles: number; ecus: number }, out: Output): Promise<boolean> {
  const { defaults, startServer } = await import('@reflash/server');
  const dir = await mkdtemp(join(tmpdir(), 'reflash-demo-'));
  const dataDir = join(dir, 'data');
  const server = await startServer({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), port: 0, logLevel: 'silent' }, { env: {} });
  try {
    out.out(`server listening on ${server.url} (SQLite, data in ${dataDir})`);
    const token = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    const client = new AdminClient({ baseUrl: server.url, token });
    const { summary, state } = await runFleet({
      client, vehicles: o.vehicles, ecus: o.ecus, imageSize: 64 * 1024, concurrency: 4, faults: [], faultRate: 0, seed: 1,
      out: { out: (l) => out.out(l), note: (l) => out.out(l) }, progress: undefined,
    });
    out.out(`published and assigned: ${state.ecus.map((e) => `${e.hardwareId} -> ${e.target.filepath} (release ${e.target.releaseCounter})`).join(', ')}`);
    for (const r of summary.results) {
      out.out(`${r.vin}: ${r.updated ? 'updated' : `NOT updated (${r.reason ?? '?'})`} in ${r.cycles} cycle(s)`);
      for (const c of r.changes) out.out(`  ${c.serial}: ${c.from} -> ${c.to}`);
    }
    for (const l of summaryLines(summary)) out.out(l);
    return summary.failed === 0 && summary.updated === o.vehicles;
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

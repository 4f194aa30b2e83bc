/**
 * The fleet simulator: every vehicle is a real Primary (@reflash/vehicle) with file-based ECUs,
 * talking to the server over HTTP (HttpBackend: signed requests, streamed Range downloads),
 * with bounded concurrency. A vehicle runs update cycles until it is updated (a cycle ended in
 * success and the next check-in found nothing more to do) or fails (too many cycles without
 * success). Fault injection:
 * - drop-download: a transfer is cut after a random part of the image (the connection is
 *   dropped); the Primary resumes it with HTTP Range;
 * - power-loss: the vehicle loses power right after a random state transition of its first
 *   cycle (the persisted record is all that survives); it is powered on again (ECUs boot, the
 *   Primary resumes or rolls back from disk) and runs on;
 * - low-battery: the battery starts below the R156 floor and charges while the Primary waits.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FetchError, prng } from '@reflash/metadata';
import { Ecu, HttpBackend, Primary, VSS } from '@reflash/vehicle';
import type { PrivateKeySigner } from '@reflash/metadata';
import type { Backend, ImageInfo, ImageRequest, ImageResponse, Outcome, TransitionObserver, VehicleConfig, VehicleSignals, VssPath, VssValue } from '@reflash/vehicle';
import type { FleetState } from './prepare.js';
import { pool, vehicleDir } from './prepare.js';

export const FAULTS = ['drop-download', 'power-loss', 'low-battery'] as const;
export type Fault = (typeof FAULTS)[number];

export interface SimulateOptions {
  readonly stateDir: string;
  readonly state: FleetState;
  readonly serverUrl: string;
  readonly concurrency: number;
  readonly faults: readonly Fault[];
  /** probability that a fault hits a vehicle (each fault drawn separately) */
  readonly faultRate: number;
  readonly seed: number;
  /** remove each vehicle's folder when it is done (temporary state) */
  readonly cleanup?: boolean;
  /** update cycles per vehicle before it counts as failed */
  readonly maxCycles?: number;
  readonly onVehicleDone?: (r: VehicleResult) => void;
  readonly config?: Partial<VehicleConfig>;
}

export interface EcuChange {
  readonly serial: string;
  readonly from: string;
  readonly to: string;
}

export interface VehicleResult {
  readonly vin: string;
  readonly updated: boolean;
  /** outcome code of the last failing cycle */
  readonly reason?: string;
  readonly cycles: number;
  readonly changes: readonly EcuChange[];
  readonly faults: readonly string[];
}

export interface FleetSummary {
  readonly vehicles: number;
  readonly updated: number;
  readonly failed: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly faultsInjected: Readonly<Record<string, number>>;
  readonly wallMs: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly httpErrors: number;
  readonly results: readonly VehicleResult[];
}

/** Simulator timings: short waits, same limits as a vehicle otherwise. */
export const SIM_CONFIG: Partial<VehicleConfig> = {
  preconditionWait: { baseMs: 20, factor: 2, capMs: 200, maxAttempts: 10 },
  networkRetry: { baseMs: 200, factor: 2, capMs: 2000, maxAttempts: 6 },
  downloadRetry: { baseMs: 50, factor: 2, capMs: 1000, maxAttempts: 8 },
  transferChunkBytes: 64 * 1024,
};


class PowerLoss extends Error {}

/** Parked, stationary; the battery charges 10 % per read from `start`. */
class SimSignals implements VehicleSignals {
  #battery: number;
  constructor(start: number) {
    this.#battery = start;
  }
  get(path: VssPath): Promise<VssValue | undefined> {
    if (path === VSS.speed) return Promise.resolve(0);
    if (path === VSS.selectedGear) return Promise.resolve(126);
    if (path === VSS.tractionBatterySoc) {
      const v = this.#battery;
      this.#battery = Math.min(95, this.#battery + 10);
      return Promise.resolve(v);
    }
    return Promise.resolve(undefined);
  }
}

/** Cut the first transfer of each image after `fraction` of its bytes (connection dropped). */
function dropDownloads(inner: Backend, fraction: number, onDrop: () => void): Backend {
  const dropped = new Set<string>();
  return {
    directorBaseUrl: inner.directorBaseUrl, imageBaseUrl: inner.imageBaseUrl, directorFetcher: inner.directorFetcher, imageFetcher: inner.imageFetcher,
    sendManifest: (m, o) => inner.sendManifest(m, o),
    report: (r) => inner.report(r),
    async downloadImage(image: ImageInfo, req: ImageRequest): Promise<ImageResponse> {
      const res = await inner.downloadImage(image, req);
      if (dropped.has(image.filepath)) return res;
      dropped.add(image.filepath);
      const cutAt = Math.max(1, Math.floor(image.length * fraction));
      async function* cut(): AsyncGenerator<Uint8Array> {
        let sent = res.start;
        for await (const chunk of res.body) {
          if (sent + chunk.byteLength >= cutAt) {
            const n = cutAt - sent;
            if (n > 0) yield chunk.subarray(0, n);
            onDrop();
            throw new FetchError(0, `${image.filepath}: connection dropped at byte ${cutAt} (fault injection)`);
          }
          sent += chunk.byteLength;
          yield chunk;
        }
      }
      return { start: res.start, body: cut() };
    },
  };
}

export interface SimVehicle {
  readonly primary: Primary;
  readonly ecus: readonly Ecu[];
}

/** Power on a provisioned vehicle of the fleet (ECUs boot) and open its Primary over `backend`. */
export async function openSimVehicle(o: {
  readonly stateDir: string;
  readonly state: FleetState;
  readonly vin: string;
  readonly backend: (primaryKey: PrivateKeySigner) => Backend;
  readonly signals?: VehicleSignals;
  readonly config?: Partial<VehicleConfig>;
  readonly onTransition?: TransitionObserver;
}): Promise<SimVehicle> {
  const dir = vehicleDir(o.stateDir, o.vin);
  const ecus: Ecu[] = [];
  for (const e of o.state.ecus) ecus.push(await Ecu.open(join(dir, 'ecus', e.serial)));
  const gateway = ecus[o.state.ecus.findIndex((e) => e.primary)]!;
  const primary = await Primary.open({
    dir: join(dir, 'primary'), vin: o.vin, primaryEcuSerial: gateway.serial, signer: gateway.signer,
    ecus, backend: o.backend(gateway.signer), signals: o.signals ?? new SimSignals(90), hmi: { requestConsent: () => Promise.resolve('accepted') },
    config: o.config ?? SIM_CONFIG,
    ...(o.onTransition === undefined ? {} : { onTransition: o.onTransition }),
  });
  return { primary, ecus };
}

export interface RequestCounter {
  requests: number;
  errors: number;
}

async function runVehicle(o: SimulateOptions, vin: string, rand: () => number, counter: RequestCounter, injected: Record<string, number>): Promise<VehicleResult> {
  const dir = vehicleDir(o.stateDir, vin);
  const faults: string[] = [];
  const hit = (f: Fault): boolean => o.faults.includes(f) && rand() < o.faultRate;
  const drop = hit('drop-download');
  const powerLossAt = hit('power-loss') ? 1 + Math.floor(rand() * 14) : undefined;
  const lowBattery = hit('low-battery');
  const dropFraction = 0.1 + rand() * 0.8;
  const note = (f: string): void => {
    faults.push(f);
    injected[f] = (injected[f] ?? 0) + 1;
  };
  if (lowBattery) note('low-battery');
  const signals = new SimSignals(lowBattery ? 5 : 90);
  let powerCut = powerLossAt;
  const open = (): Promise<SimVehicle> => openSimVehicle({
    stateDir: o.stateDir, state: o.state, vin, signals, config: { ...SIM_CONFIG, ...o.config },
    backend: (signer) => {
      const http = new HttpBackend({
        serverUrl: o.serverUrl, vin, keyId: signer.keyId, privateKey: signer.privateKey,
        onRequest: (r) => {
          counter.requests++;
          if (r.status === 0 || r.status >= 500) counter.errors++;
        },
      });
      return drop ? dropDownloads(http, dropFraction, () => note('drop-download')) : http;
    },
    onTransition: (t) => {
      if (powerCut !== undefined && t.step >= powerCut) {
        powerCut = undefined;
        note('power-loss');
        throw new PowerLoss(`power lost after ${t.from} -> ${t.to}`);
      }
    },
  });
  const before = new Map<string, string>();
  let v = await open();
  for (const e of v.ecus) before.set(e.serial, label(e.running.image));
  let updated = false;
  let reason: string | undefined;
  let cycles = 0;
  let success = false;
  const maxCycles = o.maxCycles ?? 6;
  while (cycles < maxCycles) {
    cycles++;
    let outcome: Outcome;
    try {
      const r = await v.primary.runCycle();
      outcome = r.outcome;
      if (r.record.outcome?.code !== undefined) reason = `${outcome} ${r.record.outcome.code}`;
      else if (outcome !== 'success' && outcome !== 'no-update') reason = outcome;
    } catch (err) {
      if (!(err instanceof PowerLoss)) throw err;
      v = await open(); // power on again: ECUs boot, the Primary resumes from its record
      continue;
    }
    if (outcome === 'success') {
      success = true;
      continue; // one more check-in: the server sees the new images and completes the assignments
    }
    if (outcome === 'no-update') {
      updated = success || v.ecus.every((e) => o.state.ecus.some((x) => x.target.filepath === e.running.image?.filepath));
      if (updated) reason = undefined;
      break;
    }
  }
  const changes = v.ecus.map((e) => ({ serial: e.serial, from: before.get(e.serial) ?? '?', to: label(e.running.image) }));
  if (!updated && reason === undefined) reason = success ? 'no final check-in' : 'not updated';
  if (o.cleanup === true) await rm(dir, { recursive: true, force: true });
  return { vin, updated, cycles, changes, faults, ...(updated || reason === undefined ? {} : { reason }) };
}

function label(image: { readonly filepath: string; readonly releaseCounter?: number } | null | undefined): string {
  if (image === null || image === undefined) return '(none)';
  return `${image.filepath}${image.releaseCounter === undefined ? '' : ` (release ${image.releaseCounter})`}`;
}

export async function simulateFleet(o: SimulateOptions): Promise<FleetSummary> {
  const counter: RequestCounter = { requests: 0, errors: 0 };
  const injected: Record<string, number> = {};
  const results: VehicleResult[] = [];
  const started = performance.now();
  await pool(o.state.vins, o.concurrency, async (vin, i) => {
    let r: VehicleResult;
    try {
      r = await runVehicle(o, vin, prng(o.seed * 7919 + i), counter, injected);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      r = { vin, updated: false, cycles: 0, changes: [], faults: [], reason: `error ${typeof code === 'string' ? code : ''}: ${(err as Error).message}`.slice(0, 200) };
    }
    results.push(r);
    o.onVehicleDone?.(r);
  });
  const wallMs = performance.now() - started;
  const failures: Record<string, number> = {};
  for (const r of results) if (!r.updated) failures[r.reason ?? 'unknown'] = (failures[r.reason ?? 'unknown'] ?? 0) + 1;
  results.sort((a, b) => a.vin.localeCompare(b.vin));
  const updated = results.filter((r) => r.updated).length;
  return {
    vehicles: results.length, updated, failed: results.length - updated, failures, faultsInjected: injected,
    wallMs, requests: counter.requests, requestsPerSecond: counter.requests / (wallMs / 1000), httpErrors: counter.errors, results,
  };
}

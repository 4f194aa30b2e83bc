/**
 * A whole test vehicle on disk (a temp folder): every ECU provisioned with its factory image
 * (release 1) and opened (powered on), the Primary provisioned with both roots, wired to an
 * in-memory backend, fake signals and HMI, a settable clock and a sleep that does not wait
 * (it records the delays and can run a hook, e.g. to make the vehicle safe after some waits).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VehicleConfig } from '../../src/config.js';
import { Ecu } from '../../src/ecu/ecu.js';
import type { EcuOptions } from '../../src/ecu/ecu.js';
import { provisionEcu } from '../../src/ecu/provision.js';
import type { EcuLink } from '../../src/link.js';
import type { TransitionInfo } from '../../src/primary/machine.js';
import { Primary } from '../../src/primary/primary.js';
import type { CycleResult } from '../../src/primary/primary.js';
import { FakeHmi, FakeSignals } from './fakes.js';
import { MemoryBackend } from './memory-backend.js';
import { NOW, PRIMARY_SERIAL, VIN, World } from './world.js';
import type { EcuSpec } from './world.js';

/** Test timings: no real waiting, small limits. */
export const TEST_CONFIG: Partial<VehicleConfig> = {
  preconditionWait: { baseMs: 100, factor: 2, capMs: 1000, maxAttempts: 6 },
  networkRetry: { baseMs: 10, factor: 2, capMs: 100, maxAttempts: 3 },
  downloadRetry: { baseMs: 10, factor: 2, capMs: 100, maxAttempts: 4 },
  transferChunkBytes: 2048,
};

export function ecuDir(root: string, serial: string): string {
  return join(root, 'ecus', serial);
}

export function primaryDir(root: string): string {
  return join(root, 'primary');
}

/** Provision every ECU (factory image = release 1) and the Primary under `root`. */
export async function provisionVehicle(root: string, world: World): Promise<void> {
  for (const e of world.ecus) {
    const factory = world.release(e.hardwareId, 1);
    await provisionEcu(ecuDir(root, e.serial), {
      serial: e.serial, hardwareId: e.hardwareId, verification: e.verification,
      factoryImage: { filepath: factory.path, data: factory.data, releaseCounter: 1 },
      directorRoot: world.directorRoot(), imageRoot: world.imageRoot(), secureTimeMs: NOW,
    });
  }
  await Primary.provision(primaryDir(root), { director: world.directorRoot(), image: world.imageRoot() });
}

export interface TestVehicleOptions {
  readonly world?: World;
  readonly config?: Partial<VehicleConfig>;
  readonly ecuOptions?: (spec: EcuSpec) => EcuOptions;
  /** wrap the ECU links the Primary sees (e.g. an in-vehicle attacker, call recording) */
  readonly wrapLinks?: (ecus: readonly Ecu[]) => readonly EcuLink[];
}

export class TestVehicle {
  readonly dir: string;
  readonly world: World;
  readonly backend: MemoryBackend;
  readonly signals = new FakeSignals();
  readonly hmi = new FakeHmi();
  readonly opts: TestVehicleOptions;
  ecus: Ecu[] = [];
  primary!: Primary;
  /** the vehicle clock (ms) */
  time = NOW + 60_000;
  readonly sleeps: number[] = [];
  onSleep: ((ms: number, count: number) => void) | undefined;
  readonly transitions: TransitionInfo[] = [];
  readonly logs: string[] = [];

  private constructor(dir: string, world: World, opts: TestVehicleOptions) {
    this.dir = dir;
    this.world = world;
    this.backend = new MemoryBackend(world);
    this.opts = opts;
  }

  static async create(opts: TestVehicleOptions = {}): Promise<TestVehicle> {
    const dir = await mkdtemp(join(tmpdir(), 'reflash-vehicle-'));
    const v = new TestVehicle(dir, opts.world ?? new World(), opts);
    await provisionVehicle(dir, v.world);
    await v.open();
    return v;
  }

  /** Power on every ECU and start the Primary (again: a restart resumes from disk). */
  async open(): Promise<void> {
    this.ecus = [];
    for (const e of this.world.ecus) this.ecus.push(await Ecu.open(ecuDir(this.dir, e.serial), this.opts.ecuOptions?.(e) ?? {}));
    const gateway = this.ecu(PRIMARY_SERIAL);
    this.primary = await Primary.open({
      dir: primaryDir(this.dir), vin: VIN, primaryEcuSerial: PRIMARY_SERIAL, signer: gateway.signer,
      ecus: this.opts.wrapLinks?.(this.ecus) ?? this.ecus,
      backend: this.backend, signals: this.signals, hmi: this.hmi,
      clock: () => this.time,
      sleep: (ms) => {
        this.sleeps.push(ms);
        this.onSleep?.(ms, this.sleeps.length);
        return Promise.resolve();
      },
      config: { ...TEST_CONFIG, ...this.opts.config },
      onTransition: (t) => {
        this.transitions.push(t);
      },
      log: (line) => this.logs.push(line),
    });
  }

  ecu(serial: string): Ecu {
    const e = this.ecus.find((x) => x.serial === serial);
    if (e === undefined) throw new Error(`no ECU ${serial}`);
    return e;
  }

  cycle(): Promise<CycleResult> {
    return this.primary.runCycle();
  }

  /** The states entered since `from` (index into transitions). */
  states(from = 0): string[] {
    return this.transitions.slice(from).map((t) => t.to);
  }

  /** The running image path of every ECU. */
  running(): Record<string, string | undefined> {
    return Object.fromEntries(this.ecus.map((e) => [e.serial, e.running.image?.filepath]));
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The Primary (the vehicle's gateway ECU; Uptane 2.1 §5.4.2): runs update cycles with the
 * table-driven machine over its ports. State lives in one folder:
 *
 *   <dir>/primary.json             the state record (record.ts), saved before each side effect
 *   <dir>/metadata/director|image  trusted metadata (roots installed at provisioning)
 *   <dir>/images/<sha256>.img      downloaded images (<name>.part while downloading)
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { Metadata, UsageError } from '@reflash/metadata';
import type { Signer } from '@reflash/metadata';
import { vehicleConfig } from '../config.js';
import type { VehicleConfig } from '../config.js';
import { removeTempFiles } from '../io/atomic.js';
import { FileMetadataStore } from '../io/fs-store.js';
import type { Sleep } from './backoff.js';
import { Machine } from './machine.js';
import type { TransitionObserver } from './machine.js';
import type { Backend, EcuLink, Hmi, Outcome, VehicleSignals } from './ports.js';
import { RecordStore } from './record.js';
import type { PrimaryRecord } from './record.js';

export interface PrimaryOptions {
  readonly dir: string;
  readonly vin: string;
  readonly primaryEcuSerial: string;
  /** the Primary ECU's key (signs vehicle manifests) */
  readonly signer: Signer;
  /** every ECU to update, the Primary's own (serial primaryEcuSerial) included */
  readonly ecus: readonly EcuLink[];
  readonly backend: Backend;
  readonly signals: VehicleSignals;
  readonly hmi: Hmi;
  /** the vehicle's time source (ms); read once per cycle. Default Date.now */
  readonly clock?: () => number;
  readonly sleep?: Sleep;
  readonly config?: Partial<VehicleConfig>;
  readonly onTransition?: TransitionObserver;
  readonly log?: (line: string) => void;
}

export interface CycleResult {
  readonly outcome: Outcome;
  readonly record: PrimaryRecord;
}

export class Primary {
  readonly dir: string;
  readonly #machine: Machine;
  readonly #records: RecordStore;

  private constructor(dir: string, machine: Machine, records: RecordStore) {
    this.dir = dir;
    this.#machine = machine;
    this.#records = records;
  }

  /** Install the trusted roots of both repositories (out of band, at the factory). */
  static async provision(dir: string, roots: { readonly director: Uint8Array; readonly image: Uint8Array }): Promise<void> {
    Metadata.fromBytes(roots.director, 'root');
    Metadata.fromBytes(roots.image, 'root');
    await new FileMetadataStore(join(dir, 'metadata', 'director')).save('root', roots.director);
    await new FileMetadataStore(join(dir, 'metadata', 'image')).save('root', roots.image);
    await mkdir(join(dir, 'images'), { recursive: true });
  }

  static async open(opts: PrimaryOptions): Promise<Primary> {
    if (!opts.ecus.some((e) => e.serial === opts.primaryEcuSerial)) throw new UsageError(`the ECUs must include the Primary's own ECU ${opts.primaryEcuSerial}`);
    if (new Set(opts.ecus.map((e) => e.serial)).size !== opts.ecus.length) throw new UsageError('ECU serials must be unique');
    await mkdir(join(opts.dir, 'images'), { recursive: true });
    for (const d of [opts.dir, join(opts.dir, 'images'), join(opts.dir, 'metadata', 'director'), join(opts.dir, 'metadata', 'image')]) await removeTempFiles(d);
    const records = new RecordStore(opts.dir);
    const machine = new Machine({
      dir: opts.dir,
      vin: opts.vin,
      primaryEcuSerial: opts.primaryEcuSerial,
      signer: opts.signer,
      links: opts.ecus,
      backend: opts.backend,
      signals: opts.signals,
      hmi: opts.hmi,
      clock: opts.clock ?? Date.now,
      sleep: opts.sleep ?? ((ms) => sleepMs(ms)),
      config: vehicleConfig(opts.config),
      directorStore: new FileMetadataStore(join(opts.dir, 'metadata', 'director')),
      imageStore: new FileMetadataStore(join(opts.dir, 'metadata', 'image')),
      log: opts.log ?? (() => undefined),
    }, records, opts.onTransition);
    return new Primary(opts.dir, machine, records);
  }

  /** One update cycle, from wherever the persisted record stands back to idle. */
  async runCycle(): Promise<CycleResult> {
    const record = await this.#machine.runCycle();
    return { outcome: record.outcome?.outcome ?? 'no-update', record };
  }

  record(): Promise<PrimaryRecord> {
    return this.#records.load();
  }
}

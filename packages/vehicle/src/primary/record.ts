/**
 * The Primary's persisted state record (`primary.json`), saved atomically (CONVENTIONS.md §8)
 * BEFORE each side effect: by the machine when a state is entered, and by actions before each
 * further side effect inside a state (e.g. before the next ECU). After a crash the Primary
 * resumes from it (table.ts `resume` rows).
 */
import { join } from 'node:path';
import { expectObject } from '@reflash/metadata';
import type { ImageInfo } from '../digest.js';
import { StateFileError } from '../errors.js';
import { readJsonFile, writeJsonFile } from '../io/json-file.js';
import type { Campaign } from './campaign.js';
import { FRESH_LOOP } from './loop-guard.js';
import type { LoopState } from './loop-guard.js';
import type { Outcome, UpdateReport } from './ports.js';
import { isState } from './table.js';
import type { State } from './table.js';

/** One ECU of the bundle being installed. */
export interface BundleItem {
  readonly ecuSerial: string;
  readonly hardwareId: string;
  /** the verified target (Director and Image repository agree on it) */
  readonly image: ImageInfo;
  /** what the ECU ran when the bundle was planned */
  readonly previous: ImageInfo | null;
  /** the downloaded image, relative to the Primary's folder */
  readonly file: string;
}

/** The ECUs that are updated together: all of them end on the new images, or all on the old. */
export interface Bundle {
  /** identity of the bundle (serials and image hashes), for retry accounting */
  readonly key: string;
  readonly directorTargetsVersion: number;
  readonly items: readonly BundleItem[];
  readonly campaign: Campaign;
}

export interface CycleInfo {
  readonly id: string;
  readonly number: number;
  /** TUF 5.1 / CONVENTIONS.md §4: the reference time, captured once per cycle */
  readonly referenceTime: number;
}

export interface OutcomeInfo {
  readonly outcome: Outcome;
  readonly code?: string;
  readonly reason?: string;
}

export interface PrimaryRecord {
  readonly format: 1;
  readonly state: State;
  readonly cycle: CycleInfo | null;
  /** nonce from the last check-in answer, for the next reports */
  readonly nonce: string | null;
  readonly directorTargetsVersion: number | null;
  readonly bundle: Bundle | null;
  /** position inside a per-item state (download, distribute, install, commit, rollback) */
  readonly cursor: number;
  /** precondition checks made in the current waiting state */
  readonly waits: number;
  readonly consent: 'accepted' | 'declined' | 'forced' | null;
  readonly outcome: OutcomeInfo | null;
  /** refused in this cycle (for the report) */
  readonly attacks: readonly string[];
  /** advanced by actions when they persist real work (loop guard) */
  readonly progress: number;
  readonly loop: LoopState;
  /** cycles that tried this bundle and did not succeed */
  readonly bundleAttempts: { readonly key: string; readonly count: number } | null;
  /** reports not yet delivered */
  readonly outbox: readonly UpdateReport[];
  /** release counter of each ECU's committed image (Uptane 5.4.4.2 step 10.2.3 baseline) */
  readonly releaseCounters: Readonly<Record<string, number>>;
}

export function initialRecord(): PrimaryRecord {
  return {
    format: 1, state: 'idle', cycle: null, nonce: null, directorTargetsVersion: null, bundle: null, cursor: 0, waits: 0,
    consent: null, outcome: null, attacks: [], progress: 0, loop: FRESH_LOOP, bundleAttempts: null, outbox: [], releaseCounters: {},
  };
}

export class RecordStore {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, 'primary.json');
  }

  async load(): Promise<PrimaryRecord> {
    const json = await readJsonFile(this.path);
    if (json === undefined) return initialRecord();
    const o = expectObject(json, this.path);
    if (o['format'] !== 1 || !isState(o['state'])) throw new StateFileError(`${this.path}: not a Primary state record (format 1)`);
    // Written only by save() below (atomic, from a typed value).
    return { ...initialRecord(), ...(o as unknown as PrimaryRecord) };
  }

  async save(r: PrimaryRecord): Promise<void> {
    await writeJsonFile(this.path, r);
  }
}

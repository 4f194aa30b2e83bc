/**
 * The ECU's secure time source (Uptane 2.1 §5.4.3.1 / STANDARDS.md §2: Secondaries need a
 * secure source of time; EVITA HSMs offer UTC time and monotonic counters, §4).
 *
 * Which source: a clock that never goes backwards, made of
 * - a persisted high-water mark (`time.json`, atomic writes), set at provisioning;
 * - plus the time elapsed on a monotonic clock since the ECU booted (performance.now by default:
 *   it never goes backwards while the ECU runs, and is not settable by anyone);
 * - advanced only by verified time: a Director timestamp that passed verification with the
 *   ECU's own trusted root proves it was signed at or after `expires - lifetime` (the Director
 *   signs timestamps with a fixed lifetime, config.directorTimestampLifetimeMs); the mark moves
 *   to that value when it is later than the current secure time, never back.
 * The wall clock of the ECU (settable, spoofable) is never used. Metadata expiry (freeze attack,
 * Uptane 5.4.4.x) is checked against `now()`.
 * Limits: time spent powered off is not counted (the mark is checkpointed while running), so
 * after a long power-off the ECU's time lags until the next verified Director timestamp; a
 * holder of the Director timestamp key could push the time forward (denial of service only,
 * and the same key can withhold updates anyway).
 */
import { expectObject, expectUint } from '@reflash/metadata';
import { readJsonFile, writeJsonFile } from '../io/json-file.js';
import { StateFileError } from '../errors.js';

export type MonotonicClock = () => number;

export const systemMonotonic: MonotonicClock = () => performance.now();

export class SecureTime {
  readonly path: string;
  readonly #mono: MonotonicClock;
  #base: number;
  #monoAtBase: number;

  private constructor(path: string, base: number, mono: MonotonicClock) {
    this.path = path;
    this.#mono = mono;
    this.#base = base;
    this.#monoAtBase = mono();
  }

  /** Provision the high-water mark (manufacturing). */
  static async provision(path: string, timeMs: number): Promise<void> {
    await writeJsonFile(path, { highWaterMs: Math.floor(timeMs) });
  }

  static async open(path: string, mono: MonotonicClock = systemMonotonic): Promise<SecureTime> {
    const json = await readJsonFile(path);
    if (json === undefined) throw new StateFileError(`${path}: no provisioned secure time`);
    return new SecureTime(path, expectUint(expectObject(json, path)['highWaterMs'], `${path}.highWaterMs`), mono);
  }

  /** Secure time (ms since the epoch): never less than any value returned before. */
  now(): number {
    return this.#base + Math.max(0, Math.floor(this.#mono() - this.#monoAtBase));
  }

  /** Persist the current time as the high-water mark, so a restart never goes back before it. */
  async checkpoint(): Promise<void> {
    const t = this.now();
    await writeJsonFile(this.path, { highWaterMs: t });
    this.#base = t;
    this.#monoAtBase = this.#mono();
  }

  /**
   * Move forward to `verifiedTimeMs` (a lower bound proven by verified metadata), durable
   * before it is used. Returns false (and changes nothing) when it is not later than now.
   */
  async advanceTo(verifiedTimeMs: number): Promise<boolean> {
    const t = Math.floor(verifiedTimeMs);
    if (!(t > this.now())) return false;
    await writeJsonFile(this.path, { highWaterMs: t });
    this.#base = t;
    this.#monoAtBase = this.#mono();
    return true;
  }
}

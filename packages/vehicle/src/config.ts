/**
 * Vehicle-side limits and timings, in one place (CONVENTIONS.md §7). Every value can be
 * overridden per vehicle (tests shrink the delays); nothing else in the package hard-codes one.
 */

export interface BackoffPolicy {
  /** first delay (ms) */
  readonly baseMs: number;
  /** each further delay is multiplied by this */
  readonly factor: number;
  /** no single delay is longer than this (bounded backoff) */
  readonly capMs: number;
  /** attempts in total (the first try included) */
  readonly maxAttempts: number;
}

export interface VehicleConfig {
  /**
   * Boots of a 'pending' bank before the bootloader falls back to the previous good bank
   * (STANDARDS.md §3 A/B swap; the U-Boot `bootlimit` idea).
   */
  readonly maxBootAttempts: number;
  /**
   * Loop detection (CONVENTIONS.md §9): the same (state, event) pair taken more than this many
   * times in one cycle without progress sends the machine to 'stuck'.
   */
  readonly loopLimit: number;
  /** Cycles that may try (and roll back) the same bundle before it is blocked as stuck. */
  readonly maxBundleAttempts: number;
  /** UN R156 §7.2: waiting for safe preconditions (vehicle stationary, parked, battery). */
  readonly preconditionWait: BackoffPolicy;
  /** Check-in, metadata and report retries (network). */
  readonly networkRetry: BackoffPolicy;
  /** Image download retries; each retry resumes with HTTP Range. */
  readonly downloadRetry: BackoffPolicy;
  /**
   * Director timestamp lifetime (ms): a verified Director timestamp expiring at E was signed at
   * or after E - lifetime; that lower bound advances an ECU's secure time (ecu/secure-time.ts).
   * The server's default `directorExpiryMs` is one day.
   */
  readonly directorTimestampLifetimeMs: number;
  /**
   * UN R156 §7.2: the battery state of charge (%) below which the vehicle never executes an
   * update, whatever the campaign says (a campaign may only ask for more).
   */
  readonly minBatteryFloorPercent: number;
  /** Chunk size when an image is streamed from the Primary's disk to an ECU bank. */
  readonly transferChunkBytes: number;
}

const SECOND = 1000;

export const DEFAULT_VEHICLE_CONFIG: VehicleConfig = {
  maxBootAttempts: 3,
  loopLimit: 25,
  maxBundleAttempts: 5,
  preconditionWait: { baseMs: 5 * SECOND, factor: 2, capMs: 5 * 60 * SECOND, maxAttempts: 12 },
  networkRetry: { baseMs: 2 * SECOND, factor: 2, capMs: 60 * SECOND, maxAttempts: 5 },
  downloadRetry: { baseMs: 2 * SECOND, factor: 2, capMs: 60 * SECOND, maxAttempts: 8 },
  directorTimestampLifetimeMs: 86_400_000,
  minBatteryFloorPercent: 20,
  transferChunkBytes: 16 * 1024,
};

export function vehicleConfig(overrides: Partial<VehicleConfig> = {}): VehicleConfig {
  return { ...DEFAULT_VEHICLE_CONFIG, ...overrides };
}

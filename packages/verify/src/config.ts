/**
 * Limits, in one place (CONVENTIONS.md §7). Every download states its maximum size (endless
 * data attack, Uptane 4.3.3): metadata beyond these lengths is refused before it is parsed.
 */
export interface Limits {
  /** TUF 5.3.3: at most this many root versions in one update cycle. */
  readonly maxRootRotations: number;
  /** TUF 5.6.7.1: at most this many delegated roles visited per target search. */
  readonly maxDelegations: number;
  readonly rootMaxLength: number;
  readonly timestampMaxLength: number;
  /** used when timestamp META gives no length */
  readonly snapshotMaxLength: number;
  /** used when snapshot META gives no length */
  readonly targetsMaxLength: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxRootRotations: 256,
  maxDelegations: 32,
  rootMaxLength: 512_000,
  timestampMaxLength: 16_384,
  snapshotMaxLength: 2_000_000,
  // ~100,000 Uptane image targets with sha256+sha512 take ~34 MB
  targetsMaxLength: 64_000_000,
};

export function limits(overrides?: Partial<Limits>): Limits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

/**
 * Verification errors, each with a stable code (CONVENTIONS.md §5). Repository faults extend
 * RepositoryError from @reflash/metadata (which also defines FORMAT, UNSIGNED_METADATA,
 * LENGTH_MISMATCH, HASH_MISMATCH, CANONICAL_JSON, SPEC_VERSION); a vehicle's faults in what it
 * reports extend ManifestError.
 */
import { ReflashError, RepositoryError } from '@reflash/metadata';

/** TUF 5.3.10, 5.4.4, 5.5.6, 5.6.5; Uptane 5.4.4.3 step 3 ... 5.4.4.6 step 5 (freeze attack). */
export class ExpiredMetadataError extends RepositoryError {
  constructor(message: string) {
    super('EXPIRED', message);
  }
}

/** A version lower than the trusted one (rollback attack). */
export class RollbackError extends RepositoryError {
  constructor(message: string, code = 'ROLLBACK') {
    super(code, message);
  }
}

/** TUF 5.4.3.1: a timestamp with the trusted version: nothing new (not a failure for clients). */
export class EqualVersionError extends RepositoryError {
  constructor(message: string) {
    super('EQUAL_VERSION', message);
  }
}

/** A version other than the one required (root N+1; snapshot/targets version named in META). */
export class BadVersionError extends RepositoryError {
  constructor(message: string) {
    super('BAD_VERSION', message);
  }
}

/** Delegation errors: a role missing from snapshot, an undelegated role, too many roles. */
export class DelegationError extends RepositoryError {
  constructor(code: 'DELEGATION_MISSING_META' | 'DELEGATION_NOT_DELEGATED' | 'DELEGATION_LIMIT', message: string) {
    super(code, message);
  }
}

/** The target is in no role that the delegation search reached (TUF 5.7.2). */
export class TargetNotFoundError extends RepositoryError {
  constructor(message: string) {
    super('TARGET_NOT_FOUND', message);
  }
}

/** Uptane-specific repository errors (Uptane 2.1 §5.4.4). */
export class UptaneError extends RepositoryError {}

export const UptaneCodes = {
  /** 5.4.4.6 step 6: Director targets metadata must not delegate. */
  DIRECTOR_DELEGATION: 'DIRECTOR_DELEGATION',
  /** 5.4.4.6 step 7: an ECU identifier is listed more than once. */
  DUPLICATE_ECU_ID: 'DUPLICATE_ECU_ID',
  /** 5.4.4.6 step 8: an ECU identifier that is not part of this vehicle. */
  BAD_ECU_ID: 'BAD_ECU_ID',
  /** §5.2.3.1.1: a Director target names no ECU. */
  MISSING_ECU_ID: 'MISSING_ECU_ID',
  /** 5.4.4.2 step 10.2.2 / 5.4.3.4 step 3: hardware identifier mismatch. */
  BAD_HARDWARE_ID: 'BAD_HARDWARE_ID',
  /** 5.4.4.2 step 10.1: the Director names an image the Image repository does not have. */
  TARGET_NOT_IN_IMAGE_REPO: 'TARGET_NOT_IN_IMAGE_REPO',
  /** 5.4.4.2 step 10.2.1 / 10.2.2: length, hashes or SHALL-match custom fields differ. */
  TARGET_MISMATCH: 'TARGET_MISMATCH',
  /** 5.4.4.3 / TUF 5.3.3: more Director root versions than maxRootRotations in one cycle. */
  ROOT_ROTATIONS: 'ROOT_ROTATIONS',
  /** 5.4.4.2 step 10.2.3 / 5.4.3.4 step 5: release counter decreased. */
  RELEASE_COUNTER_ROLLBACK: 'RELEASE_COUNTER_ROLLBACK',
} as const;

export function uptaneError(code: keyof typeof UptaneCodes, message: string): UptaneError {
  return new UptaneError(UptaneCodes[code], message);
}

/** What a vehicle sent is wrong (forged, replayed, inconsistent): the vehicle is at fault. */
export class ManifestError extends ReflashError {}

export const ManifestCodes = {
  VIN_MISMATCH: 'MANIFEST_VIN_MISMATCH',
  PRIMARY_MISMATCH: 'MANIFEST_PRIMARY_MISMATCH',
  BAD_SIGNATURE: 'MANIFEST_BAD_SIGNATURE',
  UNKNOWN_ECU: 'MANIFEST_UNKNOWN_ECU',
  SERIAL_MISMATCH: 'MANIFEST_SERIAL_MISMATCH',
  COUNTER_REPLAY: 'MANIFEST_COUNTER_REPLAY',
  NONCE_MISMATCH: 'MANIFEST_NONCE_MISMATCH',
} as const;

export function manifestError(code: keyof typeof ManifestCodes, message: string): ManifestError {
  return new ManifestError(ManifestCodes[code], message);
}

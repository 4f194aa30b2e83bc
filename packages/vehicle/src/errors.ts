/**
 * Vehicle errors by who is at fault (CONVENTIONS.md §5), each with a stable code; `cause` kept.
 * Repository and download faults stay the classes of @reflash/metadata and @reflash/verify.
 * - EcuRefusedError: an ECU refused metadata or an image (its own verification failed): the
 *   repository, the Primary or the in-vehicle network is at fault. Carries the code of the
 *   underlying verification error (e.g. UNSIGNED_METADATA, BAD_HARDWARE_ID).
 * - EcuError: the ECU cannot do what was asked in its current state (no approved image, no
 *   good bank to fall back to, a bank that does not read back as written).
 * - StateFileError: a persisted state file is missing or malformed.
 * - IllegalTransitionError: an action emitted an event its state does not accept (a bug).
 */
import { ReflashError } from '@reflash/metadata';

export class EcuRefusedError extends ReflashError {
  readonly ecuSerial: string;
  constructor(ecuSerial: string, code: string, message: string, options?: { cause?: unknown }) {
    super(code, `ECU ${ecuSerial} refused: ${message}`, options);
    this.ecuSerial = ecuSerial;
  }
}

export const EcuCodes = {
  NO_APPROVED_IMAGE: 'ECU_NO_APPROVED_IMAGE',
  NOT_INSTALLABLE: 'ECU_NOT_INSTALLABLE',
  READBACK_MISMATCH: 'ECU_READBACK_MISMATCH',
  NOT_RUNNING_PENDING: 'ECU_NOT_RUNNING_PENDING',
  ROLLBACK_IMPOSSIBLE: 'ECU_ROLLBACK_IMPOSSIBLE',
  BAD_BANK_RECORD: 'ECU_BAD_BANK_RECORD',
} as const;

export class EcuError extends ReflashError {
  constructor(code: (typeof EcuCodes)[keyof typeof EcuCodes], message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class StateFileError extends ReflashError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STATE_FILE', message, options);
  }
}

export class IllegalTransitionError extends ReflashError {
  constructor(state: string, event: string) {
    super('ILLEGAL_TRANSITION', `state ${state} does not accept event ${event}`);
  }
}

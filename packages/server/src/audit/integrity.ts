/**
 * Integrity alerts: the stored log disagrees with itself or with what the log already signed.
 * The integrator then refuses to sign (src/audit/README.md "Tampering"). Codes are stable: they
 * label the reflash_log_alerts_total metric and the `alert` field of the error log line.
 */
export const ALERT_CODES = {
  LOG_TAMPER_CHECKPOINT: 'the latest stored checkpoint does not verify with the log key, or its size or root column differs from the signed note',
  LOG_TAMPER_ROLLBACK: 'the latest stored checkpoint is older than one this process signed, or than the integrated leaves',
  LOG_TAMPER_LEAF: 'stored entry bytes do not hash to the stored leaf hash',
  LOG_TAMPER_NODE: 'a stored tree node differs from the hash recomputed from the entries, or is missing',
  LOG_TAMPER_ROOT: 'the root recomputed from stored data differs from the signed or computed root',
  LOG_TAMPER_CONSISTENCY: 'the consistency proof built from storage does not link the signed checkpoint to the new root',
} as const;

export type AlertCode = keyof typeof ALERT_CODES;

export class LogIntegrityError extends Error {
  readonly code: AlertCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: AlertCode, message: string, details: Readonly<Record<string, unknown>> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
    this.name = 'LogIntegrityError';
  }
}

/**
 * Errors by who is at fault (CONVENTIONS.md §5). Every error carries a stable `code` from the
 * catalogue below; `cause` is kept.
 *
 * - LogProofError: a Merkle proof, root or tree size does not verify (the log, or whoever
 *   produced the proof, is at fault).
 * - LogFormatError: bytes from outside (note, checkpoint, receipt, tile, key string) do not parse.
 * - LogSignatureError: a signature is invalid, or too few trusted signatures are present.
 * - LogStorageError: our own storage (a HashReader) answered inconsistently.
 * - LogUsageError: the caller (programmer) misused the API.
 */

/** Every code this package throws, with what it means. Codes are stable API. */
export const LOG_ERROR_CODES = {
  LOG_BAD_HASH_LENGTH: 'a hash is not 32 bytes',
  LOG_BAD_TREE_SIZE: 'a tree size is not an integer in [0, 2^53-1], or size1 > size2',
  LOG_INDEX_OUT_OF_RANGE: 'a leaf index is not an integer below the tree size',
  LOG_PROOF_TOO_LONG: 'a proof has more hashes than the path it proves',
  LOG_PROOF_TOO_SHORT: 'a proof has fewer hashes than the path it proves',
  LOG_BAD_INCLUSION_PROOF: 'an inclusion proof does not lead to the root hash',
  LOG_BAD_CONSISTENCY_PROOF: 'a consistency proof does not lead to both root hashes',
  LOG_EMPTY_TREE_CONSISTENCY: 'a consistency proof from the empty tree proves nothing',
  LOG_ROOT_MISMATCH: 'two root hashes for the same tree size differ',
  LOG_ROLLBACK: 'a newer checkpoint has a smaller tree than an older one',
  LOG_ORIGIN_MISMATCH: 'a checkpoint names another log (origin) than expected',
  LOG_MALFORMED_NOTE: 'a signed note does not follow c2sp.org/signed-note',
  LOG_MALFORMED_CHECKPOINT: 'a checkpoint body does not follow c2sp.org/tlog-checkpoint',
  LOG_MALFORMED_RECEIPT: 'a receipt does not follow c2sp.org/tlog-proof',
  LOG_MALFORMED_TILE: 'a tile, tile path or entry bundle does not follow c2sp.org/tlog-tiles',
  LOG_MALFORMED_KEY: 'a signer or verifier key string is malformed',
  LOG_BAD_SIGNATURE: 'a signature from a known key does not verify',
  LOG_NO_TRUSTED_SIGNATURE: 'no signature from a trusted key verifies',
  LOG_COSIGNATURE_THRESHOLD: 'fewer witnesses than required cosigned the checkpoint',
  LOG_COSIGNATURE_IN_FUTURE: 'a cosignature timestamp lies after the reference time',
  LOG_STORAGE_BAD_READ: 'a HashReader returned the wrong number or size of hashes',
  LOG_INVALID_ARGUMENT: 'the caller passed an argument outside the documented domain',
} as const;

export type LogErrorCode = keyof typeof LOG_ERROR_CODES;

export class LogError extends Error {
  readonly code: LogErrorCode;
  constructor(code: LogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A proof, root or size does not verify: the log (or the proof's producer) is at fault. */
export class LogProofError extends LogError {}

/** Bytes from outside do not parse (note, checkpoint, receipt, tile, key string). */
export class LogFormatError extends LogError {}

/** A signature is invalid, or the trusted signatures do not reach what is required. */
export class LogSignatureError extends LogError {}

/** Our own storage answered inconsistently (wrong count or size of node hashes). */
export class LogStorageError extends LogError {}

/** The caller misused the API (arguments outside the documented domain). */
export class LogUsageError extends LogError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LOG_INVALID_ARGUMENT', message, options);
  }
}

/**
 * Errors by who is at fault (CONVENTIONS.md §5). Every error carries a stable `code`.
 *
 * - RepositoryError: the repository (or whoever controls the bytes it served) is at fault:
 *   malformed or badly signed metadata, expiry, rollback, mismatching hashes, Uptane checks.
 * - DownloadError: the transport failed (status codes, truncated or endless data).
 * - UsageError: the caller (programmer) misused the API.
 */
export class ReflashError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Programmer misuse (wrong arguments, calls in the wrong order). */
export class UsageError extends ReflashError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, options);
  }
}

/** Base for every error caused by what a repository served. */
export class RepositoryError extends ReflashError {}

/** Metadata that does not parse or does not have the shape the specification requires. */
export class FormatError extends RepositoryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FORMAT', message, options);
  }
}

/** Canonical JSON cannot represent the value (floats, lone surrogates, non-JSON types). */
export class CanonicalizationError extends RepositoryError {
  constructor(message: string) {
    super('CANONICAL_JSON', message);
  }
}

/** A role's signatures do not reach its threshold of distinct trusted keys. */
export class UnsignedMetadataError extends RepositoryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNSIGNED_METADATA', message, options);
  }
}

/** A metadata file names a spec_version this client does not implement. */
export class SpecVersionError extends RepositoryError {
  constructor(message: string) {
    super('SPEC_VERSION', message);
  }
}

export class DownloadError extends ReflashError {}

/** More bytes than the metadata or the configured limit allow (endless data attack). */
export class DownloadLengthError extends DownloadError {
  constructor(message: string) {
    super('DOWNLOAD_TOO_LARGE', message);
  }
}

/** The server answered with an error status (404 ends the root loop, TUF 5.3.3). */
export class FetchError extends DownloadError {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super('FETCH_FAILED', message, options);
    this.status = status;
  }
}

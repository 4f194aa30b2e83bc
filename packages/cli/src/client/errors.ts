/**
 * Errors of the HTTP clients (admin and device), at the seam where foreign errors become the
 * project's own (CONVENTIONS.md §7): the server's coded errors (`{"error": {"code", "message"}}`,
 * catalogue in packages/server/src/errors.ts) keep their code and status; a network failure is
 * SERVER_UNREACHABLE, no progress for too long is TIMEOUT, an answer that is not what the
 * contract says is BAD_RESPONSE.
 */
import { FormatError, ReflashError } from '@reflash/metadata';

export class ApiClientError extends ReflashError {
  /** HTTP status, or 0 when no answer came */
  readonly status: number;
  readonly details: unknown;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.details = options?.details;
  }
}

/** The error for a non-2xx answer; `body` is the (possibly empty or non-JSON) response body. */
export function errorFromResponse(status: number, statusText: string, body: Uint8Array, what: string): ApiClientError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): the status is all there is to say.
    parsed = undefined;
  }
  const e = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
  if (typeof e === 'object' && e !== null) {
    const { code, message, details } = e as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof code === 'string' && typeof message === 'string') {
      return new ApiClientError(code, status, `${message} (${what}: HTTP ${status})`, { details });
    }
  }
  return new ApiClientError(`HTTP_${status}`, status, `${what}: HTTP ${status}${statusText === '' ? '' : ` ${statusText}`}`);
}

/**
 * Read a server answer with the shape checks of @reflash/metadata; a malformed answer is a
 * BAD_RESPONSE (the server broke the contract), not a repository error.
 */
export function readResponse<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FormatError) throw new ApiClientError('BAD_RESPONSE', 0, `${what}: unexpected answer: ${err.message}`, { cause: err });
    throw err;
  }
}

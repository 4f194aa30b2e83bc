/**
 * The verify package's Fetcher over Node's global fetch (undici). Every download states its
 * maximum size (CONVENTIONS.md §7; TUF 5.3.3 "up to some W number of bytes"; Uptane 4.3.3
 * endless data attack): an announced Content-Length above it fails before the body is read, and
 * the body is cut off (connection aborted) as soon as more bytes arrive. Nothing beyond
 * `maxLength` is ever buffered. Foreign errors become the project's own at this seam:
 * HTTP status -> FetchError(status), network failure or timeout -> FetchError(0, {cause}),
 * too many bytes -> DownloadLengthError.
 */
import { DownloadLengthError, FetchError, UsageError } from '@reflash/metadata';
import type { Fetcher } from '@reflash/verify';

/** Default inactivity timeout: no response headers or no body bytes for this long aborts. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface HttpFetcherOptions {
  /** Abort when no progress (headers, then each body chunk) is made for this long. Default 30 s. */
  readonly timeoutMs?: number;
  /** Optional cap on the whole transfer (slow retrieval attack); none by default. */
  readonly totalTimeoutMs?: number;
  readonly userAgent?: string;
}

/** A Fetcher that can also stream, for targets too large to hold in memory. */
export interface StreamingFetcher extends Fetcher {
  /** The body at `url` in chunks; fails with DownloadLengthError past `maxLength` bytes. */
  stream(url: string, maxLength: number): AsyncGenerator<Uint8Array, void, undefined>;
}

class Timeout extends Error {}

/** The chunks of a body as one byte array (no copy for a single chunk). */
export function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export class HttpFetcher implements StreamingFetcher {
  readonly timeoutMs: number;
  readonly totalTimeoutMs: number | undefined;
  readonly userAgent: string;

  constructor(opts: HttpFetcherOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.totalTimeoutMs = opts.totalTimeoutMs;
    this.userAgent = opts.userAgent ?? 'reflash';
    if (!(this.timeoutMs > 0)) throw new UsageError('timeoutMs must be positive');
  }

  async fetch(url: string, maxLength: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of this.stream(url, maxLength)) {
      chunks.push(chunk);
      total += chunk.byteLength;
    }
    return concat(chunks, total);
  }

  async *stream(url: string, maxLength: number): AsyncGenerator<Uint8Array, void, undefined> {
    if (!Number.isSafeInteger(maxLength) || maxLength < 0) throw new UsageError(`maxLength must be a non-negative integer, got ${maxLength}`);
    const controller = new AbortController();
    let idle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(new Timeout(`no data for ${this.timeoutMs} ms`)), this.timeoutMs);
    };
    const deadline = this.totalTimeoutMs === undefined
      ? undefined
      : setTimeout(() => controller.abort(new Timeout(`transfer took longer than ${this.totalTimeoutMs} ms`)), this.totalTimeoutMs);
    const failed = (err: unknown): FetchError => {
      const reason: unknown = controller.signal.reason;
      if (controller.signal.aborted && reason instanceof Timeout) return new FetchError(0, `${url}: timed out: ${reason.message}`, { cause: reason });
      const msg = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
      return new FetchError(0, `${url}: ${msg}`, { cause: err });
    };
    let finished = false;
    try {
      arm();
      let res: Response;
      try {
        res = await fetch(url, {
          signal: controller.signal,
          redirect: 'follow',
          // Identity encoding: lengths and hashes in metadata are of the bytes as served.
          headers: { 'user-agent': this.userAgent, 'accept-encoding': 'identity' },
        });
      } catch (err) {
        throw failed(err);
      }
      if (!res.ok) {
        throw new FetchError(res.status, `${url}: HTTP ${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}`);
      }
      const announced = res.headers.get('content-length');
      if (announced !== null && res.headers.get('content-encoding') === null && /^\d+$/.test(announced) && Number(announced) > maxLength) {
        throw new DownloadLengthError(`${url}: Content-Length ${announced} exceeds the limit of ${maxLength} bytes`);
      }
      if (res.body === null) {
        finished = true;
        return;
      }
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let total = 0;
      for (;;) {
        arm();
        const r = await reader.read().catch((err: unknown) => {
          throw failed(err);
        });
        if (r.done) break;
        total += r.value.byteLength;
        // Cut off as soon as the limit is passed: the rest is never read.
        if (total > maxLength) throw new DownloadLengthError(`${url}: more than ${maxLength} bytes`);
        yield r.value;
      }
      finished = true;
    } finally {
      clearTimeout(idle);
      clearTimeout(deadline);
      // Anything unfinished (error, limit, consumer stopped early) drops the connection.
      if (!finished) controller.abort(new Error('download abandoned'));
    }
  }
}

/**
 * One HTTP exchange over the global fetch with the limits every download states
 * (CONVENTIONS.md §7): an inactivity timeout (no response headers, or no body bytes, for
 * `timeoutMs`), and a maximum response size (more is refused before or while reading, never
 * buffered). Request bodies may be bytes or a stream (then `Content-Length` must be given).
 */
import { DownloadLengthError, FetchError } from '@reflash/metadata';
import { ApiClientError, errorFromResponse } from './errors.js';
import { concat } from '../io/http-fetcher.js';

export const DEFAULT_TIMEOUT_MS = 30_000;
/** Largest JSON answer an admin request reads (metadata with 100k targets is ~33 MiB). */
export const DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024;

class Timeout extends Error {}

export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | AsyncIterable<Uint8Array>;
  readonly timeoutMs?: number;
  readonly maxLength?: number;
  /** called with the bytes of a streamed request body as they are sent */
  readonly onSent?: (bytes: number) => void;
}

export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
}


/**
 * Send a request and read the whole (bounded) answer, whatever its status. Network failures
 * and timeouts are ApiClientError SERVER_UNREACHABLE / TIMEOUT (status 0); an answer past
 * `maxLength` is a DownloadLengthError.
 */
export async function exchange(req: HttpRequest): Promise<HttpResponse> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxLength = req.maxLength ?? DEFAULT_MAX_RESPONSE;
  const controller = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => controller.abort(new Timeout(`no progress for ${timeoutMs} ms`)), timeoutMs);
  };
  const failed = (err: unknown): Error => {
    const reason: unknown = controller.signal.reason;
    if (controller.signal.aborted && reason instanceof Timeout) {
      return new ApiClientError('TIMEOUT', 0, `${req.method} ${req.url}: ${reason.message}`, { cause: reason });
    }
    if (sourceError !== undefined) return sourceError.error instanceof Error ? sourceError.error : new Error(String(sourceError.error));
    if (err instanceof DownloadLengthError || err instanceof ApiClientError) return err;
    const msg = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
    return new ApiClientError('SERVER_UNREACHABLE', 0, `${req.method} ${req.url}: ${msg}`, { cause: err });
  };
  let body: Uint8Array | AsyncIterable<Uint8Array> | undefined = req.body;
  /** an error of the request body's source (a file read), reported as itself */
  let sourceError: { error: unknown } | undefined;
  if (body !== undefined && !(body instanceof Uint8Array)) {
    const source = body;
    const onSent = req.onSent;
    body = (async function* progress() {
      try {
        for await (const chunk of source) {
          arm(); // sending is progress too
          onSent?.(chunk.byteLength);
          yield chunk;
        }
      } catch (err) {
        sourceError = { error: err };
        throw err;
      }
    })();
  }
  let done = false;
  try {
    arm();
    let res: Response;
    try {
      // `duplex: 'half'` is what undici needs for a streamed body (not in the DOM typings).
      const init: RequestInit & { duplex?: 'half' } = {
        method: req.method,
        headers: { 'accept-encoding': 'identity', 'user-agent': 'reflash-cli', ...req.headers },
        signal: controller.signal,
        redirect: 'error',
      };
      if (body !== undefined) {
        init.body = body as NonNullable<RequestInit['body']>;
        if (!(body instanceof Uint8Array)) init.duplex = 'half';
      }
      res = await fetch(req.url, init);
    } catch (err) {
      throw failed(err);
    }
    const announced = res.headers.get('content-length');
    if (announced !== null && /^\d+$/.test(announced) && Number(announced) > maxLength) {
      throw new DownloadLengthError(`${req.method} ${req.url}: answer of ${announced} bytes exceeds the limit of ${maxLength}`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body !== null) {
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        arm();
        let r: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
        try {
          r = await reader.read();
        } catch (err) {
          throw failed(err);
        }
        if (r.done) break;
        total += r.value.byteLength;
        if (total > maxLength) throw new DownloadLengthError(`${req.method} ${req.url}: answer exceeds the limit of ${maxLength} bytes`);
        chunks.push(r.value);
      }
    }
    done = true;
    return { status: res.status, statusText: res.statusText, headers: res.headers, body: concat(chunks, total) };
  } finally {
    clearTimeout(idle);
    if (!done) controller.abort(new Error('request abandoned'));
  }
}

/** Throw the server's coded error unless the status is 2xx. */
export function expectOk(res: HttpResponse, what: string): HttpResponse {
  if (res.status < 200 || res.status > 299) throw errorFromResponse(res.status, res.statusText, res.body, what);
  return res;
}

/** For Fetcher implementations: a non-2xx status is a FetchError carrying the status. */
export function expectOkForFetcher(res: HttpResponse, url: string): Uint8Array {
  if (res.status < 200 || res.status > 299) {
    throw new FetchError(res.status, `${url}: HTTP ${res.status}`, { cause: errorFromResponse(res.status, res.statusText, res.body, url) });
  }
  return res.body;
}

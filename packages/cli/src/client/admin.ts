/**
 * The operator's HTTP client for the server's admin API (docs/SERVER-API.md): a base URL and an
 * API token (`Authorization: Bearer rft_...`), JSON in and out, the server's coded errors as
 * ApiClientError(code, status, message). The token is never printed or put in an error.
 */
import { readFile } from 'node:fs/promises';
import { UsageError, normaliseBaseUrl, parseJSON } from '@reflash/metadata';
import { ApiClientError, readResponse } from './errors.js';
import { DEFAULT_TIMEOUT_MS, exchange, expectOk } from './http.js';
import type { HttpResponse } from './http.js';

export interface AdminClientOptions {
  /** e.g. http://127.0.0.1:8080 (a trailing slash is dropped) */
  readonly baseUrl: string;
  readonly token?: string | undefined;
  /** inactivity timeout per request, ms */
  readonly timeoutMs?: number;
}

export interface TokenSources {
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
}

/** The API token: --token, else --token-file, else REFLASH_TOKEN; undefined if none. */
export async function resolveToken(src: TokenSources, env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  if (src.token !== undefined && src.token !== '') return src.token.trim();
  if (src.tokenFile !== undefined) {
    let text: string;
    try {
      text = await readFile(src.tokenFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the token file ${src.tokenFile}: ${(err as Error).message}`, { cause: err });
    }
    const t = text.trim();
    if (t === '') throw new UsageError(`the token file ${src.tokenFile} is empty`);
    return t;
  }
  const fromEnv = env['REFLASH_TOKEN'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv.trim();
}

/** `/api/v1/images/` + each path segment percent-encoded (slashes kept). */
export function encodePath(path: string): string {
  return path.split('/').map((s) => encodeURIComponent(s)).join('/');
}

export class AdminClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #token: string | undefined;

  constructor(opts: AdminClientOptions) {
    this.baseUrl = normaliseBaseUrl(opts.baseUrl);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#token = opts.token;
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  #headers(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...extra };
    if (this.#token !== undefined) h['authorization'] = `Bearer ${this.#token}`;
    return h;
  }

  /** Any request; the answer must be 2xx. */
  async send(method: string, path: string, opts: {
    body?: Uint8Array | AsyncIterable<Uint8Array>;
    headers?: Readonly<Record<string, string>>;
    maxLength?: number;
    onSent?: (bytes: number) => void;
  } = {}): Promise<HttpResponse> {
    const res = await exchange({
      method,
      url: `${this.baseUrl}${path}`,
      headers: this.#headers(opts.headers),
      timeoutMs: this.timeoutMs,
      ...(opts.body === undefined ? {} : { body: opts.body }),
      ...(opts.maxLength === undefined ? {} : { maxLength: opts.maxLength }),
      ...(opts.onSent === undefined ? {} : { onSent: opts.onSent }),
    });
    return expectOk(res, `${method} ${path}`);
  }

  /** JSON answer of a request with an optional JSON body. */
  async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.send(method, path, body === undefined
      ? {}
      : { body: Buffer.from(JSON.stringify(body), 'utf8'), headers: { 'content-type': 'application/json' } });
    return parseBody(res, `${method} ${path}`);
  }

  get(path: string): Promise<unknown> {
    return this.json('GET', path);
  }

  /** Raw bytes (metadata for offline signing: the exact bytes the server holds). */
  async getBytes(path: string, maxLength?: number): Promise<Uint8Array> {
    return (await this.send('GET', path, maxLength === undefined ? {} : { maxLength })).body;
  }

  /** PUT bytes that already are JSON (signed metadata: sent exactly as serialised). */
  async putJSONBytes(path: string, bytes: Uint8Array): Promise<unknown> {
    const res = await this.send('PUT', path, { body: bytes, headers: { 'content-type': 'application/json' } });
    return parseBody(res, `PUT ${path}`);
  }
}

function parseBody(res: HttpResponse, what: string): unknown {
  if (res.body.byteLength === 0) return undefined;
  return readResponse(what, () => parseJSON(res.body, what));
}

export { ApiClientError };

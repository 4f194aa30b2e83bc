/**
 * The Backend port over HTTP (docs/SERVER-API.md device API), with the small HTTP/1.1 client of
 * http-client.ts (node:net/node:tls, one reused read buffer: no fetch/undici, whose WebStreams
 * and per-read buffers cost the Primary tens of MiB of RSS during a 1 GiB download):
 * - every request is signed with the Primary ECU's registered key (RFC 9421 HTTP Message
 *   Signatures, fresh nonce, created = now; RFC 9530 Content-Digest for bodies) via
 *   @reflash/metadata signRequest, and only for this backend's own server origin;
 * - metadata Fetchers for the Director (`/repo/director/{vin}/`) and the Image repository
 *   (`/repo/image/`), bounded by the size limit every download states (never buffered past it);
 * - images streamed (`GET /repo/image/targets/<dir>/<sha256>.<name>`, Range `bytes=N-` when
 *   resuming; 206 resumes, 200 restarts): the body is handed to the Primary chunk by chunk and the
 *   connection is dropped when the Primary stops reading (primary/download.ts bounds and hashes);
 * - an inactivity timeout on every exchange (no headers or no body bytes for `timeoutMs`);
 * - redirects are not followed (a 3xx is a FetchError with its status).
 * Network failures and non-2xx statuses are FetchError (a DownloadError: the Primary retries).
 */
import type { KeyObject } from 'node:crypto';
import { DownloadLengthError, FetchError, UsageError, expectObject, normaliseBaseUrl, parseJSON, signRequest } from '@reflash/metadata';
import type { VehicleManifest } from '@reflash/metadata';
import type { Fetcher } from '@reflash/verify';
import type { ImageInfo } from '../digest.js';
import type { Backend, CycleProgress, ImageRequest, ImageResponse, LogReceipt, ManifestAnswer, SendManifestOptions, UpdateReport } from '../primary/ports.js';
import { httpRequest } from './http-client.js';
import type { HttpResponse } from './http-client.js';

export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
/** Largest answer to a manifest upload or an event. */
const MAX_ANSWER = 64 * 1024;
/** Largest answer to a manifest upload that asks for the Director metadata (the server sends at most 1 MiB of files). */
const MAX_ANSWER_WITH_DIRECTOR = 2 * 1024 * 1024;
/** How long Director files from a check-in answer are served to the Primary's verification. */
export const DIRECTOR_ANSWER_TTL_MS = 60_000;
/** A Director file name as the server serves them. */
const DIRECTOR_NAME = /^(?:\d{1,10}\.root|timestamp|\d{1,10}\.snapshot|\d{1,10}\.targets)\.json$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * How a cycle's outcome is reported (POST /device/v1/events status): the server ends the
 * assignment as failed, rolled back (previous software restored), declined (by the user, old
 * software stays) or downloaded (download-only campaign); a preconditions timeout leaves it
 * open (the vehicle waits for a safe moment, R156 §7.2) and is reported as campaign progress.
 * 'success' shows in the next manifest; 'no-update' and 'offline' are not reported.
 */
const EVENT_STATUS: Partial<Record<UpdateReport['outcome'], string>> = {
  'rolled-back': 'rolled-back',
  declined: 'declined',
  rejected: 'failed',
  blocked: 'failed',
  stuck: 'failed',
  downloaded: 'downloaded',
  'preconditions-timeout': 'waiting-preconditions',
};

export interface RequestInfo {
  readonly method: string;
  /** path and query */
  readonly path: string;
  /** HTTP status, 0 when there was no answer */
  readonly status: number;
}

export interface HttpBackendOptions {
  /** e.g. http://127.0.0.1:8080 */
  readonly serverUrl: string;
  readonly vin: string;
  /** TUF key id of the Primary ECU's registered key */
  readonly keyId: string;
  /** the Primary ECU's private key (ed25519 or ECDSA P-256) */
  readonly privateKey: KeyObject;
  /** clock for `created` (ms); default Date.now */
  readonly now?: () => number;
  /** inactivity timeout per exchange (ms) */
  readonly timeoutMs?: number;
  /** trusted CA certificates for an https server (default: Node's bundled list) */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** called once per request (its answer's status), e.g. to count requests */
  readonly onRequest?: (info: RequestInfo) => void;
}

/** `dir/<sha256>.<name>` with each path segment percent-encoded (consistent snapshot name). */
export function hashPrefixedPath(image: ImageInfo): string {
  const sha = image.hashes['sha256'];
  const hash = sha === undefined ? image.hashes['sha512'] : sha;
  if (hash === undefined) throw new UsageError(`${image.filepath}: no sha256 or sha512 to name the download`);
  const parts = image.filepath.split('/');
  const name = parts.pop()!;
  return [...parts, `${hash}.${name}`].map((s) => encodeURIComponent(s)).join('/');
}

interface Open {
  readonly res: HttpResponse;
  /** the error to throw for a failure of this exchange (network errors become FetchError 0) */
  readonly failed: (err: unknown) => Error;
}

export class HttpBackend implements Backend {
  readonly serverUrl: string;
  readonly vin: string;
  readonly directorBaseUrl: string;
  readonly imageBaseUrl: string;
  readonly directorFetcher: Fetcher;
  readonly imageFetcher: Fetcher;
  readonly #keyId: string;
  readonly #privateKey: KeyObject;
  readonly #now: () => number;
  readonly #timeoutMs: number;
  readonly #origin: string;
  readonly #ca: HttpBackendOptions['ca'];
  readonly #onRequest: ((info: RequestInfo) => void) | undefined;
  /** Director files from the last check-in answer (each served once, until `until`) */
  #answered: { readonly files: Map<string, Uint8Array>; readonly rootVersion: number; readonly until: number } | undefined;

  constructor(opts: HttpBackendOptions) {
    if (opts.privateKey.type !== 'private') throw new UsageError('HttpBackend needs the Primary\'s private key');
    this.serverUrl = normaliseBaseUrl(opts.serverUrl);
    this.vin = opts.vin;
    this.#keyId = opts.keyId;
    this.#privateKey = opts.privateKey;
    this.#now = opts.now ?? Date.now;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    this.#origin = new URL(this.serverUrl).origin;
    this.#ca = opts.ca;
    this.#onRequest = opts.onRequest;
    this.directorBaseUrl = `${this.serverUrl}/repo/director/${encodeURIComponent(opts.vin)}/`;
    this.imageBaseUrl = `${this.serverUrl}/repo/image/`;
    this.directorFetcher = { fetch: (url, maxLength) => this.#fetchDirector(url, maxLength) };
    this.imageFetcher = { fetch: (url, maxLength) => this.#fetchBytes('GET', url, undefined, maxLength) };
  }

  /** Send a signed request and read the answer's head; the caller reads the body (or not) and closes it. */
  async #open(method: string, url: string, body: Uint8Array | undefined, extraHeaders: Readonly<Record<string, string>> = {}): Promise<Open> {
    const u = new URL(url);
    if (u.origin !== this.#origin) throw new UsageError(`${url} is not on ${this.#origin}: the vehicle key signs only for its own server`);
    const path = `${u.pathname}${u.search}`;
    const sig = signRequest({ method, url: path, body, keyid: this.#keyId, privateKey: this.#privateKey, nowSeconds: Math.floor(this.#now() / 1000) });
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'reflash-vehicle', ...sig, ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const failed = (err: unknown): Error => {
      if (err instanceof FetchError || err instanceof DownloadLengthError || err instanceof UsageError) return err;
      const msg = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
      return new FetchError(0, `${method} ${path}: ${msg}`, { cause: err });
    };
    let res: HttpResponse;
    try {
      res = await httpRequest({ method, url: u, headers, timeoutMs: this.#timeoutMs, ...(body === undefined ? {} : { body }), ...(this.#ca === undefined ? {} : { ca: this.#ca }) });
    } catch (err) {
      this.#onRequest?.({ method, path, status: 0 });
      throw failed(err);
    }
    this.#onRequest?.({ method, path, status: res.status });
    return { res, failed };
  }

  /** A bounded, buffered exchange (metadata and small JSON answers). */
  async #fetchBytes(method: string, url: string, body: Uint8Array | undefined, maxLength: number): Promise<Uint8Array> {
    const o = await this.#open(method, url, body);
    const ok = o.res.status >= 200 && o.res.status <= 299;
    try {
      const announced = o.res.headers.get('content-length');
      if (ok && announced !== undefined && /^\d+$/.test(announced) && Number(announced) > maxLength) {
        throw new DownloadLengthError(`${url}: ${announced} bytes, more than the limit of ${maxLength}`);
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        let c: Uint8Array | null;
        try {
          c = await o.res.read();
        } catch (err) {
          throw o.failed(err);
        }
        if (c === null) break;
        total += c.byteLength;
        // Error answers are read only for their (small) message.
        if (total > maxLength) {
          if (!ok) break;
          throw new DownloadLengthError(`${url}: more than the limit of ${maxLength} bytes`);
        }
        chunks.push(Buffer.from(c)); // a copy: the client reuses its read buffer
      }
      const bytes = Buffer.concat(chunks);
      if (!ok) throw new FetchError(o.res.status, `${method} ${url}: HTTP ${o.res.status}${errorText(bytes)}`);
      return bytes;
    } finally {
      o.res.close();
    }
  }

  /**
   * A Director file: from the last check-in answer if it carried it (once, within
   * DIRECTOR_ANSWER_TTL_MS; the same size limit applies), else GET. A root after the newest one
   * that answer named is a 404, as the server would answer.
   */
  async #fetchDirector(url: string, maxLength: number): Promise<Uint8Array> {
    const a = this.#answered;
    if (a !== undefined && this.#now() <= a.until && url.startsWith(this.directorBaseUrl)) {
      const name = url.slice(this.directorBaseUrl.length);
      const bytes = a.files.get(name);
      if (bytes !== undefined) {
        a.files.delete(name);
        if (bytes.byteLength > maxLength) throw new DownloadLengthError(`${url}: ${bytes.byteLength} bytes, more than the limit of ${maxLength}`);
        return bytes;
      }
      const root = /^(\d+)\.root\.json$/.exec(name);
      if (root !== null && Number(root[1]) > a.rootVersion) throw new FetchError(404, `GET ${url}: HTTP 404 (the check-in answer named root ${a.rootVersion} as the newest)`);
    }
    return this.#fetchBytes('GET', url, undefined, maxLength);
  }

  /**
   * PUT /device/v1/manifest: the signed vehicle version manifest (Uptane 2.1 §5.4.2.1). With
   * `directorRootVersion`, `?directorRoot=N` asks the server to answer with the vehicle's
   * Director metadata (every newer root, timestamp, snapshot, targets), which directorFetcher
   * then serves: the Primary verifies them exactly as fetched ones, without three more round
   * trips. A malformed `director` in the answer is ignored (the files are fetched).
   */
  async sendManifest(manifest: VehicleManifest, opts: SendManifestOptions = {}): Promise<ManifestAnswer> {
    this.#answered = undefined;
    const body = Buffer.from(JSON.stringify(manifest.toJSON()), 'utf8');
    const root = opts.directorRootVersion;
    const query = root === undefined ? '' : `?directorRoot=${root}`;
    const bytes = await this.#fetchBytes('PUT', `${this.serverUrl}/device/v1/manifest${query}`, body, root === undefined ? MAX_ANSWER : MAX_ANSWER_WITH_DIRECTOR);
    let o: Record<string, unknown>;
    try {
      o = expectObject(parseJSON(bytes, 'manifest answer'), 'answer');
    } catch (err) {
      throw new FetchError(200, `PUT /device/v1/manifest: unreadable answer: ${(err as Error).message}`, { cause: err });
    }
    const v = o['directorTargetsVersion'];
    const nonce = o['nonce'];
    const receipts = parseReceipts(o['receipts']);
    if (root !== undefined) {
      const director = parseDirectorFiles(o['director']);
      if (director !== undefined) this.#answered = { ...director, until: this.#now() + DIRECTOR_ANSWER_TTL_MS };
    }
    return {
      ...(typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? { directorTargetsVersion: v } : {}),
      ...(typeof nonce === 'string' ? { nonce } : {}),
      ...(receipts.length > 0 ? { receipts } : {}),
    };
  }

  /**
   * GET the image from `resumeFrom` (Range), streamed. 206 must name the range asked for; 200 is
   * the whole image (start 0); anything else is a FetchError with the status.
   */
  async downloadImage(image: ImageInfo, request: ImageRequest): Promise<ImageResponse> {
    const url = `${this.imageBaseUrl}targets/${hashPrefixedPath(image)}`;
    const o = await this.#open('GET', url, undefined, request.resumeFrom > 0 ? { range: `bytes=${request.resumeFrom}-` } : {});
    let start: number;
    try {
      if (o.res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(o.res.headers.get('content-range') ?? '');
        if (m === null || Number(m[1]) !== request.resumeFrom) throw new FetchError(206, `${url}: asked from byte ${request.resumeFrom}, got ${o.res.headers.get('content-range') ?? 'no Content-Range'}`);
        start = request.resumeFrom;
      } else if (o.res.status === 200) {
        start = 0;
      } else {
        throw new FetchError(o.res.status, `GET ${url}: HTTP ${o.res.status}`);
      }
    } catch (err) {
      o.res.close();
      throw err;
    }
    const { res, failed } = o;
    // Each chunk is a view of the client's read buffer, valid until the next one is asked for
    // (ImageResponse.body): the Primary hashes and writes it before it reads on.
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          let c: Uint8Array | null;
          try {
            c = await res.read();
          } catch (err) {
            throw failed(err);
          }
          if (c === null) return;
          yield c;
        }
      } finally {
        res.close(); // not read to the end (error, or the consumer stopped): drop the connection
      }
    }
    return { start, body: body() };
  }

  /**
   * The result of a cycle: a failed bundle is reported per ECU (POST /device/v1/events) so the
   * server marks the assignment failed; success shows in the next manifest.
   */
  async report(report: UpdateReport): Promise<void> {
    const status = EVENT_STATUS[report.outcome];
    if (status === undefined) return;
    const reason = `${report.outcome}${report.code === undefined ? '' : ` ${report.code}`}${report.reason === undefined ? '' : `: ${report.reason}`}`.slice(0, 1000);
    for (const e of report.ecus) {
      const body = Buffer.from(JSON.stringify({ ecuSerial: e.ecuSerial, filename: e.filepath, status, reason }), 'utf8');
      await this.#fetchBytes('POST', `${this.serverUrl}/device/v1/events`, body, MAX_ANSWER);
    }
  }
  /** Campaign progress (POST /device/v1/events, one per ECU of the bundle); Primary best effort. */
  async progress(p: CycleProgress): Promise<void> {
    for (const ev of progressEvents(p)) {
      await this.#fetchBytes('POST', `${this.serverUrl}/device/v1/events`, Buffer.from(JSON.stringify(ev), 'utf8'), MAX_ANSWER);
    }
  }

}

/** progress as POST /device/v1/events (campaign progress states), once per ECU, not retried. */
export function progressEvents(p: CycleProgress): Array<{ ecuSerial: string; filename: string; status: string }> {
  return p.ecus.map((e) => ({ ecuSerial: e.ecuSerial, filename: e.filepath, status: p.state }));
}

function errorText(bytes: Uint8Array): string {
  try {
    const e = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { error?: { code?: string; message?: string } }).error;
    return e === undefined ? '' : ` ${e.code ?? ''}: ${e.message ?? ''}`;
  } catch {
    return '';
  }
}

/**
 * The `director` of a check-in answer: `{rootVersion, files: {name: base64}}`, every name a
 * Director file name, at most 64 files. Anything else: undefined (the Primary fetches them).
 */
export function parseDirectorFiles(v: unknown): { files: Map<string, Uint8Array>; rootVersion: number } | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const { rootVersion, files } = v as Record<string, unknown>;
  if (typeof rootVersion !== 'number' || !Number.isSafeInteger(rootVersion) || rootVersion < 1) return undefined;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) return undefined;
  const entries = Object.entries(files as Record<string, unknown>);
  if (entries.length > 64) return undefined;
  const out = new Map<string, Uint8Array>();
  for (const [name, b64] of entries) {
    if (!DIRECTOR_NAME.test(name) || typeof b64 !== 'string' || b64.length % 4 !== 0 || !BASE64.test(b64)) return undefined;
    out.set(name, Buffer.from(b64, 'base64'));
  }
  return { files: out, rootVersion };
}

/** Receipts in a check-in answer: at most 256, each well-formed and at most 64 KiB; others are ignored. */
function parseReceipts(v: unknown): LogReceipt[] {
  if (!Array.isArray(v)) return [];
  const out: LogReceipt[] = [];
  for (const r of v.slice(0, 256)) {
    if (typeof r !== 'object' || r === null) continue;
    const { ecuSerial, index, receipt } = r as Record<string, unknown>;
    if (typeof ecuSerial !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(ecuSerial)) continue;
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) continue;
    if (typeof receipt !== 'string' || receipt.length > 65_536 || !receipt.startsWith('c2sp.org/tlog-proof@v1\n')) continue;
    out.push({ ecuSerial, index, receipt });
  }
  return out;
}

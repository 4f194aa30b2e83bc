/**
 * A vehicle's client for the server's device API (docs/SERVER-API.md "Authentication: Vehicles"):
 * every request is signed with the Primary ECU's registered key (RFC 9421 HTTP Message
 * Signatures with a fresh nonce and created=now; RFC 9530 Content-Digest for bodies).
 * It is also the @reflash/verify Fetcher for both repositories a Primary verifies:
 * the Director at `/repo/director/{vin}/` and the Image repository at `/repo/image/`, with the
 * size limit every download states. It only signs requests for its own server's origin.
 */
import type { KeyObject } from 'node:crypto';
import { FetchError, UsageError, expectObject, expectUint, parseJSON, signRequest } from '@reflash/metadata';
import type { VehicleManifest } from '@reflash/metadata';
import type { Fetcher } from '@reflash/verify';
import { normaliseBaseUrl } from './admin.js';
import { ApiClientError, readResponse } from './errors.js';
import { DEFAULT_TIMEOUT_MS, exchange, expectOk, expectOkForFetcher } from './http.js';
import type { HttpResponse } from './http.js';

/** Largest Director metadata file a vehicle accepts unless told (Director files are small). */
export const DEFAULT_DIRECTOR_MAX = 1024 * 1024;
/** Largest answer to a manifest upload or an event. */
const MAX_ANSWER = 64 * 1024;

export interface DeviceIdentity {
  readonly vin: string;
  /** TUF key id of the Primary's registered key */
  readonly keyId: string;
  /** the Primary's private key (ed25519 or ECDSA P-256) */
  readonly privateKey: KeyObject;
}

export interface DeviceClientOptions extends DeviceIdentity {
  /** e.g. https://ota.example.com */
  readonly serverUrl: string;
  /** clock for `created` (ms); injected so a vehicle can use its secure time source */
  readonly now?: () => number;
  readonly timeoutMs?: number;
}

export interface ManifestAnswer {
  readonly directorTargetsVersion: number;
  /** pending assignments (a number or a list, as the server says) */
  readonly pending: unknown;
}

export class DeviceClient implements Fetcher {
  readonly serverUrl: string;
  readonly vin: string;
  readonly keyId: string;
  /** Director metadata base URL, ending in "/" */
  readonly directorBaseUrl: string;
  /** Image-repository metadata base URL, ending in "/" */
  readonly imageBaseUrl: string;
  readonly #privateKey: KeyObject;
  readonly #now: () => number;
  readonly #timeoutMs: number;
  readonly #origin: string;

  constructor(opts: DeviceClientOptions) {
    this.serverUrl = normaliseBaseUrl(opts.serverUrl);
    this.vin = opts.vin;
    this.keyId = opts.keyId;
    this.#privateKey = opts.privateKey;
    this.#now = opts.now ?? Date.now;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#origin = new URL(this.serverUrl).origin;
    this.directorBaseUrl = `${this.serverUrl}/repo/director/${encodeURIComponent(opts.vin)}/`;
    this.imageBaseUrl = `${this.serverUrl}/repo/image/`;
    if (opts.privateKey.type !== 'private') throw new UsageError('DeviceClient needs the Primary\'s private key');
  }

  /** A signed request to this client's server; the answer is read up to `maxLength` bytes. */
  async #signed(method: string, url: string, body: Uint8Array | undefined, maxLength: number): Promise<HttpResponse> {
    const u = new URL(url);
    if (u.origin !== this.#origin) throw new UsageError(`${url} is not on ${this.#origin}: the vehicle key signs only for its own server`);
    const sig = signRequest({
      method, url: `${u.pathname}${u.search}`, body, keyid: this.keyId, privateKey: this.#privateKey,
      nowSeconds: Math.floor(this.#now() / 1000),
    });
    const headers: Record<string, string> = { ...sig };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return exchange({ method, url, headers, timeoutMs: this.#timeoutMs, maxLength, ...(body === undefined ? {} : { body }) });
  }

  /**
   * Fetcher: signed GET of `url`, at most `maxLength` bytes (DownloadLengthError past it); a
   * non-2xx answer is a FetchError with the status (404 ends the root probe, TUF 5.3.3).
   */
  async fetch(url: string, maxLength: number): Promise<Uint8Array> {
    let res: HttpResponse;
    try {
      res = await this.#signed('GET', url, undefined, maxLength);
    } catch (err) {
      // Network failures and timeouts are download errors for the verify package.
      if (err instanceof ApiClientError) throw new FetchError(0, err.message, { cause: err });
      throw err;
    }
    return expectOkForFetcher(res, url);
  }

  /** A Director metadata file of this vehicle, e.g. `timestamp.json` or `3.targets.json`. */
  fetchDirector(file: string, maxLength = DEFAULT_DIRECTOR_MAX): Promise<Uint8Array> {
    return this.fetch(`${this.directorBaseUrl}${file}`, maxLength);
  }

  /** An Image-repository file (metadata, or `targets/<hash>.<name>` image bytes). */
  fetchImage(file: string, maxLength: number): Promise<Uint8Array> {
    return this.fetch(`${this.imageBaseUrl}${file}`, maxLength);
  }

  /** PUT /device/v1/manifest: the signed vehicle version manifest (Uptane 2.1 §5.4.2.1). */
  async sendManifest(manifest: VehicleManifest | Uint8Array): Promise<ManifestAnswer> {
    const body = manifest instanceof Uint8Array ? manifest : Buffer.from(JSON.stringify(manifest.toJSON()), 'utf8');
    const res = expectOk(await this.#signed('PUT', `${this.serverUrl}/device/v1/manifest`, body, MAX_ANSWER), 'PUT /device/v1/manifest');
    return readResponse('PUT /device/v1/manifest', () => {
      const o = expectObject(parseJSON(res.body, 'manifest answer'), 'answer');
      return { directorTargetsVersion: expectUint(o['directorTargetsVersion'], 'directorTargetsVersion', 1), pending: o['pending'] };
    });
  }

  /** POST /device/v1/events: an installation failure of one ECU. */
  async reportFailure(ecuSerial: string, filename: string, reason: string): Promise<void> {
    const body = Buffer.from(JSON.stringify({ ecuSerial, filename, status: 'failed', reason }), 'utf8');
    expectOk(await this.#signed('POST', `${this.serverUrl}/device/v1/events`, body, MAX_ANSWER), 'POST /device/v1/events');
  }
}

/**
 * A simulated vehicle for tests (CONVENTIONS.md §13), the same ideas a CLI simulator uses:
 * - ECUs with their own key pairs (ed25519 or ECDSA P-256), hardware ids and installed images;
 * - signed ECU version reports and vehicle version manifests with counters that grow every
 *   cycle (Uptane 2.1 §5.4.2.1);
 * - every request signed with the Primary's key (RFC 9421 via @reflash/metadata signRequest);
 * - Fetchers over the same transport for the Director and the Image repository, so the vehicle
 *   runs @reflash/verify fullVerification against the server.
 * A Transport is either in-process (`injectTransport(app)`) or real HTTP (`httpTransport(url)`).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  DownloadLengthError, FetchError, Metadata, generateSigner, signEcuReport, signRequest, signVehicleManifest,
} from '@reflash/metadata';
import type { InstalledImage, PrivateKeySigner, Scheme, TargetFile, Targets, VehicleManifest } from '@reflash/metadata';
import { Updater, fullVerification } from '@reflash/verify';
import type { Fetcher, FullVerificationResult, MetadataStore } from '@reflash/verify';
import type { App } from '../../src/app.js';
import type { Database } from '../../src/db/schema.js';

// ---------------------------------------------------------------------------------------------
// Transport

export interface HttpRequest {
  readonly method: string;
  /** path and query, e.g. /device/v1/manifest */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
  json<T = unknown>(): T;
}

export type Transport = (req: HttpRequest) => Promise<HttpResponse>;

function response(status: number, headers: Record<string, string | undefined>, body: Buffer): HttpResponse {
  return { status, headers, body, json: <T>() => JSON.parse(body.toString('utf8')) as T };
}

/** light-my-request's method names (its own union, narrower than Fastify's). */
type InjectMethod = 'DELETE' | 'GET' | 'HEAD' | 'PATCH' | 'POST' | 'PUT' | 'OPTIONS';

/** Requests through `app.inject` (no network). */
export function injectTransport(app: App): Transport {
  return async (req) => {
    const res = await app.inject({
      method: req.method as InjectMethod,
      url: req.url,
      headers: { ...req.headers },
      ...(req.body === undefined ? {} : { payload: req.body }),
    });
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v === undefined ? undefined : String(v);
    return response(res.statusCode, headers, res.rawPayload);
  };
}

/** Requests over real HTTP to `baseUrl` (e.g. http://127.0.0.1:41234). */
export function httpTransport(baseUrl: string): Transport {
  return async (req) => {
    const res = await fetch(`${baseUrl}${req.url}`, { method: req.method, headers: { ...req.headers }, ...(req.body === undefined ? {} : { body: req.body }) });
    const headers: Record<string, string | undefined> = {};
    res.headers.forEach((v, k) => { headers[k] = v; });
    return response(res.status, headers, Buffer.from(await res.arrayBuffer()));
  };
}

/** A JSON request with an operator token. */
export async function operatorRequest(t: Transport, token: string, method: string, url: string, body?: unknown): Promise<HttpResponse> {
  return t({
    method, url,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
  });
}

// ---------------------------------------------------------------------------------------------
// ECUs and the vehicle

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What an ECU reports for an image it runs (length, sha256 and sha512). */
export function installedImage(filepath: string, data: Uint8Array): InstalledImage {
  return { filepath, length: data.byteLength, hashes: { sha256: sha256Hex(data), sha512: createHash('sha512').update(data).digest('hex') } };
}

export class SimEcu {
  readonly serial: string;
  readonly hardwareId: string;
  readonly signer: PrivateKeySigner;
  /** the last report counter used (reports use counter + 1) */
  counter = 0;
  installed: InstalledImage;

  constructor(serial: string, hardwareId: string, scheme: Scheme = 'ed25519') {
    this.serial = serial;
    this.hardwareId = hardwareId;
    this.signer = generateSigner(scheme);
    this.installed = installedImage(`factory/${hardwareId}.bin`, Buffer.from(`factory image of ${serial}`));
  }
}

/** In-memory trusted-metadata store of a vehicle (one per repository). */
export class MemoryStore implements MetadataStore {
  readonly files = new Map<string, Uint8Array>();
  load(role: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.files.get(role));
  }
  save(role: string, bytes: Uint8Array): Promise<void> {
    this.files.set(role, bytes);
    return Promise.resolve();
  }
  remove(role: string): Promise<void> {
    this.files.delete(role);
    return Promise.resolve();
  }
}

export interface SimulatedVehicleOptions {
  readonly vin: string;
  readonly model?: string;
  readonly ecus: ReadonlyArray<{ readonly serial: string; readonly hardwareId: string; readonly scheme?: Scheme }>;
  /** serial of the Primary; default the first ECU */
  readonly primary?: string;
  readonly transport: Transport;
  /** the vehicle's clock (ms); signatures carry created = clock()/1000 */
  readonly clock: () => number;
}

export interface ReportOptions {
  /** explicit counter (default: the ECU's highest so far + 1) */
  readonly counter?: number;
  readonly installed?: InstalledImage;
  readonly attacks?: string;
}

export interface ManifestOptions {
  /** per-ECU report options; ECUs not named report their current state */
  readonly reports?: Readonly<Record<string, ReportOptions>>;
  /** only these ECUs report (default all) */
  readonly only?: readonly string[];
  /** sign the manifest with another key (forgery tests) */
  readonly primarySigner?: PrivateKeySigner;
  /** sign the reports of these ECUs with another key */
  readonly reportSigners?: Readonly<Record<string, PrivateKeySigner>>;
}

export interface RequestOptions {
  /** signature time (ms), default the vehicle clock */
  readonly nowMs?: number;
  /** sign with another private key (forgery tests) */
  readonly signer?: PrivateKeySigner;
  readonly headers?: Readonly<Record<string, string>>;
}

export class SimulatedVehicle {
  readonly vin: string;
  readonly model: string;
  readonly ecus: ReadonlyMap<string, SimEcu>;
  readonly primary: SimEcu;
  transport: Transport;
  readonly clock: () => number;
  /** trusted metadata, persisted across update cycles (rollback protection) */
  readonly directorStore = new MemoryStore();
  readonly imageStore = new MemoryStore();

  constructor(o: SimulatedVehicleOptions) {
    this.vin = o.vin;
    this.model = o.model ?? 'test-model';
    this.ecus = new Map(o.ecus.map((e) => [e.serial, new SimEcu(e.serial, e.hardwareId, e.scheme)]));
    const primary = this.ecus.get(o.primary ?? o.ecus[0]?.serial ?? '');
    if (primary === undefined) throw new Error('a vehicle needs a primary ECU');
    this.primary = primary;
    this.transport = o.transport;
    this.clock = o.clock;
  }

  ecu(serial: string): SimEcu {
    const e = this.ecus.get(serial);
    if (e === undefined) throw new Error(`no ECU ${serial}`);
    return e;
  }

  /** serial -> hardware id, as the vehicle knows its own configuration (full verification input) */
  ecuMap(): Map<string, string> {
    return new Map([...this.ecus.values()].map((e) => [e.serial, e.hardwareId]));
  }

  provisionBody(): { vin: string; model: string; primaryEcuSerial: string; ecus: Array<{ serial: string; hardwareId: string; publicKey: unknown }> } {
    return {
      vin: this.vin,
      model: this.model,
      primaryEcuSerial: this.primary.serial,
      ecus: [...this.ecus.values()].map((e) => ({ serial: e.serial, hardwareId: e.hardwareId, publicKey: e.signer.key.toJSON() })),
    };
  }

  /**
   * POST /api/v1/vehicles with an operator token; on success installs the returned Director root
   * (and Image root, if any) as the vehicle's trusted roots.
   */
  async provision(operatorToken: string): Promise<HttpResponse> {
    const res = await operatorRequest(this.transport, operatorToken, 'POST', '/api/v1/vehicles', this.provisionBody());
    if (res.status === 201) {
      const body = res.json<{ directorRoot: unknown; imageRoot: unknown }>();
      this.directorStore.files.set('root', Buffer.from(JSON.stringify(body.directorRoot)));
      if (body.imageRoot !== null) this.imageStore.files.set('root', Buffer.from(JSON.stringify(body.imageRoot)));
    }
    return res;
  }

  /** Trust this Image root (e.g. when the vehicle was provisioned before the Image repository). */
  trustImageRoot(bytes: Uint8Array): void {
    this.imageStore.files.set('root', bytes);
  }

  /** Signature headers for a request by the Primary (RFC 9421). */
  signHeaders(method: string, url: string, body: Buffer | undefined, o: RequestOptions = {}): Record<string, string> {
    const signer = o.signer ?? this.primary.signer;
    const h = signRequest({ method, url, body, keyid: this.primary.signer.keyId, privateKey: signer.privateKey, nowSeconds: Math.floor((o.nowMs ?? this.clock()) / 1000) });
    return { ...h };
  }

  /** A signed request; `body` objects are sent as JSON. */
  async request(method: string, url: string, body?: Buffer | object, o: RequestOptions = {}): Promise<HttpResponse> {
    const bytes = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { ...this.signHeaders(method, url, bytes, o), ...(bytes === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers };
    return this.transport({ method, url, headers, body: bytes });
  }

  /**
   * A signed vehicle version manifest; each reporting ECU's counter is advanced (or set to the
   * explicit one) and its installed image updated when given.
   */
  manifest(o: ManifestOptions = {}): VehicleManifest {
    const serials = o.only ?? [...this.ecus.keys()];
    const reports = serials.map((serial) => {
      const ecu = this.ecu(serial);
      const ro = o.reports?.[serial] ?? {};
      const counter = ro.counter ?? ecu.counter + 1;
      // An explicit (e.g. replayed) counter never moves the ECU's own counter backwards.
      ecu.counter = Math.max(ecu.counter, counter);
      if (ro.installed !== undefined) ecu.installed = ro.installed;
      return signEcuReport({ ecuSerial: serial, installedImage: ecu.installed, attacksDetected: ro.attacks ?? '', reportCounter: counter }, o.reportSigners?.[serial] ?? ecu.signer);
    });
    return signVehicleManifest(this.vin, this.primary.serial, reports, o.primarySigner ?? this.primary.signer);
  }

  static manifestBytes(m: VehicleManifest): Buffer {
    return Buffer.from(JSON.stringify(m.toJSON()));
  }

  /** PUT /device/v1/manifest with exactly these bytes. */
  async putManifest(bytes: Buffer, o: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('PUT', '/device/v1/manifest', bytes, o);
  }

  /** Build, sign and send a manifest (one check-in). */
  async checkIn(o: ManifestOptions = {}, r: RequestOptions = {}): Promise<HttpResponse> {
    return this.putManifest(SimulatedVehicle.manifestBytes(this.manifest(o)), r);
  }

  /** POST /device/v1/events: an installation failure. */
  async reportFailure(ecuSerial: string, filename: string, reason: string): Promise<HttpResponse> {
    return this.request('POST', '/device/v1/events', { ecuSerial, filename, status: 'failed', reason });
  }

  /** A Fetcher whose every request is signed by this vehicle (Director and image downloads). */
  fetcher(): Fetcher {
    return {
      fetch: async (url: string, maxLength: number): Promise<Uint8Array> => {
        const res = await this.request('GET', url);
        if (res.status !== 200) throw new FetchError(res.status, `GET ${url}: HTTP ${res.status}`);
        // Uptane 4.3.3 endless data: never accept more than the stated maximum.
        if (res.body.byteLength > maxLength) throw new DownloadLengthError(`GET ${url}: ${res.body.byteLength} bytes exceeds ${maxLength}`);
        return res.body;
      },
    };
  }

  directorUpdater(referenceTime: number): Updater {
    return new Updater({ metadataBaseUrl: `/repo/director/${this.vin}/`, fetcher: this.fetcher(), store: this.directorStore, referenceTime });
  }

  imageUpdater(referenceTime: number): Updater {
    return new Updater({ metadataBaseUrl: '/repo/image/', fetcher: this.fetcher(), store: this.imageStore, referenceTime });
  }

  /** Uptane 5.4.4.2 full verification of both repositories at one reference time. */
  async fullVerification(referenceTime = this.clock()): Promise<FullVerificationResult & { image: Updater }> {
    const image = this.imageUpdater(referenceTime);
    const res = await fullVerification({ director: this.directorUpdater(referenceTime), image, ecus: this.ecuMap() });
    return { ...res, image };
  }

  /** GET an image by its hash-prefixed name (consistent snapshots), optionally a byte range. */
  async downloadImage(target: TargetFile, range?: string): Promise<HttpResponse> {
    const slash = target.path.lastIndexOf('/');
    const sha = target.hashes['sha256'] ?? Object.values(target.hashes)[0]!;
    const url = `/repo/image/targets/${target.path.slice(0, slash + 1)}${sha}.${target.path.slice(slash + 1)}`;
    return this.request('GET', url, undefined, range === undefined ? {} : { headers: { range } });
  }
}

/** `n` vehicles with ECUs `primary` (hardware `hwPrimary`) and `ecu2` (hardware `hwSecondary`). */
export function fleet(n: number, o: { prefix: string; transport: Transport; clock: () => number; hardware?: readonly string[] }): SimulatedVehicle[] {
  const hw = o.hardware ?? ['hw-primary', 'hw-secondary'];
  return Array.from({ length: n }, (_, i) => {
    const vin = `${o.prefix}${String(i).padStart(5, '0')}`;
    return new SimulatedVehicle({ vin, transport: o.transport, clock: o.clock, ecus: hw.map((h, j) => ({ serial: `${vin}-ecu${j}`, hardwareId: h })) });
  });
}

/** A vehicle talking to an in-process app on the harness clock (ECUs `<vin>-p` and `<vin>-s`). */
export function inProcessVehicle(
  h: { readonly app: App; readonly clock: { now: number } },
  vin: string,
  ecus: SimulatedVehicleOptions['ecus'] = [{ serial: `${vin}-p`, hardwareId: 'hw-primary' }, { serial: `${vin}-s`, hardwareId: 'hw-secondary' }],
): SimulatedVehicle {
  return new SimulatedVehicle({ vin, ecus, transport: injectTransport(h.app), clock: () => h.clock.now });
}

/**
 * Assert that the stored Director metadata of `vin` is consistent: targets, snapshot and
 * timestamp versions are 1..N without gaps or duplicates, each row's content has its version,
 * every snapshot names a stored targets version and every timestamp a stored snapshot.
 * Returns the targets metadata by version.
 */
export async function assertDirectorConsistent(db: Kysely<Database>, vin: string): Promise<{ targets: Array<Metadata<Targets>> }> {
  const rows = await db.selectFrom('repo_metadata').select(['role', 'version', 'bytes'])
    .where('repo', '=', 'director').where('vin', '=', vin).orderBy('role').orderBy('version').execute();
  const by = (role: string): typeof rows => rows.filter((r) => r.role === role);
  for (const role of ['targets', 'snapshot', 'timestamp']) {
    const versions = by(role).map((r) => r.version);
    assert.ok(versions.length > 0, `${vin} has ${role} metadata`);
    assert.deepEqual(versions, versions.map((_, i) => i + 1), `${role} versions of ${vin} are 1..N without gaps or duplicates`);
    for (const r of by(role)) assert.equal(Metadata.fromBytes(r.bytes).signed.version, r.version, `${vin} ${role} row ${r.version} holds that version`);
  }
  const targets = by('targets').map((r) => Metadata.fromBytes(r.bytes, 'targets'));
  for (const r of by('snapshot')) assert.ok(Metadata.fromBytes(r.bytes, 'snapshot').signed.meta.get('targets.json')!.version <= targets.length, `${vin} snapshot ${r.version} names a stored targets version`);
  const snapshots = by('snapshot').length;
  for (const r of by('timestamp')) assert.ok(Metadata.fromBytes(r.bytes, 'timestamp').signed.snapshotMeta.version <= snapshots, `${vin} timestamp ${r.version} names a stored snapshot`);
  return { targets };
}

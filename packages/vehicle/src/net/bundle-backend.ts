/**
 * Offline update (no network): the Backend port over a bundle folder written by
 * `reflash vehicle export-bundle` (USB stick, workshop tool). The bundle is NOT trusted: it only
 * carries the very files the server would serve, and the same Primary runs the same full
 * verification (Director + Image repository, root chains, expiry, rollback, hashes, lengths)
 * over them. Check-ins and reports cannot reach the server: they are written to
 * `<bundle>/outbox/` for a later upload.
 *
 *   <bundle>/bundle.json       BundleManifest (format, VIN, file lists, images)
 *   <bundle>/director/<file>   the vehicle's Director metadata (N.root.json..., timestamp.json, V.snapshot.json, V.targets.json)
 *   <bundle>/image/<file>      Image repository metadata (root chain, timestamp, snapshot, targets, delegated roles)
 *   <bundle>/images/<sha256>   the assigned images
 *   <bundle>/outbox/           manifests and reports written by the vehicle
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DownloadLengthError, FetchError, UsageError } from '@reflash/metadata';
import type { VehicleManifest } from '@reflash/metadata';
import type { Fetcher } from '@reflash/verify';
import type { ImageInfo } from '../digest.js';
import { writeFileAtomic } from '../io/atomic.js';
import { fileChunks } from '../io/file-chunks.js';
import { isErrno } from '../io/json-file.js';
import type { Backend, ImageRequest, ImageResponse, ManifestAnswer, UpdateReport } from '../primary/ports.js';

export const BUNDLE_FORMAT = 'reflash-offline-bundle/1';
export const BUNDLE_MANIFEST = 'bundle.json';

export interface BundleImage {
  readonly filepath: string;
  readonly length: number;
  readonly hashes: Readonly<Record<string, string>>;
  /** path in the bundle, e.g. images/<sha256> */
  readonly file: string;
}

export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly vin: string;
  /** ISO 8601 */
  readonly created: string;
  /** the server it was exported from (information only) */
  readonly server?: string;
  /** file names under director/ and image/ */
  readonly director: readonly string[];
  readonly image: readonly string[];
  readonly images: readonly BundleImage[];
}

const SAFE_NAME = /^[A-Za-z0-9._%-]{1,255}$/;

export function checkBundleFileName(name: string): string {
  if (!SAFE_NAME.test(name) || name === '.' || name === '..') throw new UsageError(`bundle file name ${JSON.stringify(name)} is not a safe file name`);
  return name;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Shape check of bundle.json (its content is verified by the Primary, not trusted). */
export function parseBundleManifest(json: unknown): BundleManifest {
  const o = json as Partial<Record<keyof BundleManifest, unknown>> | null;
  if (typeof o !== 'object' || o === null || o.format !== BUNDLE_FORMAT) throw new UsageError(`not a ${BUNDLE_FORMAT} bundle`);
  if (typeof o.vin !== 'string' || typeof o.created !== 'string' || !isStringArray(o.director) || !isStringArray(o.image) || !Array.isArray(o.images)) {
    throw new UsageError(`${BUNDLE_MANIFEST}: malformed`);
  }
  for (const n of [...o.director, ...o.image]) checkBundleFileName(n);
  const images = (o.images as unknown[]).map((x, i): BundleImage => {
    const im = x as Partial<Record<keyof BundleImage, unknown>> | null;
    if (typeof im !== 'object' || im === null || typeof im.filepath !== 'string' || typeof im.file !== 'string' || typeof im.length !== 'number' || typeof im.hashes !== 'object' || im.hashes === null) {
      throw new UsageError(`${BUNDLE_MANIFEST}: images[${i}] malformed`);
    }
    if (!/^images\/[A-Za-z0-9._-]{1,255}$/.test(im.file)) throw new UsageError(`${BUNDLE_MANIFEST}: images[${i}].file is not under images/`);
    return { filepath: im.filepath, length: im.length, hashes: im.hashes as Record<string, string>, file: im.file };
  });
  return { format: BUNDLE_FORMAT, vin: o.vin, created: o.created, ...(typeof o.server === 'string' ? { server: o.server } : {}), director: o.director, image: o.image, images };
}

class FolderFetcher implements Fetcher {
  constructor(readonly base: string, readonly dir: string, readonly names: ReadonlySet<string>) {}

  async fetch(url: string, maxLength: number): Promise<Uint8Array> {
    const name = url.startsWith(this.base) ? url.slice(this.base.length) : undefined;
    if (name === undefined || !this.names.has(name)) throw new FetchError(404, `${url}: not in the bundle`);
    const path = join(this.dir, checkBundleFileName(name));
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new FetchError(404, `${url}: listed but missing from the bundle`);
      throw err;
    }
    if (size > maxLength) throw new DownloadLengthError(`${url}: ${size} bytes, more than the limit of ${maxLength}`);
    return readFile(path);
  }
}

export class BundleBackend implements Backend {
  readonly dir: string;
  readonly manifest: BundleManifest;
  readonly directorBaseUrl = 'bundle://director/';
  readonly imageBaseUrl = 'bundle://image/';
  readonly directorFetcher: Fetcher;
  readonly imageFetcher: Fetcher;
  #sent = 0;

  private constructor(dir: string, manifest: BundleManifest) {
    this.dir = dir;
    this.manifest = manifest;
    this.directorFetcher = new FolderFetcher(this.directorBaseUrl, join(dir, 'director'), new Set(manifest.director));
    this.imageFetcher = new FolderFetcher(this.imageBaseUrl, join(dir, 'image'), new Set(manifest.image));
  }

  /** Open a bundle folder for vehicle `vin` (a bundle for another vehicle is refused early). */
  static async open(dir: string, vin?: string): Promise<BundleBackend> {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(join(dir, BUNDLE_MANIFEST), 'utf8'));
    } catch (err) {
      throw new UsageError(`${dir}: no readable ${BUNDLE_MANIFEST}: ${(err as Error).message}`, { cause: err });
    }
    const m = parseBundleManifest(json);
    if (vin !== undefined && m.vin !== vin) throw new UsageError(`${dir} is a bundle for ${m.vin}, not ${vin}`);
    return new BundleBackend(dir, m);
  }

  async #record(kind: 'manifest' | 'report', value: unknown): Promise<void> {
    const dir = join(this.dir, 'outbox');
    await mkdir(dir, { recursive: true });
    const n = ++this.#sent;
    await writeFileAtomic(join(dir, `${Date.now()}-${String(n).padStart(4, '0')}-${kind}.json`), Buffer.from(`${JSON.stringify(value)}\n`, 'utf8'));
  }

  /** No server: the signed manifest is kept in the outbox for a later upload. */
  async sendManifest(manifest: VehicleManifest): Promise<ManifestAnswer> {
    await this.#record('manifest', manifest.toJSON());
    return {};
  }

  async report(report: UpdateReport): Promise<void> {
    await this.#record('report', report);
  }

  /** The image from the bundle, by its hashes (the Primary checks length and hashes again). */
  downloadImage(image: ImageInfo, request: ImageRequest): Promise<ImageResponse> {
    const entry = this.manifest.images.find((e) => e.filepath === image.filepath && e.hashes['sha256'] !== undefined && e.hashes['sha256'] === image.hashes['sha256']);
    if (entry === undefined) return Promise.reject(new FetchError(404, `${image.filepath}: not in the bundle`));
    // One reused buffer (io/file-chunks.ts): each chunk is valid until the next is asked for.
    const body = fileChunks(join(this.dir, entry.file), { start: request.resumeFrom });
    return Promise.resolve({ start: request.resumeFrom, body: wrapErrors(body, image.filepath) });
  }
}

/** A missing or unreadable bundle file is a download failure (FetchError), as on a network. */
async function* wrapErrors(body: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new FetchError(404, `${what}: missing from the bundle`, { cause: err });
    throw err;
  }
}

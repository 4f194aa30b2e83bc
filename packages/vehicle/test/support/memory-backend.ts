/**
 * An in-memory Backend (the update server) over a World, with fault injection:
 * connection drops in the middle of a download, too many bytes (endless data), a tampered
 * image, a server that ignores Range, metadata overrides (compromised or replayed files), and
 * outages. It records what the vehicle sent and every image request.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DownloadLengthError, FetchError } from '@reflash/metadata';
import type { VehicleManifest } from '@reflash/metadata';
import type { Fetcher } from '@reflash/verify';
import type { ImageInfo } from '../../src/digest.js';
import type { Backend, ImageRequest, ImageResponse, ManifestAnswer, UpdateReport } from '../../src/primary/ports.js';
import type { World } from './world.js';

export interface Faults {
  /** every call fails like an unreachable server */
  offline?: boolean;
  /** the next N image transfers drop the connection after `dropAfterBytes` body bytes */
  drops?: number;
  dropAfterBytes?: number;
  /** image transfers send this many extra bytes after the image */
  extraBytes?: number;
  /** image transfers never end (junk after the image, until the client stops reading) */
  endless?: boolean;
  /** the image bytes are altered (one byte flipped in the middle) */
  tamper?: boolean;
  /** Range is ignored: the whole image, 200 */
  ignoreRange?: boolean;
  /** the next N manifest uploads fail (network) */
  manifestFailures?: number;
  /** the next N report uploads fail (network) */
  reportFailures?: number;
}

export interface ImageRequestLog {
  readonly path: string;
  readonly resumeFrom: number;
  /** body bytes this request delivered (updated while streaming) */
  sent: number;
}

class RepoFetcher implements Fetcher {
  readonly overrides = new Map<string, Uint8Array>();
  readonly fetched: string[] = [];
  constructor(readonly base: string, readonly files: () => ReadonlyMap<string, Uint8Array>, readonly backend: MemoryBackend) {}

  fetch(url: string, maxLength: number): Promise<Uint8Array> {
    if (this.backend.faults.offline === true) return Promise.reject(new FetchError(0, `${url}: connection refused`));
    const name = url.slice(this.base.length);
    this.fetched.push(name);
    const bytes = this.overrides.get(name) ?? this.files().get(name);
    if (!url.startsWith(this.base) || bytes === undefined) return Promise.reject(new FetchError(404, `404 ${url}`));
    if (bytes.byteLength > maxLength) return Promise.reject(new DownloadLengthError(`${url}: more than ${maxLength} bytes`));
    return Promise.resolve(bytes);
  }
}

export class MemoryBackend implements Backend {
  readonly directorBaseUrl = 'mem://director/';
  readonly imageBaseUrl = 'mem://image/';
  readonly directorFetcher: RepoFetcher;
  readonly imageFetcher: RepoFetcher;
  readonly world: World;
  faults: Faults = {};
  /** body chunk size and delay between chunks (a slow link) */
  chunkBytes = 1024;
  chunkDelayMs = 0;
  readonly manifests: VehicleManifest[] = [];
  readonly reports: UpdateReport[] = [];
  readonly imageRequests: ImageRequestLog[] = [];
  /** image bytes to serve instead of the Image repository's, by path */
  readonly imageOverrides = new Map<string, Uint8Array>();
  /** called with everything the vehicle sends (the child process writes it to a file) */
  onSent: ((kind: 'manifest' | 'report', value: unknown) => void) | undefined;

  constructor(world: World) {
    this.world = world;
    this.directorFetcher = new RepoFetcher(this.directorBaseUrl, () => world.director.files, this);
    this.imageFetcher = new RepoFetcher(this.imageBaseUrl, () => world.image.files, this);
  }

  sendManifest(manifest: VehicleManifest): Promise<ManifestAnswer> {
    if (this.faults.offline === true) return Promise.reject(new FetchError(0, 'PUT /device/v1/manifest: connection refused'));
    if ((this.faults.manifestFailures ?? 0) > 0) {
      this.faults.manifestFailures!--;
      return Promise.reject(new FetchError(503, 'PUT /device/v1/manifest: 503'));
    }
    this.manifests.push(manifest);
    this.onSent?.('manifest', manifest.toJSON());
    return Promise.resolve({ directorTargetsVersion: this.world.director.targetsOf().signed.version });
  }

  report(report: UpdateReport): Promise<void> {
    if (this.faults.offline === true) return Promise.reject(new FetchError(0, 'POST /device/v1/events: connection refused'));
    if ((this.faults.reportFailures ?? 0) > 0) {
      this.faults.reportFailures!--;
      return Promise.reject(new FetchError(503, 'POST /device/v1/events: 503'));
    }
    this.reports.push(report);
    this.onSent?.('report', report);
    return Promise.resolve();
  }

  downloadImage(image: ImageInfo, request: ImageRequest): Promise<ImageResponse> {
    const f = this.faults;
    if (f.offline === true) return Promise.reject(new FetchError(0, `${image.filepath}: connection refused`));
    let data = this.imageOverrides.get(image.filepath) ?? this.world.image.targetData.get(image.filepath) ?? this.world.director.targetData.get(image.filepath);
    if (data === undefined) return Promise.reject(new FetchError(404, `404 ${image.filepath}`));
    if (f.tamper === true) {
      const copy = Buffer.from(data);
      const mid = copy.length >> 1;
      copy.writeUInt8(copy.readUInt8(mid) ^ 0xff, mid);
      data = copy;
    }
    if (f.extraBytes !== undefined) data = Buffer.concat([data, Buffer.alloc(f.extraBytes, 0x41)]);
    const start = f.ignoreRange === true ? 0 : request.resumeFrom;
    if (start > data.length) return Promise.reject(new FetchError(416, `${image.filepath}: 416`));
    const log: ImageRequestLog = { path: image.filepath, resumeFrom: request.resumeFrom, sent: 0 };
    this.imageRequests.push(log);
    let dropAt = Infinity;
    if ((f.drops ?? 0) > 0) {
      f.drops!--;
      dropAt = f.dropAfterBytes ?? 0;
    }
    const endless = f.endless === true;
    const chunkBytes = this.chunkBytes;
    const delay = this.chunkDelayMs;
    const body = data;
    async function* stream(): AsyncGenerator<Uint8Array> {
      let off = start;
      // An endless stream is capped (64 MiB) only so a broken client cannot hang the tests.
      const end = endless ? 64 * 1024 * 1024 : body.length;
      while (off < end) {
        if (log.sent >= dropAt) throw new FetchError(0, `${image.filepath}: connection reset`);
        const n = Math.min(chunkBytes, end - off, dropAt - log.sent);
        const chunk = off + n <= body.length ? body.subarray(off, off + n) : Buffer.alloc(n, 0x42);
        off += n;
        log.sent += n;
        yield chunk;
        if (delay > 0) await sleep(delay);
      }
    }
    return Promise.resolve({ start, body: stream() });
  }
}

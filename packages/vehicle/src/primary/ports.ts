/**
 * What the Primary talks to, as interfaces (ports) so that the real implementations (HTTP to
 * the Reflash server, a VSS data broker, the head unit) and in-memory ones for tests plug in.
 *
 * Backend: the update server (docs/SERVER-API.md device API). Contract for implementations:
 * - `directorFetcher` / `imageFetcher` are @reflash/verify Fetchers for the metadata under
 *   `directorBaseUrl` / `imageBaseUrl` (both end in "/"): a missing file is FetchError(404),
 *   more than `maxLength` bytes is DownloadLengthError, other failures FetchError(status or 0).
 * - `downloadImage` only moves bytes: it opens the image (Range `bytes=<resumeFrom>-`) and
 *   returns the body as a stream without buffering it; the Primary bounds, hashes and stores it
 *   (primary/download.ts), so no Backend can skip those checks. It must say where the body
 *   starts (`start`: resumeFrom if the server honoured the range, 0 if it sent everything), and
 *   stop reading (drop the connection) when the consumer stops iterating.
 * - Network failures are DownloadError (FetchError) so that the Primary retries them.
 */
import type { VehicleManifest } from '@reflash/metadata';
import type { Fetcher } from '@reflash/verify';
import type { ImageInfo } from '../digest.js';

export type { EcuLink, MetadataBundle, BootResult, EcuStatus, VerificationMode } from '../link.js';

/** An accountability-log receipt for one update result (C2SP tlog-proof text). */
export interface LogReceipt {
  readonly ecuSerial: string;
  readonly index: number;
  readonly receipt: string;
}

export interface ManifestAnswer {
  /** the vehicle's Director targets version on the server, when it says */
  readonly directorTargetsVersion?: number;
  /** receipts of the update results this check-in recorded in the accountability log; the Primary keeps them */
  readonly receipts?: readonly LogReceipt[];
  /** a nonce for the next ECU version reports (Uptane 2.1 §5.4.2.1.2), when the server issues one */
  readonly nonce?: string;
}

export interface ImageRequest {
  /** first byte wanted (HTTP Range `bytes=<resumeFrom>-`); 0 for the whole image */
  readonly resumeFrom: number;
}

export interface ImageResponse {
  /** offset in the image of the first body byte: `resumeFrom` (206) or 0 (200, whole image) */
  readonly start: number;
  /**
   * The bytes from `start`. A chunk may be a view of a buffer the backend reuses (HttpBackend
   * does, to keep the Primary's memory flat): it is valid only until the next one is asked for,
   * so consume it (hash, write) or copy it first.
   */
  readonly body: AsyncIterable<Uint8Array>;
}

/** How a cycle ended (UpdateReport.outcome). */
export type Outcome =
  | 'success' // every ECU of the bundle runs its new image, confirmed
  | 'no-update' // nothing to install
  | 'downloaded' // download-only campaign: the images are downloaded and verified, nothing installed
  | 'rolled-back' // the bundle failed or was interrupted: every ECU is back on its old image
  | 'declined' // the driver declined (UN R156 §7.2 user approval)
  | 'rejected' // metadata or an image was refused (an attack or a broken repository)
  | 'offline' // the server could not be reached
  | 'preconditions-timeout' // the vehicle never became safe to update (R156 §7.2)
  | 'blocked' // the same bundle failed too often; not tried again until the Director changes it
  | 'stuck'; // loop detected or a rollback failed: safe state, needs attention

export interface EcuResult {
  readonly ecuSerial: string;
  readonly filepath: string;
  readonly status: 'installed' | 'rolled-back' | 'not-installed';
}

/** The result of one update cycle, reported to the server (STANDARDS.md §1 step 8). */
export interface UpdateReport {
  readonly vin: string;
  readonly primaryEcuSerial: string;
  /** unique per cycle: a report re-sent after a crash carries the same id */
  readonly cycleId: string;
  /** the cycle's reference time (ISO 8601) */
  readonly time: string;
  readonly outcome: Outcome;
  /** stable code of what went wrong (e.g. EXPIRED, TARGET_NOT_IN_IMAGE_REPO, ECU_NOT_RUNNING_PENDING) */
  readonly code?: string;
  readonly reason?: string;
  readonly directorTargetsVersion?: number;
  readonly campaignId?: string;
  readonly consent?: 'accepted' | 'declined' | 'forced';
  readonly ecus: readonly EcuResult[];
  /** what was refused in this cycle (also in the next manifest's attacks_detected) */
  readonly attacks: readonly string[];
}

export interface SendManifestOptions {
  /** version of the Director root the Primary trusts now */
  readonly directorRootVersion?: number;
}

export interface Backend {
  /** Director metadata base URL for this vehicle, ending in "/" */
  readonly directorBaseUrl: string;
  /** Image repository metadata base URL, ending in "/" */
  readonly imageBaseUrl: string;
  readonly directorFetcher: Fetcher;
  readonly imageFetcher: Fetcher;
  /**
   * Check-in: the signed vehicle version manifest (Uptane 2.1 §5.4.2.1; PUT /device/v1/manifest).
   * With `directorRootVersion` (the Director root the Primary trusts) a backend may take the
   * vehicle's Director metadata from the answer and serve them through `directorFetcher`, which
   * the Primary verifies next exactly as if fetched (§5.4.4.2): one round trip instead of several.
   */
  sendManifest(manifest: VehicleManifest, opts?: SendManifestOptions): Promise<ManifestAnswer>;
  /** Open an image for download from `request.resumeFrom` (GET /repo/image/targets/<hash>.<name>, Range). */
  downloadImage(image: ImageInfo, request: ImageRequest): Promise<ImageResponse>;
  /** The result of a cycle (POST /device/v1/events for failures; success also shows in the next manifest). */
  report(report: UpdateReport): Promise<void>;
  /**
   * Where the cycle stands, for the campaign's progress (UN R156 §7.1 records; ISO 24089): sent
   * on entering the state, best effort (a failure is logged, never retried, never stops the cycle).
   */
  progress?(progress: CycleProgress): Promise<void>;
}

/** Campaign-visible states of a cycle (the server's campaign vehicle states of the same names). */
export type ProgressState = 'downloading' | 'waiting-preconditions' | 'awaiting-consent' | 'installing';

export interface CycleProgress {
  readonly state: ProgressState;
  readonly campaignId?: string;
  /** the bundle's ECUs and the image each is to run */
  readonly ecus: ReadonlyArray<{ readonly ecuSerial: string; readonly filepath: string }>;
}

/** COVESA Vehicle Signal Specification paths the Primary reads (UN R156 §7.2 preconditions). */
export const VSS = {
  /** km/h; must be 0 */
  speed: 'Vehicle.Speed',
  /** VSS: 0 neutral, 1.. forward, -1.. reverse, 126 park, 127 drive */
  selectedGear: 'Vehicle.Powertrain.Transmission.SelectedGear',
  /** % (electric vehicles) */
  tractionBatterySoc: 'Vehicle.Powertrain.TractionBattery.StateOfCharge.Current',
  /** % (12 V battery; used when there is no traction battery) */
  lowVoltageBatterySoc: 'Vehicle.LowVoltageBattery.StateOfCharge',
} as const;

export type VssPath = (typeof VSS)[keyof typeof VSS];
export type VssValue = number | string | boolean;

export interface VehicleSignals {
  /** The current value of a signal, or undefined when it is not available. */
  get(path: VssPath): Promise<VssValue | undefined>;
}

/** UN R156 §7.2: what the user is told before approving. */
export interface ConsentRequest {
  readonly purpose: string;
  readonly expectedDurationSeconds: number;
  readonly unavailableFunctions: readonly string[];
}

export type HmiNotice =
  | { readonly kind: 'forced-update'; readonly request: ConsentRequest }
  | { readonly kind: 'result'; readonly outcome: Outcome; readonly reason?: string };

export interface Hmi {
  requestConsent(request: ConsentRequest): Promise<'accepted' | 'declined'>;
  /** Inform the user (R156 §7.2: before a forced update, after every update). Optional. */
  notify?(notice: HmiNotice): Promise<void>;
}

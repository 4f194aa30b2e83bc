/**
 * An ECU's own verification of the metadata its Primary forwarded (Uptane 2.1 §5.4.2.3 the
 * Primary forwards; §5.4.3.x the Secondary verifies before it installs anything):
 * - full (§5.4.4.2): the Director and Image repositories through the same Updater/TUF workflow
 *   the Primary uses, over the forwarded files, with the ECU's own trusted roots and stores;
 *   then its own Director target matched against the Image repository (step 10);
 * - partial (§5.4.4.1): the Director root chain and Director targets only (@reflash/verify
 *   partialVerification), with the ECU's own trusted Director root and last targets version.
 * Either way the reference time is the ECU's secure time (ecu/secure-time.ts), and the verified
 * Director timestamp yields the lower bound that may advance that time.
 */
import {
  DownloadLengthError, FetchError, Metadata, RepositoryError, readUptaneCustom, verifyThreshold,
} from '@reflash/metadata';
import type { TargetFile, Targets } from '@reflash/metadata';
import { DEFAULT_LIMITS, Updater, matchDirectorToImage, partialVerification, uptaneError } from '@reflash/verify';
import type { DirectorTarget, Fetcher, MetadataStore, PartialVerificationState } from '@reflash/verify';
import type { ImageInfo } from '../digest.js';
import type { MetadataBundle } from '../link.js';

const DIRECTOR_BASE = 'bundle:director/';
const IMAGE_BASE = 'bundle:image/';

/** The Updater's Fetcher over forwarded files: a missing file is a 404 (ends the root chain). */
export class BundleFetcher implements Fetcher {
  constructor(readonly files: ReadonlyMap<string, Uint8Array>, readonly base: string) {}

  fetch(url: string, maxLength: number): Promise<Uint8Array> {
    const bytes = url.startsWith(this.base) ? this.files.get(url.slice(this.base.length)) : undefined;
    if (bytes === undefined) return Promise.reject(new FetchError(404, `${url}: not in the forwarded metadata`));
    if (bytes.byteLength > maxLength) return Promise.reject(new DownloadLengthError(`${url}: more than ${maxLength} bytes`));
    return Promise.resolve(bytes);
  }
}

export function imageInfoOf(t: TargetFile, releaseCounter: number | undefined): ImageInfo {
  return { filepath: t.path, length: t.length, hashes: { ...t.hashes }, ...(releaseCounter === undefined ? {} : { releaseCounter }) };
}

/**
 * This ECU's entry in verified Director targets (Uptane 5.4.4.6 steps 6-7 and 5.4.3.4 steps
 * 3 and 5, restricted to what an ECU knows: itself).
 */
export function ownDirectorTarget(targets: Targets, serial: string, hardwareId: string, previousReleaseCounter: number | undefined): DirectorTarget | undefined {
  // 5.4.4.6 step 6: the Director does not delegate.
  if (targets.delegations !== undefined) throw uptaneError('DIRECTOR_DELEGATION', 'Director targets metadata must not contain delegations');
  const seen = new Set<string>();
  let mine: DirectorTarget | undefined;
  for (const t of targets.targets.values()) {
    const c = readUptaneCustom(t);
    for (const [s, { hardwareId: hw }] of Object.entries(c.ecuIdentifiers ?? {})) {
      // 5.4.4.6 step 7: each ECU identifier at most once.
      if (seen.has(s)) throw uptaneError('DUPLICATE_ECU_ID', `ECU ${s} is listed more than once in Director targets`);
      seen.add(s);
      if (s !== serial) continue;
      // 5.4.3.4 step 3: the hardware identifier is this ECU's.
      if (hw !== hardwareId) throw uptaneError('BAD_HARDWARE_ID', `Director says hardware ${hw} for ECU ${s}, this ECU is ${hardwareId}`);
      // 5.4.3.4 step 5: the release counter does not decrease.
      if (previousReleaseCounter !== undefined && c.releaseCounter !== undefined && c.releaseCounter < previousReleaseCounter) {
        throw uptaneError('RELEASE_COUNTER_ROLLBACK', `release counter ${c.releaseCounter} < installed ${previousReleaseCounter}`);
      }
      mine = { ecuSerial: s, hardwareId: hw, target: t, releaseCounter: c.releaseCounter };
    }
  }
  return mine;
}

export interface EcuVerificationInput {
  readonly serial: string;
  readonly hardwareId: string;
  readonly bundle: MetadataBundle;
  /** the ECU's secure time (ms) */
  readonly referenceTime: number;
  readonly previousReleaseCounter: number | undefined;
  readonly timestampLifetimeMs: number;
}

export interface EcuVerificationResult {
  readonly approved: ImageInfo | null;
  /** a verified lower bound of the current time (from the Director timestamp), if any */
  readonly verifiedTimeMs: number | undefined;
}

/** Uptane 5.4.4.2 on a Secondary, over forwarded files and the ECU's own stores. */
export async function verifyFull(input: EcuVerificationInput & { readonly directorStore: MetadataStore; readonly imageStore: MetadataStore }): Promise<EcuVerificationResult> {
  const director = new Updater({ metadataBaseUrl: DIRECTOR_BASE, fetcher: new BundleFetcher(input.bundle.director, DIRECTOR_BASE), store: input.directorStore, referenceTime: input.referenceTime });
  // Steps 2-5: Director root chain, timestamp, snapshot, targets.
  await director.refresh();
  const verifiedTimeMs = director.trusted.timestamp!.signed.expiresMs - input.timestampLifetimeMs;
  const mine = ownDirectorTarget(director.trusted.targets!.signed, input.serial, input.hardwareId, input.previousReleaseCounter);
  // Step 6: nothing assigned to this ECU, nothing more to check.
  if (mine === undefined) return { approved: null, verifiedTimeMs };
  const image = new Updater({ metadataBaseUrl: IMAGE_BASE, fetcher: new BundleFetcher(input.bundle.image, IMAGE_BASE), store: input.imageStore, referenceTime: input.referenceTime });
  // Steps 7-9: the Image repository.
  await image.refresh();
  const found = await image.search(mine.target.path);
  // Step 10: the Director's target is the Image repository's (length, hashes, hardware, counter).
  const v = matchDirectorToImage(mine, found.target, found.role, input.previousReleaseCounter);
  return { approved: imageInfoOf(v.target, v.releaseCounter), verifiedTimeMs };
}

export interface PartialResult extends EcuVerificationResult {
  readonly state: PartialVerificationState;
  /** bytes of the newest Director root accepted in this verification, when it changed */
  readonly newRoot: Uint8Array | undefined;
}

/** Uptane 5.4.4.1 on a Secondary: Director root chain + Director targets, own trusted state. */
export function verifyPartial(input: EcuVerificationInput & { readonly state: PartialVerificationState }): PartialResult {
  const files = input.bundle.director;
  const newRoots: Uint8Array[] = [];
  for (let v = input.state.root.signed.version + 1; files.has(`${v}.root.json`); v++) newRoots.push(files.get(`${v}.root.json`)!);
  const targets = files.get('targets.json');
  if (targets === undefined) throw new RepositoryError('MISSING_METADATA', 'the Primary forwarded no Director targets metadata');
  const r = partialVerification({
    state: input.state, newRoots, targets, ecuSerial: input.serial, hardwareId: input.hardwareId, referenceTime: input.referenceTime,
    ...(input.previousReleaseCounter === undefined ? {} : { previousReleaseCounter: input.previousReleaseCounter }),
  });
  let verifiedTimeMs: number | undefined;
  const ts = files.get('timestamp.json');
  if (ts !== undefined) {
    // Only for the time source: the Director timestamp signed by the (new) trusted root's keys.
    if (ts.byteLength > DEFAULT_LIMITS.timestampMaxLength) throw new DownloadLengthError(`Director timestamp exceeds ${DEFAULT_LIMITS.timestampMaxLength} bytes`);
    const md = Metadata.fromBytes(ts, 'timestamp');
    const root = r.state.root.signed;
    verifyThreshold('director timestamp', root.keys, root.role('timestamp'), md);
    verifiedTimeMs = md.signed.expiresMs - input.timestampLifetimeMs;
  }
  return {
    approved: r.target === undefined ? null : imageInfoOf(r.target.target, r.target.releaseCounter),
    verifiedTimeMs,
    state: r.state,
    newRoot: newRoots.at(-1),
  };
}

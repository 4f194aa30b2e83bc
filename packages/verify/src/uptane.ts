/**
 * Uptane 2.1 metadata verification on the vehicle (§5.4.4).
 *
 * Full verification (§5.4.4.2, Primaries and capable Secondaries): the Director repository
 * (root, timestamp, snapshot, targets), then the Image repository, then every Director target
 * matched against the Image repository. Partial verification (§5.4.4.1, Secondaries): Director
 * targets only, with the Director root chain.
 */
import { DownloadLengthError, Metadata, readUptaneCustom, verifyThreshold } from '@reflash/metadata';
import type { Root, TargetFile, Targets } from '@reflash/metadata';
import { limits as makeLimits } from './config.js';
import type { Limits } from './config.js';
import { ExpiredMetadataError, RollbackError, uptaneError } from './errors.js';
import { verifyRootUpdate } from './trusted-set.js';
import type { Updater } from './updater.js';

/** The ECUs of this vehicle: serial -> hardware identifier (from the vehicle's own configuration). */
export type EcuMap = ReadonlyMap<string, string>;

export interface DirectorTarget {
  readonly ecuSerial: string;
  readonly hardwareId: string;
  readonly target: TargetFile;
  readonly releaseCounter: number | undefined;
}

/**
 * Uptane 5.4.4.6 steps 6-8 on verified Director targets metadata: no delegations, each ECU
 * identifier at most once, every ECU identifier belongs to this vehicle with the hardware
 * identifier the vehicle knows for it.
 */
export function checkDirectorTargets(targets: Targets, ecus: EcuMap): DirectorTarget[] {
  // 5.4.4.6 step 6: the Director does not delegate.
  if (targets.delegations !== undefined) throw uptaneError('DIRECTOR_DELEGATION', 'Director targets metadata must not contain delegations');
  const seen = new Set<string>();
  const out: DirectorTarget[] = [];
  for (const t of targets.targets.values()) {
    const custom = readUptaneCustom(t);
    const ids = custom.ecuIdentifiers;
    // §5.2.3.1.1: Director targets SHALL name the ECU that must install them.
    if (ids === undefined || Object.keys(ids).length === 0) throw uptaneError('MISSING_ECU_ID', `Director target ${t.path} names no ECU`);
    for (const [serial, { hardwareId }] of Object.entries(ids)) {
      // 5.4.4.6 step 7: no ECU identifier is represented more than once.
      if (seen.has(serial)) throw uptaneError('DUPLICATE_ECU_ID', `ECU ${serial} is listed more than once in Director targets`);
      seen.add(serial);
      // 5.4.4.6 step 8: the ECU identifier is one of this vehicle's ECUs.
      const known = ecus.get(serial);
      if (known === undefined) throw uptaneError('BAD_ECU_ID', `ECU ${serial} in Director targets is not part of this vehicle`);
      if (known !== hardwareId) throw uptaneError('BAD_HARDWARE_ID', `ECU ${serial} has hardware id ${known}, Director says ${hardwareId}`);
      out.push({ ecuSerial: serial, hardwareId, target: t, releaseCounter: custom.releaseCounter });
    }
  }
  return out;
}

export interface VerifiedTarget extends DirectorTarget {
  /** the matching Image-repository target (same file name) */
  readonly image: TargetFile;
  /** the Image-repository role that listed it */
  readonly imageRole: string;
}

/**
 * Uptane 5.4.4.2 step 10 for one Director target, with the Image repository target of the same
 * file name. `previousReleaseCounter` is what the ECU last installed (from vehicle state).
 */
export function matchDirectorToImage(d: DirectorTarget, image: TargetFile | undefined, imageRole: string | undefined, previousReleaseCounter?: number): VerifiedTarget {
  // step 10.1: the image must exist in the Image repository (arbitrary software attack by a
  // compromised Director).
  if (image === undefined || imageRole === undefined) throw uptaneError('TARGET_NOT_IN_IMAGE_REPO', `Director target ${d.target.path} is not in the Image repository`);
  // step 10.2.1: non-custom metadata (length and hashes) are identical.
  if (!d.target.sameFileAs(image)) throw uptaneError('TARGET_MISMATCH', `Director target ${d.target.path} differs from the Image repository (length or hashes)`);
  const ic = readUptaneCustom(image);
  // step 10.2.2: the SHALL-match custom fields: hardware identifier and release counter.
  if (ic.hardwareIds !== undefined && !ic.hardwareIds.includes(d.hardwareId)) {
    throw uptaneError('BAD_HARDWARE_ID', `image ${image.path} is for hardware ${ic.hardwareIds.join(', ')}, not ${d.hardwareId}`);
  }
  if (ic.releaseCounter !== d.releaseCounter && (ic.releaseCounter !== undefined || d.releaseCounter !== undefined)) {
    throw uptaneError('TARGET_MISMATCH', `release counter of ${image.path}: Director ${String(d.releaseCounter)}, Image repository ${String(ic.releaseCounter)}`);
  }
  // step 10.2.3 (and 5.4.3.4 step 5): the release counter never decreases.
  if (previousReleaseCounter !== undefined && ic.releaseCounter !== undefined && ic.releaseCounter < previousReleaseCounter) {
    throw uptaneError('RELEASE_COUNTER_ROLLBACK', `image ${image.path} has release counter ${ic.releaseCounter} < installed ${previousReleaseCounter}`);
  }
  return { ...d, image, imageRole };
}

export interface FullVerificationInput {
  readonly director: Updater;
  readonly image: Updater;
  readonly ecus: EcuMap;
  /** ECU serial -> release counter of the installed image */
  readonly installedReleaseCounters?: ReadonlyMap<string, number>;
}

export interface FullVerificationResult {
  readonly directorTargetsVersion: number;
  readonly targets: readonly VerifiedTarget[];
}

/**
 * Uptane 5.4.4.2 full verification. Both updaters must share one reference time (step 1).
 * Steps 2-5: Director root, timestamp, snapshot, targets; step 6: stop if nothing to install;
 * steps 6-9: Image repository; step 10: match every Director target.
 */
export async function fullVerification(input: FullVerificationInput): Promise<FullVerificationResult> {
  await input.director.refresh();
  const dTargets = input.director.trusted.targets!;
  const directorTargets = checkDirectorTargets(dTargets.signed, input.ecus);
  if (directorTargets.length === 0) return { directorTargetsVersion: dTargets.signed.version, targets: [] };
  await input.image.refresh();
  const out: VerifiedTarget[] = [];
  for (const d of directorTargets) {
    const found = await input.image.search(d.target.path);
    out.push(matchDirectorToImage(d, found.target, found.role, input.installedReleaseCounters?.get(d.ecuSerial)));
  }
  return { directorTargetsVersion: dTargets.signed.version, targets: out };
}

export interface PartialVerificationState {
  /** the Director root this ECU trusts */
  readonly root: Metadata<Root>;
  /** highest Director targets version accepted so far (0 if none) */
  readonly targetsVersion: number;
}

export interface PartialVerificationInput {
  readonly state: PartialVerificationState;
  /** Director root versions N+1, N+2, ... (may be empty) */
  readonly newRoots: readonly Uint8Array[];
  readonly targets: Uint8Array;
  readonly ecuSerial: string;
  readonly hardwareId: string;
  readonly referenceTime: number;
  readonly previousReleaseCounter?: number;
  readonly limits?: Partial<Limits>;
}

export interface PartialVerificationResult {
  readonly state: PartialVerificationState;
  /** the target for this ECU, if the Director names one */
  readonly target: DirectorTarget | undefined;
}

/**
 * Uptane 5.4.4.1 partial verification: the Director root chain (5.4.4.3), then Director targets
 * (5.4.4.6): signatures by the Director targets role, no rollback, not expired, no delegations,
 * each ECU at most once; then this ECU's image (hardware id, release counter; 5.4.3.4).
 */
export function partialVerification(input: PartialVerificationInput): PartialVerificationResult {
  const lim = makeLimits(input.limits);
  let root = input.state.root;
  if (input.newRoots.length > lim.maxRootRotations) throw uptaneError('ROOT_ROTATIONS', `more than ${lim.maxRootRotations} root versions`);
  for (const bytes of input.newRoots) root = verifyRootUpdate(root, bytes, lim.rootMaxLength);
  // 5.4.4.3 step 3: the final root is not expired.
  if (root.signed.isExpired(input.referenceTime)) throw new ExpiredMetadataError(`Director root v${root.signed.version} expired`);
  // Uptane 4.3.3 endless data: a download error (DownloadLengthError), not a repository error.
  if (input.targets.byteLength > lim.targetsMaxLength) throw new DownloadLengthError(`Director targets exceeds ${lim.targetsMaxLength} bytes`);
  const md = Metadata.fromBytes(input.targets, 'targets');
  // 5.4.4.6 step 3: threshold of Director targets keys (an unknown key signs nothing).
  verifyThreshold('director targets', root.signed.keys, root.signed.role('targets'), md);
  // 5.4.4.6 step 4: rollback.
  if (md.signed.version < input.state.targetsVersion) throw new RollbackError(`Director targets version ${md.signed.version} < trusted ${input.state.targetsVersion}`);
  // 5.4.4.6 step 5: freeze.
  if (md.signed.isExpired(input.referenceTime)) throw new ExpiredMetadataError(`Director targets v${md.signed.version} expired at ${md.signed.expires}`);
  // 5.4.4.6 steps 6-8, restricted to what a Secondary knows: itself.
  if (md.signed.delegations !== undefined) throw uptaneError('DIRECTOR_DELEGATION', 'Director targets metadata must not contain delegations');
  const seen = new Set<string>();
  let mine: DirectorTarget | undefined;
  for (const t of md.signed.targets.values()) {
    const c = readUptaneCustom(t);
    for (const [serial, { hardwareId }] of Object.entries(c.ecuIdentifiers ?? {})) {
      if (seen.has(serial)) throw uptaneError('DUPLICATE_ECU_ID', `ECU ${serial} is listed more than once in Director targets`);
      seen.add(serial);
      if (serial !== input.ecuSerial) continue;
      // 5.4.3.4 step 3: the hardware identifier is this ECU's.
      if (hardwareId !== input.hardwareId) throw uptaneError('BAD_HARDWARE_ID', `Director says hardware ${hardwareId} for ECU ${serial}, this ECU is ${input.hardwareId}`);
      // 5.4.3.4 step 5: release counter does not decrease.
      if (input.previousReleaseCounter !== undefined && c.releaseCounter !== undefined && c.releaseCounter < input.previousReleaseCounter) {
        throw uptaneError('RELEASE_COUNTER_ROLLBACK', `release counter ${c.releaseCounter} < installed ${input.previousReleaseCounter}`);
      }
      mine = { ecuSerial: serial, hardwareId, target: t, releaseCounter: c.releaseCounter };
    }
  }
  return { state: { root, targetsVersion: md.signed.version }, target: mine };
}

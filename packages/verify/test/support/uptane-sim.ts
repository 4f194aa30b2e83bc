/**
 * Uptane simulator: an Image repository and a Director repository (per vehicle), each a
 * Simulator, and a vehicle with ECUs. The Director's targets name images per ECU serial.
 */
import { TargetFile, Targets, uptaneCustom } from '@reflash/metadata';
import type { Metadata } from '@reflash/metadata';
import { commonOf } from '@reflash/metadata';
import { Simulator } from './simulator.js';
import { fullVerification } from '../../src/uptane.js';
import type { EcuMap, FullVerificationResult } from '../../src/uptane.js';

export class UptaneSimulator {
  readonly image = new Simulator();
  readonly director = new Simulator();
  readonly ecus = new Map<string, string>([
    ['ecu-primary', 'hw-gateway'],
    ['ecu-brake', 'hw-brake'],
    ['ecu-steer', 'hw-steer'],
  ]);

  /** Publish an image in the Image repository (top-level targets unless `role`). */
  addImage(path: string, data: Uint8Array, hardwareIds: string[], releaseCounter?: number, role = 'targets'): TargetFile {
    const tf = this.image.repo.addTarget(path, data, uptaneCustom({ hardwareIds, ...(releaseCounter === undefined ? {} : { releaseCounter }) }), role);
    this.image.repo.publish();
    return tf;
  }

  /** The Director assigns `image` (as published) to ECU `serial`. */
  assign(serial: string, image: TargetFile, overrides: { hardwareId?: string; releaseCounter?: number; hashes?: Record<string, string>; length?: number } = {}): void {
    const hw = overrides.hardwareId ?? this.ecus.get(serial) ?? 'unknown-hw';
    const rc = overrides.releaseCounter ?? (image.custom?.['releaseCounter'] as number | undefined);
    const custom = uptaneCustom({ ecuIdentifiers: { [serial]: { hardwareId: hw } }, ...(rc === undefined ? {} : { releaseCounter: rc }) });
    const tf = new TargetFile({ path: image.path, length: overrides.length ?? image.length, hashes: overrides.hashes ?? image.hashes, custom });
    this.director.repo.putTargetFile(tf);
    this.director.repo.publish();
  }

  /** Replace Director targets wholesale (for malformed-assignment attacks). */
  setDirectorTargets(targets: TargetFile[]): void {
    const old = this.director.repo.targetsOf().signed;
    this.director.repo.replaceTargets('targets', new Targets({ ...commonOf(old), targets: new Map(targets.map((t) => [t.path, t])), delegations: old.delegations }));
    this.director.repo.publish();
  }

  ecuMap(): EcuMap {
    return this.ecus;
  }

  /** One update cycle of Uptane full verification with fresh updaters (shared reference time). */
  full(opts: { installedReleaseCounters?: ReadonlyMap<string, number>; referenceTime?: number } = {}): Promise<FullVerificationResult> {
    const t = opts.referenceTime === undefined ? {} : { referenceTime: opts.referenceTime };
    return fullVerification({
      director: this.director.updater(t),
      image: this.image.updater(t),
      ecus: this.ecus,
      ...(opts.installedReleaseCounters === undefined ? {} : { installedReleaseCounters: opts.installedReleaseCounters }),
    });
  }

  directorTargetsBytes(): Uint8Array {
    const md: Metadata<Targets> = this.director.repo.targetsOf();
    return md.toBytes();
  }
}

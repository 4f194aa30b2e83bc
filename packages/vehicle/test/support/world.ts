/**
 * The repositories a vehicle talks to, in memory (like packages/verify/test/support/
 * uptane-sim.ts): an Image repository with release 1 (the factory images) and release 2 of
 * every ECU's firmware, and the vehicle's Director repository, which assigns images per ECU
 * serial (`ecuIdentifiers`, `releaseCounter`, optional `campaign`). Everything is derived
 * from a seed, so the same world can be rebuilt byte for byte in another process.
 */
import { RepositoryBuilder, TargetFile, Targets, commonOf, uptaneCustom } from '@reflash/metadata';
import type { RoleType } from '@reflash/metadata';
import type { VerificationMode } from '../../src/link.js';
import { seededBytes, seededSigner } from './deterministic.js';

export const NOW = Date.parse('2026-11-21T12:00:00Z');
export const DAY = 86_400_000;

export interface EcuSpec {
  readonly serial: string;
  readonly hardwareId: string;
  readonly verification: VerificationMode;
}

export const VIN = 'WREFLASH000000001';
export const PRIMARY_SERIAL = 'gw-0001';

/** A gateway (the Primary's own ECU, full), a brake ECU (full), a steering ECU (partial). */
export const DEFAULT_ECUS: readonly EcuSpec[] = [
  { serial: PRIMARY_SERIAL, hardwareId: 'hw-gateway', verification: 'full' },
  { serial: 'brk-0001', hardwareId: 'hw-brake', verification: 'full' },
  { serial: 'str-0001', hardwareId: 'hw-steer', verification: 'partial' },
];

function repository(seed: string, name: string, now: number): RepositoryBuilder {
  const rk = (r: RoleType) => ({ signers: [seededSigner(seed, `${name}/${r}`)], threshold: 1 });
  return new RepositoryBuilder({ now, keys: { root: rk('root'), timestamp: rk('timestamp'), snapshot: rk('snapshot'), targets: rk('targets') } });
}

export interface Release {
  readonly path: string;
  readonly data: Buffer;
  readonly target: TargetFile;
}

export class World {
  readonly seed: string;
  readonly ecus: readonly EcuSpec[];
  readonly image: RepositoryBuilder;
  readonly director: RepositoryBuilder;
  /** `${hardwareId}@${release}` -> release */
  readonly releases = new Map<string, Release>();

  constructor(opts: { seed?: string; ecus?: readonly EcuSpec[]; imageBytes?: number; now?: number } = {}) {
    this.seed = opts.seed ?? 'reflash-vehicle-test';
    this.ecus = opts.ecus ?? DEFAULT_ECUS;
    const now = opts.now ?? NOW;
    this.image = repository(this.seed, 'image', now);
    this.director = repository(this.seed, 'director', now);
    const size = opts.imageBytes ?? 8 * 1024;
    for (const hw of new Set(this.ecus.map((e) => e.hardwareId))) {
      for (const rc of [1, 2]) this.publish(hw, rc, seededBytes(this.seed, `${hw}@${rc}`, size + rc * 100));
    }
  }

  /** Publish `data` as release `rc` for `hw` in the Image repository. */
  publish(hw: string, rc: number, data: Buffer, path = `${hw}/firmware-${rc}.bin`): Release {
    const target = this.image.addTarget(path, data, uptaneCustom({ hardwareIds: [hw], releaseCounter: rc }));
    this.image.publish();
    const r = { path, data, target };
    this.releases.set(`${hw}@${rc}`, r);
    return r;
  }

  release(hw: string, rc: number): Release {
    const r = this.releases.get(`${hw}@${rc}`);
    if (r === undefined) throw new Error(`no release ${rc} for ${hw}`);
    return r;
  }

  spec(serial: string): EcuSpec {
    const s = this.ecus.find((e) => e.serial === serial);
    if (s === undefined) throw new Error(`no ECU ${serial}`);
    return s;
  }

  /** The Director assigns `target` to ECU `serial` (the Image repository's length and hashes unless overridden). */
  assign(serial: string, target: TargetFile, over: { campaign?: Record<string, unknown>; releaseCounter?: number; hardwareId?: string; publish?: boolean } = {}): void {
    const hw = over.hardwareId ?? this.spec(serial).hardwareId;
    const rc = over.releaseCounter ?? (target.custom?.['releaseCounter'] as number | undefined);
    const custom = uptaneCustom({ ecuIdentifiers: { [serial]: { hardwareId: hw } }, ...(rc === undefined ? {} : { releaseCounter: rc }) }, over.campaign === undefined ? {} : { campaign: over.campaign });
    this.director.putTargetFile(new TargetFile({ path: target.path, length: target.length, hashes: target.hashes, custom }));
    if (over.publish !== false) this.director.publish();
  }

  /** The Director assigns release `rc` to every ECU (one publish). */
  assignAll(rc = 2, campaign?: Record<string, unknown>): void {
    for (const e of this.ecus) this.assign(e.serial, this.release(e.hardwareId, rc).target, { publish: false, ...(campaign === undefined ? {} : { campaign }) });
    this.director.publish();
  }

  /** Replace the Director's targets wholesale. */
  setDirectorTargets(targets: readonly TargetFile[]): void {
    const old = this.director.targetsOf().signed;
    this.director.replaceTargets('targets', new Targets({ ...commonOf(old), targets: new Map(targets.map((t) => [t.path, t])) }));
    this.director.publish();
  }

  directorRoot(): Uint8Array {
    return this.director.files.get('1.root.json')!;
  }

  imageRoot(): Uint8Array {
    return this.image.files.get('1.root.json')!;
  }
}

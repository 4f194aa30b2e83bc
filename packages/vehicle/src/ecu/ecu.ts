/**
 * A (simulated) Secondary ECU, or the Primary's own ECU: identity, its own key, a persisted
 * monotonic report counter, a secure time source, its own Uptane verification (full or
 * partial), A/B banks with boot attempts and automatic fallback, measured boot and attestation.
 * State lives in one folder; every change is persisted atomically before it takes effect.
 * Opening an ECU is a power-on: the bootloader selects a bank (counting a pending bank's
 * attempt) and measures the image it boots.
 *
 *   <dir>/ecu.json        identity          <dir>/banks.json   bank record (bank-record.ts)
 *   <dir>/key.pem|json    simulator key     <dir>/bank-a.img, bank-b.img
 *   <dir>/counter.json    report counter    <dir>/verify.json  approved image, targets version
 *   <dir>/time.json       secure time       <dir>/attacks.json attacks not yet reported
 *   <dir>/metadata/{director,image}/        trusted metadata (roots installed at provisioning)
 */
import { join } from 'node:path';
import {
  DownloadError, HashMismatchError, LengthMismatchError, Metadata, RepositoryError, formatExpires, signEcuReport,
} from '@reflash/metadata';
import type { EcuVersionReport, Key, PrivateKeySigner } from '@reflash/metadata';
import { vehicleConfig } from '../config.js';
import type { VehicleConfig } from '../config.js';
import { sameImage } from '../digest.js';
import type { ImageInfo } from '../digest.js';
import { EcuCodes, EcuError, EcuRefusedError, StateFileError } from '../errors.js';
import { removeTempFiles } from '../io/atomic.js';
import { FileMetadataStore } from '../io/fs-store.js';
import type { BootResult, EcuLink, EcuStatus, MetadataBundle, VerificationMode } from '../link.js';
import { createAttestation } from './attestation.js';
import { AttackLog } from './attack-log.js';
import { activate, bootFailedGood, bootSelect, confirmRunning, markWriting, markWritten, otherBank, planInstall, rollbackFrom } from './bank-record.js';
import type { BankRecord } from './bank-record.js';
import { BankStore } from './bank-store.js';
import { MonotonicCounter } from './counter.js';
import { loadIdentity } from './identity.js';
import { loadEcuKey } from './keys.js';
import { registerFor } from './measured-boot.js';
import { SecureTime } from './secure-time.js';
import type { MonotonicClock } from './secure-time.js';
import { verifyFull, verifyPartial } from './verification.js';
import { readVerifyState, writeVerifyState } from './verify-state.js';
import type { VerifyState } from './verify-state.js';

export interface EcuOptions {
  readonly config?: Partial<Pick<VehicleConfig, 'maxBootAttempts' | 'directorTimestampLifetimeMs'>>;
  /** The application's self-test after a boot (a watchdog resets the ECU when it fails). Default: healthy. */
  readonly healthCheck?: (serial: string, image: ImageInfo) => boolean | Promise<boolean>;
  /** Monotonic clock for the secure time source (default performance.now). */
  readonly monotonic?: MonotonicClock;
  /** Simulated flash programming time per chunk (ms). */
  readonly flashWriteDelayMs?: number;
}

interface Parts {
  readonly dir: string;
  readonly serial: string;
  readonly hardwareId: string;
  readonly verificationMode: VerificationMode;
  readonly signer: PrivateKeySigner;
  readonly banks: BankStore;
  readonly record: BankRecord;
  readonly counter: MonotonicCounter;
  readonly time: SecureTime;
  readonly attacks: AttackLog;
  readonly verify: VerifyState;
  readonly opts: EcuOptions;
}

export class Ecu implements EcuLink {
  readonly dir: string;
  readonly serial: string;
  readonly hardwareId: string;
  readonly verificationMode: VerificationMode;
  /** SIMULATOR key (ecu/keys.ts); a production ECU signs inside its HSM */
  readonly signer: PrivateKeySigner;
  readonly key: Key;
  readonly time: SecureTime;
  readonly #banks: BankStore;
  readonly #counter: MonotonicCounter;
  readonly #attacks: AttackLog;
  readonly #directorStore: FileMetadataStore;
  readonly #imageStore: FileMetadataStore;
  readonly #cfg: VehicleConfig;
  readonly #health: (serial: string, image: ImageInfo) => boolean | Promise<boolean>;
  #record: BankRecord;
  #verify: VerifyState;
  #running: BootResult | undefined;

  private constructor(p: Parts) {
    this.dir = p.dir;
    this.serial = p.serial;
    this.hardwareId = p.hardwareId;
    this.verificationMode = p.verificationMode;
    this.signer = p.signer;
    this.key = p.signer.key;
    this.time = p.time;
    this.#banks = p.banks;
    this.#record = p.record;
    this.#counter = p.counter;
    this.#attacks = p.attacks;
    this.#verify = p.verify;
    this.#directorStore = new FileMetadataStore(join(p.dir, 'metadata', 'director'));
    this.#imageStore = new FileMetadataStore(join(p.dir, 'metadata', 'image'));
    this.#cfg = vehicleConfig(p.opts.config);
    this.#health = p.opts.healthCheck ?? (() => true);
  }

  /** Power on an ECU from its state folder (see provision.ts): load, select a bank, boot it. */
  static async open(dir: string, opts: EcuOptions = {}): Promise<Ecu> {
    await removeTempFiles(dir);
    const id = await loadIdentity(dir);
    const banks = new BankStore(dir, opts.flashWriteDelayMs ?? 0);
    const ecu = new Ecu({
      dir, serial: id.serial, hardwareId: id.hardwareId, verificationMode: id.verification, opts, banks,
      signer: await loadEcuKey(dir),
      record: await banks.load(),
      counter: await MonotonicCounter.open(join(dir, 'counter.json')),
      time: await SecureTime.open(join(dir, 'time.json'), opts.monotonic),
      attacks: await AttackLog.open(join(dir, 'attacks.json')),
      verify: await readVerifyState(dir),
    });
    await ecu.#boot();
    return ecu;
  }

  /** The persisted bank record (read-only view). */
  get record(): BankRecord {
    return this.#record;
  }

  /** The last boot, with the running bank's current status (it becomes 'good' on confirm). */
  get running(): BootResult {
    const run = this.#running;
    if (run === undefined) throw new StateFileError(`ECU ${this.serial} has not booted`);
    const status = this.#record.banks[run.bank].status;
    return status === run.status ? run : { ...run, status };
  }

  /** Attacks recorded and not yet acknowledged. */
  get pendingAttacks(): readonly string[] {
    return this.#attacks.pending;
  }

  async #save(r: BankRecord): Promise<void> {
    await this.#banks.save(r);
    this.#record = r;
  }

  async #saveVerify(s: VerifyState): Promise<void> {
    await writeVerifyState(this.dir, s);
    this.#verify = s;
  }

  /**
   * Reset: the bootloader selects a bank (a pending bank's attempt is counted and persisted
   * before it runs; past maxBootAttempts it falls back), measures the bytes it boots into a
   * fresh register, and the application's health check runs. A pending image that is not
   * healthy is reset by the watchdog and tried again, until the bootloader gives up on it.
   */
  async #boot(): Promise<BootResult> {
    const max = this.#cfg.maxBootAttempts;
    let fellBack = false;
    let last: BootResult | undefined;
    for (let i = 0; i <= max + 3; i++) {
      const sel = bootSelect(this.#record, max);
      if (sel.record !== this.#record) await this.#save(sel.record);
      fellBack ||= sel.fellBack;
      const bank = this.#record.banks[sel.bank];
      const m = await this.#banks.measure(sel.bank, bank.image);
      const healthy = m.intact && bank.image !== null && await this.#health(this.serial, bank.image);
      last = { bank: sel.bank, status: bank.status, image: bank.image, measuredSha256: m.sha256, register: registerFor([m.sha256]), healthy, fellBack };
      if (healthy) break;
      if (bank.status === 'pending') continue; // watchdog reset
      // A good bank that fails secure boot: the other good bank, if there is one.
      const alt = m.intact ? undefined : bootFailedGood(this.#record);
      if (alt === undefined) break;
      await this.#save(alt);
    }
    this.#running = last;
    return last!;
  }

  async versionReport(opts: { readonly nonce?: string } = {}): Promise<EcuVersionReport> {
    // Uptane 5.4.2.1.2: the counter is durable before the report that carries it is released.
    const counter = await this.#counter.next();
    const attacks = await this.#attacks.include(counter);
    await this.time.checkpoint();
    const run = this.running;
    if (run.image === null) throw new EcuError(EcuCodes.BAD_BANK_RECORD, `ECU ${this.serial} runs a bank without an image record`);
    const nonce = opts.nonce;
    const attestation = createAttestation({ ecuSerial: this.serial, register: run.register, imageSha256: run.measuredSha256, nonce: nonce ?? '', counter }, this.signer);
    return signEcuReport({
      ecuSerial: this.serial,
      installedImage: { filepath: run.image.filepath, length: run.image.length, hashes: run.image.hashes },
      attacksDetected: attacks,
      reportCounter: counter,
      ...(nonce === undefined ? {} : { nonce }),
      latestTime: formatExpires(this.time.now()),
      attestation,
    }, this.signer);
  }

  acknowledgeReport(counter: number): Promise<void> {
    return this.#attacks.acknowledge(counter);
  }

  recordAttack(description: string): Promise<void> {
    return this.#attacks.add(description);
  }

  /** Refusals by this ECU are attacks (recorded) and EcuRefusedError for the caller. */
  async #refuse(err: RepositoryError | DownloadError): Promise<never> {
    await this.#attacks.add(`${err.code}: ${err.message}`);
    throw new EcuRefusedError(this.serial, err.code, err.message, { cause: err });
  }

  async verifyMetadata(bundle: MetadataBundle): Promise<ImageInfo | null> {
    const base = {
      serial: this.serial, hardwareId: this.hardwareId, bundle,
      referenceTime: this.time.now(),
      previousReleaseCounter: this.running.image?.releaseCounter,
      timestampLifetimeMs: this.#cfg.directorTimestampLifetimeMs,
    };
    let approved: ImageInfo | null;
    let verifiedTimeMs: number | undefined;
    let targetsVersion = this.#verify.targetsVersion;
    try {
      if (this.verificationMode === 'full') {
        ({ approved, verifiedTimeMs } = await verifyFull({ ...base, directorStore: this.#directorStore, imageStore: this.#imageStore }));
      } else {
        const rootBytes = await this.#directorStore.load('root');
        if (rootBytes === undefined) throw new StateFileError(`ECU ${this.serial}: no trusted Director root`);
        const r = verifyPartial({ ...base, state: { root: Metadata.fromBytes(rootBytes, 'root'), targetsVersion } });
        // Only verified metadata is persisted (CONVENTIONS.md §8).
        if (r.newRoot !== undefined) await this.#directorStore.save('root', r.newRoot);
        ({ approved, verifiedTimeMs } = r);
        targetsVersion = r.state.targetsVersion;
      }
    } catch (err) {
      if (err instanceof RepositoryError || err instanceof DownloadError) return this.#refuse(err);
      throw err;
    }
    await this.#saveVerify({ targetsVersion, approved });
    if (verifiedTimeMs !== undefined) await this.time.advanceTo(verifiedTimeMs);
    return approved;
  }

  #approved(): ImageInfo {
    const a = this.#verify.approved;
    if (a === null) throw new EcuError(EcuCodes.NO_APPROVED_IMAGE, `ECU ${this.serial} has not approved an image (verifyMetadata first)`);
    return a;
  }

  async writeInactive(image: AsyncIterable<Uint8Array>): Promise<void> {
    const approved = this.#approved();
    const plan = planInstall(this.#record);
    const inactive = this.#record.banks[plan.bank];
    // Already written and verified (a resumed distribution): nothing to do.
    if (inactive.status === 'bad' && inactive.image !== null && sameImage(inactive.image, approved) && (await this.#banks.measure(plan.bank, approved)).intact) return;
    // Mark the target bank bad BEFORE the first byte is written (CONVENTIONS.md §9).
    await this.#save(markWriting(this.#record, plan));
    try {
      await this.#banks.write(plan.bank, image, approved);
    } catch (err) {
      // More bytes than approved, or other bytes: the in-vehicle path is not to be trusted.
      if (err instanceof LengthMismatchError || err instanceof HashMismatchError) return this.#refuse(err);
      throw err;
    }
    if (!(await this.#banks.measure(plan.bank, approved)).intact) throw new EcuError(EcuCodes.READBACK_MISMATCH, `ECU ${this.serial}: bank ${plan.bank} does not read back as written`);
    await this.#save(markWritten(this.#record, plan, approved));
  }

  async activate(): Promise<void> {
    const approved = this.#approved();
    const sel = this.#record.banks[this.#record.active];
    if (sel.status === 'pending' && sel.image !== null && sameImage(sel.image, approved)) return; // already switched
    const target = otherBank(this.#record.active);
    if (!(await this.#banks.measure(target, approved)).intact) throw new EcuError(EcuCodes.READBACK_MISMATCH, `ECU ${this.serial}: bank ${target} does not hold the approved image`);
    await this.#save(activate(this.#record, approved));
  }

  reboot(): Promise<BootResult> {
    return this.#boot();
  }

  status(): Promise<EcuStatus> {
    const inactive = this.#record.banks[otherBank(this.#record.active)];
    return Promise.resolve({
      serial: this.serial,
      running: this.running,
      staged: inactive.status === 'bad' ? inactive.image : null,
      approved: this.#verify.approved,
    });
  }

  async confirm(): Promise<void> {
    const run = this.running;
    const sel = this.#record.banks[this.#record.active];
    const approved = this.#verify.approved;
    if (sel.status === 'good' && run.bank === this.#record.active && run.healthy && (approved === null || (sel.image !== null && sameImage(sel.image, approved)))) {
      if (approved !== null) await this.#saveVerify({ ...this.#verify, approved: null });
      return; // already confirmed
    }
    if (sel.status !== 'pending' || run.bank !== this.#record.active || !run.healthy) {
      throw new EcuError(EcuCodes.NOT_RUNNING_PENDING, `ECU ${this.serial} does not run a healthy pending bank (bank ${run.bank}, ${sel.status})`);
    }
    await this.#save(confirmRunning(this.#record));
    await this.#saveVerify({ ...this.#verify, approved: null });
  }

  async rollback(from: ImageInfo): Promise<BootResult> {
    const plan = rollbackFrom(this.#record, from);
    if (plan.record !== this.#record) await this.#save(plan.record);
    if (this.#verify.approved !== null) await this.#saveVerify({ ...this.#verify, approved: null });
    if (plan.reboot || this.running.bank !== this.#record.active) return this.#boot();
    return this.running;
  }
}

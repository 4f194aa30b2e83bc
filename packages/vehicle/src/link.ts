/**
 * The in-vehicle interface between the Primary and each ECU it updates (its own included).
 * `Ecu` (ecu/ecu.ts) implements it in-process; a UDS (ISO 14229) over DoIP (ISO 13400) or
 * ISO-TP transport would implement the same calls (STANDARDS.md §3): read versions
 * (ReadDataByIdentifier), send metadata, transfer data in blocks (RequestDownload /
 * TransferData / RequestTransferExit), ECU reset, routine control for activate/confirm/rollback.
 */
import type { EcuVersionReport, Key } from '@reflash/metadata';
import type { ImageInfo } from './digest.js';
import type { BankId, BankStatus } from './ecu/bank-record.js';

/** Uptane 2.1 §5.4.4.1 (partial: Director targets only) or §5.4.4.2 (full: both repositories). */
export type VerificationMode = 'full' | 'partial';

/**
 * The metadata the Primary forwards to its Secondaries (Uptane 2.1 §5.4.2.3), per repository:
 * file name as the repository serves it (`N.root.json`, `timestamp.json`, `V.snapshot.json`,
 * `V.targets.json`, unversioned names too) -> bytes. Partial verifiers read the Director part.
 */
export interface MetadataBundle {
  readonly director: ReadonlyMap<string, Uint8Array>;
  readonly image: ReadonlyMap<string, Uint8Array>;
}

/** What one boot of an ECU did (simulated reset; measured boot). */
export interface BootResult {
  readonly bank: BankId;
  readonly status: BankStatus;
  /** the image the bank record says the bank holds */
  readonly image: ImageInfo | null;
  /** SHA-256 of the bytes actually booted */
  readonly measuredSha256: string;
  /** measured-boot register after this boot */
  readonly register: string;
  /** the bytes are the recorded image and the application came up */
  readonly healthy: boolean;
  /** the bootloader gave up on a pending bank during this boot and went back */
  readonly fellBack: boolean;
}

export interface EcuStatus {
  readonly serial: string;
  readonly running: BootResult;
  /** verified content of the inactive bank, written but not bootable yet */
  readonly staged: ImageInfo | null;
  /** the image this ECU's own verification approved for installation */
  readonly approved: ImageInfo | null;
}

export interface EcuLink {
  readonly serial: string;
  readonly hardwareId: string;
  readonly verificationMode: VerificationMode;
  /** the ECU's public key (version reports, attestations) */
  readonly key: Key;
  /** A signed ECU version report (Uptane 2.1 §5.4.2.1.2) with a fresh counter and attestation. */
  versionReport(opts?: { readonly nonce?: string }): Promise<EcuVersionReport>;
  /** Reports up to `counter` reached the Director: the attacks they carried are cleared. */
  acknowledgeReport(counter: number): Promise<void>;
  /** Something the Primary refused on this ECU's behalf (reported in attacks_detected). */
  recordAttack(description: string): Promise<void>;
  /**
   * The ECU's own verification of the forwarded metadata (full or partial). Returns the image
   * it approves for itself, or null when the Director assigns it nothing. Throws
   * EcuRefusedError (and records the attack) when the metadata does not verify.
   */
  verifyMetadata(bundle: MetadataBundle): Promise<ImageInfo | null>;
  /**
   * Write the approved image into the inactive bank (marked bad first; length and hashes checked).
   * The Primary reuses one buffer for the chunks: each is valid only until the next is asked for.
   */
  writeInactive(image: AsyncIterable<Uint8Array>): Promise<void>;
  /** Switch the boot selection to the written bank ('pending', boot-attempt counter reset). */
  activate(): Promise<void>;
  /** Reset the ECU: bootloader selection, measured boot, health check (watchdog resets included). */
  reboot(): Promise<BootResult>;
  status(): Promise<EcuStatus>;
  /** The running pending bank becomes 'good' (idempotent once confirmed). */
  confirm(): Promise<void>;
  /** Stop running (or discard) `from`: back to the previous good bank, rebooting if needed. */
  rollback(from: ImageInfo): Promise<BootResult>;
}

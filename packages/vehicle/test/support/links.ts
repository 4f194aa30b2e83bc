/**
 * An EcuLink that forwards to a real ECU, recording every call and optionally tampering with
 * what passes (an attacker on the in-vehicle network, or a compromised Primary).
 */
import type { EcuVersionReport, Key } from '@reflash/metadata';
import type { ImageInfo } from '../../src/digest.js';
import type { BootResult, EcuLink, EcuStatus, MetadataBundle, VerificationMode } from '../../src/link.js';

export interface LinkHooks {
  /** called before every forwarded call */
  readonly onCall?: (serial: string, method: string) => void;
  /** replace the metadata forwarded to the ECU */
  readonly bundle?: (b: MetadataBundle) => MetadataBundle;
}

export class InterceptedLink implements EcuLink {
  readonly calls: string[] = [];
  constructor(readonly inner: EcuLink, readonly hooks: LinkHooks = {}) {}

  get serial(): string { return this.inner.serial; }
  get hardwareId(): string { return this.inner.hardwareId; }
  get verificationMode(): VerificationMode { return this.inner.verificationMode; }
  get key(): Key { return this.inner.key; }

  #call(method: string): void {
    this.calls.push(method);
    this.hooks.onCall?.(this.serial, method);
  }

  versionReport(opts?: { readonly nonce?: string }): Promise<EcuVersionReport> { this.#call('versionReport'); return this.inner.versionReport(opts); }
  acknowledgeReport(counter: number): Promise<void> { this.#call('acknowledgeReport'); return this.inner.acknowledgeReport(counter); }
  recordAttack(d: string): Promise<void> { this.#call('recordAttack'); return this.inner.recordAttack(d); }
  verifyMetadata(b: MetadataBundle): Promise<ImageInfo | null> { this.#call('verifyMetadata'); return this.inner.verifyMetadata(this.hooks.bundle?.(b) ?? b); }
  writeInactive(image: AsyncIterable<Uint8Array>): Promise<void> { this.#call('writeInactive'); return this.inner.writeInactive(image); }
  activate(): Promise<void> { this.#call('activate'); return this.inner.activate(); }
  reboot(): Promise<BootResult> { this.#call('reboot'); return this.inner.reboot(); }
  status(): Promise<EcuStatus> { this.#call('status'); return this.inner.status(); }
  confirm(): Promise<void> { this.#call('confirm'); return this.inner.confirm(); }
  rollback(from: ImageInfo): Promise<BootResult> { this.#call('rollback'); return this.inner.rollback(from); }
}

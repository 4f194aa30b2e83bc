/**
 * Director-side verification of a vehicle version manifest (Uptane 2.1 §5.4.2.1.1, §5.4.2.1.2):
 * signed by the registered Primary key;
 * every ECU version report signed by that ECU's registered key; every ECU belongs to the vehicle;
 * each report's counter strictly greater than the last one accepted (the value that "SHALL
 * change each update cycle", §5.4.2.1.2), so a replayed report is refused.
 */
import { Role, checkThreshold } from '@reflash/metadata';
import type { EcuVersionReportFields, Key, Signable, VehicleManifest } from '@reflash/metadata';
import { manifestError } from './errors.js';

export interface RegisteredEcu {
  readonly hardwareId: string;
  readonly key: Key;
  /** last accepted report counter, undefined if none yet */
  readonly lastCounter: number | undefined;
}

export interface RegisteredVehicle {
  readonly vin: string;
  readonly primaryEcuSerial: string;
  readonly ecus: ReadonlyMap<string, RegisteredEcu>;
}

export interface VerifiedManifest {
  readonly reports: ReadonlyMap<string, EcuVersionReportFields>;
  /** ECUs that reported an attack (non-empty attacks_detected) */
  readonly attacks: ReadonlyArray<{ readonly ecuSerial: string; readonly report: string }>;
  /** registered ECUs without a report in this manifest */
  readonly missing: readonly string[];
}

type SignedBy = (key: Key, doc: Signable) => boolean;

function signedByKey(key: Key, doc: Signable): boolean {
  const id = key.keyId();
  return checkThreshold('ecu', new Map([[id, key]]), new Role([id], 1), doc).verified;
}

/** The same as signedByKey (threshold 1 of this one key), verified in libuv's thread pool. */
async function signedByKeyAsync(key: Key, doc: Signable): Promise<boolean> {
  const sig = doc.signatures.get(key.keyId());
  return sig !== undefined && key.verifyAsync(doc.signedBytes(), sig.sig);
}

/**
 * Signatures of a manifest verified ahead of the checks, e.g. concurrently in libuv's thread
 * pool (verifyManifestSignaturesAsync), so that a server can verify them before it takes the
 * vehicle's lock. Each result holds for one document and one key (by key id, the hash of the
 * whole key); the checks verify anything else themselves.
 */
export class ManifestSignatures {
  readonly #results: ReadonlyArray<{ readonly keyId: string; readonly doc: Signable; readonly ok: boolean }>;
  constructor(results: ReadonlyArray<{ readonly keyId: string; readonly doc: Signable; readonly ok: boolean }>) {
    this.#results = results;
  }
  /** The result for this document and key, or undefined when it was not verified ahead. */
  lookup(key: Key, doc: Signable): boolean | undefined {
    const id = key.keyId();
    return this.#results.find((r) => r.doc === doc && r.keyId === id)?.ok;
  }
}

/**
 * Verify, concurrently in libuv's thread pool (Key.verifyAsync), the signatures
 * verifyVehicleManifest will ask about with these keys: the manifest by the Primary's key, each
 * report by its ECU's key.
 */
export async function verifyManifestSignaturesAsync(manifest: VehicleManifest, keys: { readonly primaryEcuSerial: string; readonly ecus: ReadonlyMap<string, { readonly key: Key }> }): Promise<ManifestSignatures> {
  const asked: Array<{ keyId: string; doc: Signable; ok: Promise<boolean> }> = [];
  const ask = (key: Key | undefined, doc: Signable): void => {
    if (key !== undefined) asked.push({ keyId: key.keyId(), doc, ok: signedByKeyAsync(key, doc) });
  };
  ask(keys.ecus.get(keys.primaryEcuSerial)?.key, manifest);
  for (const [serial, report] of manifest.signed.ecuVersionReports) ask(keys.ecus.get(serial)?.key, report);
  const oks = await Promise.all(asked.map((a) => a.ok));
  return new ManifestSignatures(asked.map((a, i) => ({ keyId: a.keyId, doc: a.doc, ok: oks[i]! })));
}

export function verifyVehicleManifest(manifest: VehicleManifest, vehicle: RegisteredVehicle, opts: { expectedNonce?: string; signatures?: ManifestSignatures } = {}): VerifiedManifest {
  const ahead = opts.signatures;
  return check(manifest, vehicle, opts, ahead === undefined ? signedByKey : (key, doc) => ahead.lookup(key, doc) ?? signedByKey(key, doc));
}

function check(manifest: VehicleManifest, vehicle: RegisteredVehicle, opts: { expectedNonce?: string }, signedBy: SignedBy): VerifiedManifest {
  const m = manifest.signed;
  if (m.vin !== vehicle.vin) throw manifestError('VIN_MISMATCH', `manifest is for VIN ${m.vin}, not ${vehicle.vin}`);
  if (m.primaryEcuSerial !== vehicle.primaryEcuSerial) throw manifestError('PRIMARY_MISMATCH', `manifest names primary ${m.primaryEcuSerial}, registered ${vehicle.primaryEcuSerial}`);
  const primary = vehicle.ecus.get(vehicle.primaryEcuSerial);
  if (primary === undefined) throw manifestError('UNKNOWN_ECU', `primary ECU ${vehicle.primaryEcuSerial} is not registered`);
  // §5.4.2.1.1: the vehicle version manifest is signed by the Primary.
  if (!signedBy(primary.key, manifest)) throw manifestError('BAD_SIGNATURE', 'vehicle manifest is not signed by the registered primary ECU key');
  const reports = new Map<string, EcuVersionReportFields>();
  const attacks: Array<{ ecuSerial: string; report: string }> = [];
  for (const [serial, report] of m.ecuVersionReports) {
    const r = report.signed;
    if (r.ecuSerial !== serial) throw manifestError('SERIAL_MISMATCH', `report filed under ${serial} is for ECU ${r.ecuSerial}`);
    const ecu = vehicle.ecus.get(serial);
    if (ecu === undefined) throw manifestError('UNKNOWN_ECU', `ECU ${serial} is not registered to vehicle ${vehicle.vin}`);
    // §5.4.2.1.2: each ECU version report is signed by its ECU.
    if (!signedBy(ecu.key, report)) throw manifestError('BAD_SIGNATURE', `ECU version report of ${serial} is not signed by its registered key`);
    // §5.4.2.1.2: the counter changes every cycle; reuse means replay.
    if (ecu.lastCounter !== undefined && r.reportCounter <= ecu.lastCounter) {
      throw manifestError('COUNTER_REPLAY', `ECU ${serial} report counter ${r.reportCounter} is not above the last accepted ${ecu.lastCounter}`);
    }
    if (opts.expectedNonce !== undefined && r.nonce !== opts.expectedNonce) {
      throw manifestError('NONCE_MISMATCH', `ECU ${serial} report does not carry the nonce the Director issued`);
    }
    if (r.attacksDetected !== '') attacks.push({ ecuSerial: serial, report: r.attacksDetected });
    reports.set(serial, r);
  }
  const missing = [...vehicle.ecus.keys()].filter((s) => !reports.has(s));
  return { reports, attacks, missing };
}

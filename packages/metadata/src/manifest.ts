/**
 * Vehicle version manifest and ECU version report (Uptane 2.1 §5.4.2.1.1, §5.4.2.1.2).
 *
 * ECU version report `signed` (signed by the ECU's own key):
 *   ecu_serial, installed_image { filepath, fileinfo { length, hashes } }, attacks_detected
 *   (free text, "" when none), report_counter (an integer that SHALL change every update
 *   cycle: it must strictly increase), optional nonce (from the Director), optional
 *   latest_time (ISO 8601, from the ECU's time source), optional attestation (measured boot).
 * Vehicle version manifest `signed` (signed by the Primary's key):
 *   vin, primary_ecu_serial, ecu_version_reports { "<serial>": <signed ECU report> }.
 */
import { canonicalBytes } from './canonical.js';
import { FormatError } from './errors.js';
import type { Signer } from './keys.js';
import { Signature } from './metadata.js';
import { expectArray, expectHashes, expectObject, expectString, expectUint, parseJSON, unrecognized, EMPTY } from './shape.js';
import type { JSONObject } from './shape.js';

/** A signed document that is not TUF role metadata. */
export class SignedDocument<T> {
  readonly signed: T;
  readonly signatures: ReadonlyMap<string, Signature>;
  readonly signedJSON: Readonly<Record<string, unknown>>;
  #bytes: Uint8Array | undefined;

  constructor(signed: T, signedJSON: Readonly<Record<string, unknown>>, signatures: Iterable<Signature>) {
    this.signed = signed;
    this.signedJSON = signedJSON;
    const m = new Map<string, Signature>();
    for (const s of signatures) {
      if (m.has(s.keyid)) throw new FormatError(`signatures: key id ${s.keyid} signed twice`);
      m.set(s.keyid, s);
    }
    this.signatures = m;
  }

  signedBytes(): Uint8Array {
    this.#bytes ??= canonicalBytes(this.signedJSON);
    return this.#bytes;
  }

  toJSON(): JSONObject {
    return { signatures: [...this.signatures.values()].map((s) => s.toJSON()), signed: this.signedJSON as JSONObject };
  }
}

function parseEnvelope(json: unknown, path: string): { signed: Record<string, unknown>; signatures: Signature[] } {
  const o = expectObject(json, path);
  return {
    signed: expectObject(o['signed'], `${path}.signed`),
    signatures: expectArray(o['signatures'], `${path}.signatures`).map((s, i) => Signature.fromJSON(s, `${path}.signatures[${i}]`)),
  };
}

export interface InstalledImage {
  readonly filepath: string;
  readonly length: number;
  readonly hashes: Readonly<Record<string, string>>;
}

export interface EcuVersionReportFields {
  readonly ecuSerial: string;
  readonly installedImage: InstalledImage;
  readonly attacksDetected: string;
  readonly reportCounter: number;
  readonly nonce?: string;
  readonly latestTime?: string;
  readonly attestation?: Readonly<Record<string, unknown>>;
  readonly unrecognized?: Readonly<Record<string, unknown>>;
}

export type EcuVersionReport = SignedDocument<EcuVersionReportFields>;

const REPORT_FIELDS = ['ecu_serial', 'installed_image', 'attacks_detected', 'report_counter', 'nonce', 'latest_time', 'attestation'];

export function ecuReportFromJSON(json: unknown, path = 'ecu_version_report'): EcuVersionReport {
  const { signed: s, signatures } = parseEnvelope(json, path);
  const p = `${path}.signed`;
  const img = expectObject(s['installed_image'], `${p}.installed_image`);
  const info = expectObject(img['fileinfo'], `${p}.installed_image.fileinfo`);
  const fields: EcuVersionReportFields = {
    ecuSerial: expectString(s['ecu_serial'], `${p}.ecu_serial`),
    installedImage: {
      filepath: expectString(img['filepath'], `${p}.installed_image.filepath`),
      length: expectUint(info['length'], `${p}.installed_image.fileinfo.length`),
      hashes: expectHashes(info['hashes'], `${p}.installed_image.fileinfo.hashes`),
    },
    attacksDetected: expectString(s['attacks_detected'], `${p}.attacks_detected`),
    reportCounter: expectUint(s['report_counter'], `${p}.report_counter`),
    ...(s['nonce'] === undefined ? {} : { nonce: expectString(s['nonce'], `${p}.nonce`) }),
    ...(s['latest_time'] === undefined ? {} : { latestTime: expectString(s['latest_time'], `${p}.latest_time`) }),
    ...(s['attestation'] === undefined ? {} : { attestation: expectObject(s['attestation'], `${p}.attestation`) }),
    unrecognized: unrecognized(s, REPORT_FIELDS),
  };
  return new SignedDocument(fields, s, signatures);
}

export function ecuReportSignedJSON(f: EcuVersionReportFields): JSONObject {
  const out: JSONObject = {
    ...((f.unrecognized ?? EMPTY) as JSONObject),
    ecu_serial: f.ecuSerial,
    installed_image: { filepath: f.installedImage.filepath, fileinfo: { length: f.installedImage.length, hashes: { ...f.installedImage.hashes } } },
    attacks_detected: f.attacksDetected,
    report_counter: f.reportCounter,
  };
  if (f.nonce !== undefined) out['nonce'] = f.nonce;
  if (f.latestTime !== undefined) out['latest_time'] = f.latestTime;
  if (f.attestation !== undefined) out['attestation'] = f.attestation as JSONObject;
  return out;
}

export function signEcuReport(f: EcuVersionReportFields, signer: Signer): EcuVersionReport {
  const signed = ecuReportSignedJSON(f);
  const doc = new SignedDocument(f, signed, []);
  return new SignedDocument(f, signed, [new Signature(signer.keyId, signer.sign(doc.signedBytes()))]);
}

export interface VehicleManifestFields {
  readonly vin: string;
  readonly primaryEcuSerial: string;
  readonly ecuVersionReports: ReadonlyMap<string, EcuVersionReport>;
  readonly unrecognized?: Readonly<Record<string, unknown>>;
}

export type VehicleManifest = SignedDocument<VehicleManifestFields>;

/** Parse a vehicle version manifest (bytes or JSON); every malformation is a FormatError. */
export function vehicleManifestFromJSON(input: unknown): VehicleManifest {
  const json = input instanceof Uint8Array || typeof input === 'string' ? parseJSON(input, 'vehicle manifest') : input;
  const { signed: s, signatures } = parseEnvelope(json, 'manifest');
  const reportsObj = expectObject(s['ecu_version_reports'], 'manifest.signed.ecu_version_reports');
  const reports = new Map<string, EcuVersionReport>();
  for (const serial of Object.keys(reportsObj)) {
    reports.set(serial, ecuReportFromJSON(reportsObj[serial], `manifest.signed.ecu_version_reports.${serial}`));
  }
  const fields: VehicleManifestFields = {
    vin: expectString(s['vin'], 'manifest.signed.vin'),
    primaryEcuSerial: expectString(s['primary_ecu_serial'], 'manifest.signed.primary_ecu_serial'),
    ecuVersionReports: reports,
    unrecognized: unrecognized(s, ['vin', 'primary_ecu_serial', 'ecu_version_reports']),
  };
  const doc = new SignedDocument(fields, s, signatures);
  doc.signedBytes();
  return doc;
}

export function signVehicleManifest(vin: string, primaryEcuSerial: string, reports: readonly EcuVersionReport[], signer: Signer): VehicleManifest {
  const map = new Map<string, EcuVersionReport>();
  for (const r of reports) {
    if (map.has(r.signed.ecuSerial)) throw new FormatError(`ECU ${r.signed.ecuSerial} reported twice`);
    map.set(r.signed.ecuSerial, r);
  }
  // Object.fromEntries, not assignment: a serial "__proto__" must stay an own property.
  const reportsJSON: JSONObject = Object.fromEntries([...map].map(([serial, r]) => [serial, r.toJSON()]));
  const signed: JSONObject = { vin, primary_ecu_serial: primaryEcuSerial, ecu_version_reports: reportsJSON };
  const fields: VehicleManifestFields = { vin, primaryEcuSerial, ecuVersionReports: map };
  const doc = new SignedDocument(fields, signed, []);
  return new SignedDocument(fields, signed, [new Signature(signer.keyId, signer.sign(doc.signedBytes()))]);
}

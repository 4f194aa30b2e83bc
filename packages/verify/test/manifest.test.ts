/**
 * Director-side verification of vehicle version manifests (Uptane 2.1 §5.4.2.1): forged,
 * replayed, misfiled or tampered reports are refused. Manifests are round-tripped through bytes,
 * as the Director receives them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalBytes, generateSigner, signEcuReport, signVehicleManifest, vehicleManifestFromJSON } from '@reflash/metadata';
import type { EcuVersionReport, EcuVersionReportFields, Signer, VehicleManifest } from '@reflash/metadata';
import { ManifestError } from '../src/errors.js';
import { verifyManifestSignaturesAsync, verifyVehicleManifest } from '../src/manifest.js';
import type { RegisteredVehicle } from '../src/manifest.js';
import { throwsWith } from './support/expect.js';

const VIN = 'WVWZZZ1JZXW000001';
const KEYS: Record<string, Signer> = { 'ecu-primary': generateSigner(), 'ecu-brake': generateSigner(), 'ecu-steer': generateSigner() };
const HW: Record<string, string> = { 'ecu-primary': 'hw-gateway', 'ecu-brake': 'hw-brake', 'ecu-steer': 'hw-steer' };

function vehicle(lastCounters: Record<string, number> = {}): RegisteredVehicle {
  return {
    vin: VIN,
    primaryEcuSerial: 'ecu-primary',
    ecus: new Map(Object.keys(KEYS).map((s) => [s, { hardwareId: HW[s]!, key: KEYS[s]!.key, lastCounter: lastCounters[s] }])),
  };
}

function fields(serial: string, counter: number, extra: Partial<EcuVersionReportFields> = {}): EcuVersionReportFields {
  return {
    ecuSerial: serial,
    installedImage: { filepath: `${serial}/fw.bin`, length: 16, hashes: { sha256: 'aa'.repeat(32) } },
    attacksDetected: '',
    reportCounter: counter,
    nonce: 'nonce-1',
    ...extra,
  };
}

function report(serial: string, counter: number, extra: Partial<EcuVersionReportFields> = {}, signer = KEYS[serial]!): EcuVersionReport {
  return signEcuReport(fields(serial, counter, extra), signer);
}

/** As received by the Director: serialised and parsed again. */
function received(json: unknown): VehicleManifest {
  return vehicleManifestFromJSON(Buffer.from(JSON.stringify(json)));
}

function manifest(reports: EcuVersionReport[], opts: { vin?: string; primary?: string; signer?: Signer } = {}): VehicleManifest {
  return received(signVehicleManifest(opts.vin ?? VIN, opts.primary ?? 'ecu-primary', reports, opts.signer ?? KEYS['ecu-primary']!).toJSON());
}

/** Sign an arbitrary manifest `signed` body with the primary key (a compromised Primary). */
function signedByPrimary(signed: unknown): VehicleManifest {
  const primary = KEYS['ecu-primary']!;
  return received({ signatures: [{ keyid: primary.keyId, sig: primary.sign(canonicalBytes(signed)) }], signed });
}

type ManifestJSON = { signed: { ecu_version_reports: Record<string, { signed: { installed_image: { fileinfo: { hashes: Record<string, string> } } } }> } };

const expectManifestError = (fn: () => unknown, code: string): void => void throwsWith(fn, ManifestError, code);

void describe('vehicle version manifests', () => {
  void it('a valid manifest is accepted: reports by serial, missing ECUs listed, attacks collected', () => {
    const m = manifest([report('ecu-primary', 5), report('ecu-brake', 8, { attacksDetected: 'rollback attempt: targets v3 < 4' })]);
    const r = verifyVehicleManifest(m, vehicle({ 'ecu-primary': 4, 'ecu-brake': 7 }), { expectedNonce: 'nonce-1' });
    assert.deepEqual([...r.reports.keys()], ['ecu-primary', 'ecu-brake']);
    assert.equal(r.reports.get('ecu-brake')?.reportCounter, 8);
    assert.deepEqual(r.missing, ['ecu-steer']);
    assert.deepEqual(r.attacks, [{ ecuSerial: 'ecu-brake', report: 'rollback attempt: targets v3 < 4' }]);
  });

  void it('forged manifest: signed by a key other than the registered Primary -> MANIFEST_BAD_SIGNATURE', () => {
    const m = manifest([report('ecu-brake', 1)], { signer: generateSigner() });
    expectManifestError(() => verifyVehicleManifest(m, vehicle()), 'MANIFEST_BAD_SIGNATURE');
  });

  void it('forged ECU report: signed by a key other than the ECU\'s -> MANIFEST_BAD_SIGNATURE', () => {
    const m = manifest([report('ecu-brake', 1, {}, KEYS['ecu-steer'])]);
    expectManifestError(() => verifyVehicleManifest(m, vehicle()), 'MANIFEST_BAD_SIGNATURE');
  });

  void it('replayed report: counter equal to the last accepted -> MANIFEST_COUNTER_REPLAY', () => {
    const m = manifest([report('ecu-brake', 7)]);
    expectManifestError(() => verifyVehicleManifest(m, vehicle({ 'ecu-brake': 7 })), 'MANIFEST_COUNTER_REPLAY');
  });

  void it('replayed report: counter lower than the last accepted -> MANIFEST_COUNTER_REPLAY', () => {
    const m = manifest([report('ecu-brake', 6)]);
    expectManifestError(() => verifyVehicleManifest(m, vehicle({ 'ecu-brake': 7 })), 'MANIFEST_COUNTER_REPLAY');
  });

  void it('unknown ECU: a report by an ECU not registered to the vehicle -> MANIFEST_UNKNOWN_ECU', () => {
    const radio = generateSigner();
    const m = manifest([report('ecu-radio', 1, {}, radio)]);
    expectManifestError(() => verifyVehicleManifest(m, vehicle()), 'MANIFEST_UNKNOWN_ECU');
  });

  void it('misfiled report: a report filed under another ECU serial -> MANIFEST_SERIAL_MISMATCH', () => {
    const json = manifest([report('ecu-brake', 1)]).toJSON() as ManifestJSON;
    const reports = json.signed.ecu_version_reports;
    reports['ecu-steer'] = reports['ecu-brake']!;
    delete reports['ecu-brake'];
    expectManifestError(() => verifyVehicleManifest(signedByPrimary(json.signed), vehicle()), 'MANIFEST_SERIAL_MISMATCH');
  });

  void it('manifest for another VIN -> MANIFEST_VIN_MISMATCH', () => {
    const m = manifest([report('ecu-brake', 1)], { vin: 'WVWZZZ1JZXW999999' });
    expectManifestError(() => verifyVehicleManifest(m, vehicle()), 'MANIFEST_VIN_MISMATCH');
  });

  void it('manifest naming another Primary -> MANIFEST_PRIMARY_MISMATCH', () => {
    const m = manifest([report('ecu-brake', 1)], { primary: 'ecu-brake', signer: KEYS['ecu-brake']! });
    expectManifestError(() => verifyVehicleManifest(m, vehicle()), 'MANIFEST_PRIMARY_MISMATCH');
  });

  void it('replayed report: a nonce other than the one the Director issued (or none) -> MANIFEST_NONCE_MISMATCH', () => {
    expectManifestError(() => verifyVehicleManifest(manifest([report('ecu-brake', 1)]), vehicle(), { expectedNonce: 'nonce-2' }), 'MANIFEST_NONCE_MISMATCH');
    const { nonce: _omit, ...noNonce } = fields('ecu-brake', 1);
    const m = manifest([signEcuReport(noNonce, KEYS['ecu-brake']!)]);
    expectManifestError(() => verifyVehicleManifest(m, vehicle(), { expectedNonce: 'nonce-1' }), 'MANIFEST_NONCE_MISMATCH');
  });

  void it('tampering after signing: a changed installed-image hash breaks the manifest signature -> MANIFEST_BAD_SIGNATURE', () => {
    const json = manifest([report('ecu-brake', 1)]).toJSON() as ManifestJSON;
    json.signed.ecu_version_reports['ecu-brake']!.signed.installed_image.fileinfo.hashes['sha256'] = 'bb'.repeat(32);
    expectManifestError(() => verifyVehicleManifest(received(json), vehicle()), 'MANIFEST_BAD_SIGNATURE');
  });

  void it('tampering by a compromised Primary: a re-signed manifest still carries a broken ECU report signature -> MANIFEST_BAD_SIGNATURE', () => {
    const json = manifest([report('ecu-brake', 1)]).toJSON() as ManifestJSON;
    json.signed.ecu_version_reports['ecu-brake']!.signed.installed_image.fileinfo.hashes['sha256'] = 'bb'.repeat(32);
    const err = throwsWith(() => verifyVehicleManifest(signedByPrimary(json.signed), vehicle()), ManifestError, 'MANIFEST_BAD_SIGNATURE');
    assert.match(err.message, /ecu-brake/);
  });
});

void describe('vehicle version manifests: signatures verified ahead (thread pool), checks under the lock', () => {
  void it('a valid manifest verified ahead passes the same checks', async () => {
    const m = manifest([report('ecu-primary', 5), report('ecu-brake', 8)]);
    const signatures = await verifyManifestSignaturesAsync(m, vehicle());
    const r = verifyVehicleManifest(m, vehicle({ 'ecu-primary': 4, 'ecu-brake': 7 }), { signatures });
    assert.deepEqual([...r.reports.keys()], ['ecu-primary', 'ecu-brake']);
  });

  void it('forged manifest and forged ECU report are refused with results from ahead', async () => {
    const forged = manifest([report('ecu-brake', 1)], { signer: generateSigner() });
    const s1 = await verifyManifestSignaturesAsync(forged, vehicle());
    expectManifestError(() => verifyVehicleManifest(forged, vehicle(), { signatures: s1 }), 'MANIFEST_BAD_SIGNATURE');
    const forgedReport = manifest([report('ecu-brake', 1, {}, KEYS['ecu-steer'])]);
    const s2 = await verifyManifestSignaturesAsync(forgedReport, vehicle());
    expectManifestError(() => verifyVehicleManifest(forgedReport, vehicle(), { signatures: s2 }), 'MANIFEST_BAD_SIGNATURE');
  });

  void it('counters are checked under the lock: a replay verified ahead is still refused', async () => {
    const m = manifest([report('ecu-brake', 3)]);
    const signatures = await verifyManifestSignaturesAsync(m, vehicle());
    expectManifestError(() => verifyVehicleManifest(m, vehicle({ 'ecu-brake': 3 }), { signatures }), 'MANIFEST_COUNTER_REPLAY');
  });

  void it('a key replaced between ahead and the lock: the ahead result does not count for the new key', async () => {
    // Verified ahead with the old brake key (valid); under the lock the registered key is another one.
    const m = manifest([report('ecu-brake', 1)]);
    const signatures = await verifyManifestSignaturesAsync(m, vehicle());
    const replaced = vehicle();
    const ecus = new Map(replaced.ecus);
    ecus.set('ecu-brake', { ...ecus.get('ecu-brake')!, key: generateSigner().key });
    expectManifestError(() => verifyVehicleManifest(m, { ...replaced, ecus }, { signatures }), 'MANIFEST_BAD_SIGNATURE');
  });

  void it('a manifest verified ahead is not a pass for another manifest', async () => {
    const good = manifest([report('ecu-brake', 1)]);
    const signatures = await verifyManifestSignaturesAsync(good, vehicle());
    const forged = manifest([report('ecu-brake', 2, {}, KEYS['ecu-steer'])]);
    expectManifestError(() => verifyVehicleManifest(forged, vehicle(), { signatures }), 'MANIFEST_BAD_SIGNATURE');
  });
});

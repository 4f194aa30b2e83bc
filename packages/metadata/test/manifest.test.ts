import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize } from '../src/canonical.js';
import { generateSigner } from '../src/keys.js';
import type { PrivateKeySigner } from '../src/keys.js';
import { SignedDocument, ecuReportFromJSON, ecuReportSignedJSON, signEcuReport, signVehicleManifest, vehicleManifestFromJSON } from '../src/manifest.js';
import type { EcuVersionReport, EcuVersionReportFields, VehicleManifest } from '../src/manifest.js';
import { Signature } from '../src/metadata.js';
import { Role } from '../src/signed.js';
import { checkThreshold, verifyThreshold } from '../src/threshold.js';
import { bytesOf, clone, throwsCode, utf8 } from './helpers.js';

const primary = generateSigner('ed25519');
const ecuA = generateSigner('ecdsa-sha2-nistp256');
const ecuB = generateSigner('ed25519');
const H = 'ef'.repeat(32);

const FIELDS_A: EcuVersionReportFields = {
  ecuSerial: 'SER-A',
  installedImage: { filepath: 'ecu-a/app-2.0.bin', length: 1234, hashes: { sha256: H } },
  attacksDetected: '',
  reportCounter: 5,
  nonce: 'n-123',
  latestTime: '2030-01-01T00:00:00Z',
  attestation: { pcr0: 'aa', quote: { sig: 'bb' } },
  unrecognized: { x_vendor: [1, 2] },
};
const FIELDS_B: EcuVersionReportFields = {
  ecuSerial: 'SER-B',
  installedImage: { filepath: 'ecu-b/fw.bin', length: 0, hashes: { sha256: H, sha512: H + H } },
  attacksDetected: 'rollback attempt seen',
  reportCounter: 0,
};

function oneRole(s: PrivateKeySigner): [Map<string, typeof s.key>, Role] {
  return [new Map([[s.keyId, s.key]]), new Role([s.keyId], 1)];
}

function verifies(s: PrivateKeySigner, doc: EcuVersionReport | VehicleManifest): boolean {
  const [keys, role] = oneRole(s);
  return checkThreshold('doc', keys, role, doc).verified;
}

function manifest(): VehicleManifest {
  return signVehicleManifest('VIN123', 'SER-A', [signEcuReport(FIELDS_A, ecuA), signEcuReport(FIELDS_B, ecuB)], primary);
}

type Obj = Record<string, unknown>;

function manifestJSON(): Obj {
  return clone(manifest().toJSON());
}

function signedOf(doc: Obj): Obj {
  return doc['signed'] as Obj;
}

function reportSigned(doc: Obj, serial: string): Obj {
  return ((signedOf(doc)['ecu_version_reports'] as Obj)[serial] as Obj)['signed'] as Obj;
}

describe('manifest: signing and parsing round trip', () => {
  it('an ECU report and the vehicle manifest verify with the ECU and Primary keys', () => {
    const m = manifest();
    assert.ok(verifies(primary, m));
    assert.ok(verifies(ecuA, m.signed.ecuVersionReports.get('SER-A')!));
    assert.ok(verifies(ecuB, m.signed.ecuVersionReports.get('SER-B')!));
    const [keys, role] = oneRole(primary);
    assert.equal(verifyThreshold('manifest', keys, role, m).verified, true);
  });

  for (const [name, input] of [
    ['bytes', (m: VehicleManifest): unknown => bytesOf(JSON.stringify(m.toJSON()))],
    ['a string', (m: VehicleManifest): unknown => JSON.stringify(m.toJSON())],
    ['a JSON value', (m: VehicleManifest): unknown => clone(m.toJSON())],
  ] as const) {
    it(`vehicleManifestFromJSON reads ${name} back to the same fields and signed bytes`, () => {
      const m = manifest();
      const back = vehicleManifestFromJSON(input(m));
      assert.equal(back.signed.vin, 'VIN123');
      assert.equal(back.signed.primaryEcuSerial, 'SER-A');
      assert.deepEqual([...back.signed.ecuVersionReports.keys()], ['SER-A', 'SER-B']);
      const a = back.signed.ecuVersionReports.get('SER-A')!;
      assert.deepEqual(a.signed, FIELDS_A);
      const b = back.signed.ecuVersionReports.get('SER-B')!;
      assert.deepEqual(b.signed, { ...FIELDS_B, unrecognized: {} });
      assert.equal(utf8(back.signedBytes()), utf8(m.signedBytes()));
      assert.ok(verifies(primary, back));
      assert.ok(verifies(ecuA, a));
      assert.ok(verifies(ecuB, b));
      assert.equal(canonicalize(back.toJSON()), canonicalize(m.toJSON()));
    });
  }

  it('the report signed JSON uses the Uptane field names', () => {
    assert.deepEqual(ecuReportSignedJSON(FIELDS_B), {
      ecu_serial: 'SER-B',
      installed_image: { filepath: 'ecu-b/fw.bin', fileinfo: { length: 0, hashes: { sha256: H, sha512: H + H } } },
      attacks_detected: 'rollback attempt seen',
      report_counter: 0,
    });
  });

  it('unknown fields in a received report are kept and signed', () => {
    const doc = manifestJSON();
    const back = vehicleManifestFromJSON(doc);
    assert.deepEqual(back.signed.ecuVersionReports.get('SER-A')!.signed.unrecognized, { x_vendor: [1, 2] });
  });

  it('an ECU serial "__proto__" survives signing and parsing', () => {
    const m = signVehicleManifest('VIN', '__proto__', [signEcuReport({ ...FIELDS_B, ecuSerial: '__proto__' }, ecuB)], primary);
    const back = vehicleManifestFromJSON(JSON.stringify(m.toJSON()));
    assert.deepEqual([...back.signed.ecuVersionReports.keys()], ['__proto__']);
    assert.ok(verifies(primary, back));
  });
});

describe('manifest: tampering is detected by the signatures', () => {
  const tamper: [string, (d: Obj) => void, 'primary' | 'both'][] = [
    ['vin changed', (d) => { signedOf(d)['vin'] = 'VIN999'; }, 'primary'],
    ['primary serial changed', (d) => { signedOf(d)['primary_ecu_serial'] = 'SER-B'; }, 'primary'],
    ['report counter changed', (d) => { reportSigned(d, 'SER-A')['report_counter'] = 6; }, 'both'],
    ['attacks cleared', (d) => { reportSigned(d, 'SER-B')['attacks_detected'] = ''; }, 'both'],
    ['installed image hash changed', (d) => {
      ((reportSigned(d, 'SER-A')['installed_image'] as Obj)['fileinfo'] as Obj)['hashes'] = { sha256: '00'.repeat(32) };
    }, 'both'],
    ['nonce removed', (d) => { Reflect.deleteProperty(reportSigned(d, 'SER-A'), 'nonce'); }, 'both'],
    ['unknown field added', (d) => { signedOf(d)['x'] = 1; }, 'primary'],
  ];
  for (const [name, mutate, which] of tamper) {
    it(`${name}: the Primary signature fails${which === 'both' ? ', and so does the ECU signature' : ''}`, () => {
      const d = manifestJSON();
      mutate(d);
      const back = vehicleManifestFromJSON(d);
      assert.equal(verifies(primary, back), false);
      if (which === 'both') {
        const serial = name.startsWith('attacks') ? 'SER-B' : 'SER-A';
        assert.equal(verifies(serial === 'SER-A' ? ecuA : ecuB, back.signed.ecuVersionReports.get(serial)!), false);
      }
    });
  }

  it('a report signed by another ECU key does not verify', () => {
    assert.equal(verifies(ecuB, signEcuReport(FIELDS_A, ecuA)), false);
  });
});

describe('manifest: malformed manifests are FORMAT errors naming the field', () => {
  const rp = 'manifest.signed.ecu_version_reports.SER-A';
  const cases: [string, (d: Obj) => void, string][] = [
    ['missing vin', (d) => { Reflect.deleteProperty(signedOf(d), 'vin'); }, 'manifest.signed.vin'],
    ['numeric vin', (d) => { signedOf(d)['vin'] = 123; }, 'manifest.signed.vin'],
    ['missing primary_ecu_serial', (d) => { Reflect.deleteProperty(signedOf(d), 'primary_ecu_serial'); }, 'manifest.signed.primary_ecu_serial'],
    ['ecu_version_reports an array', (d) => { signedOf(d)['ecu_version_reports'] = []; }, 'manifest.signed.ecu_version_reports'],
    ['missing ecu_version_reports', (d) => { Reflect.deleteProperty(signedOf(d), 'ecu_version_reports'); }, 'manifest.signed.ecu_version_reports'],
    ['report not an object', (d) => { (signedOf(d)['ecu_version_reports'] as Obj)['SER-A'] = 'r'; }, rp],
    ['report without signed', (d) => { Reflect.deleteProperty((signedOf(d)['ecu_version_reports'] as Obj)['SER-A'] as Obj, 'signed'); }, `${rp}.signed`],
    ['report without signatures', (d) => { Reflect.deleteProperty((signedOf(d)['ecu_version_reports'] as Obj)['SER-A'] as Obj, 'signatures'); }, `${rp}.signatures`],
    ['report without ecu_serial', (d) => { Reflect.deleteProperty(reportSigned(d, 'SER-A'), 'ecu_serial'); }, `${rp}.signed.ecu_serial`],
    ['report without installed_image', (d) => { Reflect.deleteProperty(reportSigned(d, 'SER-A'), 'installed_image'); }, `${rp}.signed.installed_image`],
    ['installed_image without filepath', (d) => { Reflect.deleteProperty(reportSigned(d, 'SER-A')['installed_image'] as Obj, 'filepath'); }, `${rp}.signed.installed_image.filepath`],
    ['installed_image without fileinfo', (d) => { Reflect.deleteProperty(reportSigned(d, 'SER-A')['installed_image'] as Obj, 'fileinfo'); }, `${rp}.signed.installed_image.fileinfo`],
    ['negative length', (d) => { ((reportSigned(d, 'SER-A')['installed_image'] as Obj)['fileinfo'] as Obj)['length'] = -1; }, `${rp}.signed.installed_image.fileinfo.length`],
    ['empty hashes', (d) => { ((reportSigned(d, 'SER-A')['installed_image'] as Obj)['fileinfo'] as Obj)['hashes'] = {}; }, `${rp}.signed.installed_image.fileinfo.hashes`],
    ['missing attacks_detected', (d) => { Reflect.deleteProperty(reportSigned(d, 'SER-A'), 'attacks_detected'); }, `${rp}.signed.attacks_detected`],
    ['fractional report_counter', (d) => { reportSigned(d, 'SER-A')['report_counter'] = 1.5; }, `${rp}.signed.report_counter`],
    ['negative report_counter', (d) => { reportSigned(d, 'SER-A')['report_counter'] = -1; }, `${rp}.signed.report_counter`],
    ['numeric nonce', (d) => { reportSigned(d, 'SER-A')['nonce'] = 1; }, `${rp}.signed.nonce`],
    ['numeric latest_time', (d) => { reportSigned(d, 'SER-A')['latest_time'] = 1; }, `${rp}.signed.latest_time`],
    ['attestation an array', (d) => { reportSigned(d, 'SER-A')['attestation'] = []; }, `${rp}.signed.attestation`],
    ['missing manifest signatures', (d) => { Reflect.deleteProperty(d, 'signatures'); }, 'manifest.signatures'],
    ['manifest signature with non-hex sig', (d) => { (d['signatures'] as Obj[])[0]!['sig'] = 'nothex'; }, 'manifest.signatures[0].sig'],
    ['duplicate manifest signature', (d) => { (d['signatures'] as Obj[]).push(clone((d['signatures'] as Obj[])[0]!)); }, 'signed twice'],
    ['missing signed', (d) => { Reflect.deleteProperty(d, 'signed'); }, 'manifest.signed'],
  ];
  for (const [name, mutate, part] of cases) {
    it(name, () => {
      const d = manifestJSON();
      mutate(d);
      throwsCode(() => vehicleManifestFromJSON(d), 'FORMAT', part);
    });
  }

  it('not JSON, or not an object', () => {
    throwsCode(() => vehicleManifestFromJSON(bytesOf('{"signed"')), 'FORMAT', 'not valid JSON');
    throwsCode(() => vehicleManifestFromJSON('[]'), 'FORMAT', 'manifest: expected an object');
    throwsCode(() => vehicleManifestFromJSON(null), 'FORMAT', 'manifest');
    throwsCode(() => vehicleManifestFromJSON(42), 'FORMAT', 'manifest');
  });

  it('a float anywhere in the signed manifest is a CANONICAL_JSON error', () => {
    const d = manifestJSON();
    reportSigned(d, 'SER-B')['x_extra'] = 0.5;
    throwsCode(() => vehicleManifestFromJSON(d), 'CANONICAL_JSON');
  });

  it('signVehicleManifest refuses two reports for one ECU', () => {
    const r = signEcuReport(FIELDS_A, ecuA);
    throwsCode(() => signVehicleManifest('VIN', 'SER-A', [r, signEcuReport({ ...FIELDS_A, reportCounter: 6 }, ecuA)], primary), 'FORMAT', 'SER-A', 'reported twice');
  });

  it('ecuReportFromJSON names the path it was given', () => {
    throwsCode(() => ecuReportFromJSON({ signed: {}, signatures: [] }, 'r'), 'FORMAT', 'r.signed.installed_image');
    throwsCode(() => ecuReportFromJSON('x'), 'FORMAT', 'ecu_version_report');
  });

  it('SignedDocument rejects two signatures with one key id', () => {
    throwsCode(() => new SignedDocument({}, {}, [new Signature('k', '00'), new Signature('k', '01')]), 'FORMAT', 'signed twice');
  });
});

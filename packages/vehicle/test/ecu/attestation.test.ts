/**
 * Measured boot and attestation (STANDARDS.md §3 ECR trust chain, §4 TCG Automotive-Thin):
 * PCR-style extension, and the server side verifyAttestation (pure, non-throwing).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateSigner, signEcuReport } from '@reflash/metadata';
import type { EcuVersionReport } from '@reflash/metadata';
import { createAttestation, verifyAttestation } from '../../src/ecu/attestation.js';
import { extendRegister, registerFor, ZERO_REGISTER } from '../../src/ecu/measured-boot.js';
import { ecuFixture } from '../support/ecu-fixture.js';
import type { EcuFixture } from '../support/ecu-fixture.js';
import { DEFAULT_ECUS, World } from '../support/world.js';

void describe('measured boot and attestation', () => {
  let f: EcuFixture;
  let report: EcuVersionReport;
  before(async () => {
    f = await ecuFixture(new World(), DEFAULT_ECUS[1]!);
    report = await f.ecu.versionReport({ nonce: 'director-nonce-1' });
  });
  after(() => f.cleanup());

  void it('register = SHA-256(register || measurement), from 32 zero bytes', () => {
    const m = createHash('sha256').update('image').digest('hex');
    const want = createHash('sha256').update(Buffer.alloc(32)).update(Buffer.from(m, 'hex')).digest('hex');
    assert.equal(extendRegister(ZERO_REGISTER, m), want);
    assert.equal(registerFor([m, m]), extendRegister(want, m));
    assert.throws(() => extendRegister('00', m));
  });

  void it('the ECU attests the bytes it booted; the server accepts it with the ECU key', () => {
    const a = report.signed.attestation!;
    assert.equal(a['imageSha256'], f.ecu.running.measuredSha256);
    assert.equal(a['register'], registerFor([f.ecu.running.measuredSha256]));
    assert.equal(a['nonce'], 'director-nonce-1');
    assert.equal(a['counter'], report.signed.reportCounter);
    const r = verifyAttestation(report, f.ecu.key);
    assert.ok(r.valid);
    assert.equal(r.claims.ecuSerial, f.ecu.serial);
  });

  void it('refused: another key, altered claims, a replayed counter or nonce, a register that does not match', () => {
    assert.equal(verifyAttestation(report, generateSigner().key).valid, false);
    const base = report.signed;
    const claims = { ecuSerial: base.ecuSerial, register: base.attestation!['register'] as string, imageSha256: base.attestation!['imageSha256'] as string, nonce: 'director-nonce-1', counter: base.reportCounter };
    const resign = (over: Partial<typeof claims>, fields: Partial<typeof base> = {}): EcuVersionReport =>
      signEcuReport({ ...base, ...fields, attestation: createAttestation({ ...claims, ...over }, f.ecu.signer) }, f.ecu.signer);
    assert.ok(verifyAttestation(resign({}), f.ecu.key).valid, 'control');
    const cases: Array<[string, EcuVersionReport]> = [
      ['counter', resign({ counter: claims.counter - 1 })],
      ['nonce', resign({ nonce: 'old' })],
      ['image', resign({ imageSha256: '11'.repeat(32), register: registerFor(['11'.repeat(32)]) })],
      ['register', resign({ register: ZERO_REGISTER })],
      ['serial', resign({ ecuSerial: 'other' })],
    ];
    for (const [what, r] of cases) assert.equal(verifyAttestation(r, f.ecu.key).valid, false, what);
    const tampered = { ...base, attestation: { ...base.attestation, imageSha256: '22'.repeat(32) } };
    assert.equal(verifyAttestation(signEcuReport(tampered, f.ecu.signer), f.ecu.key).valid, false, 'attestation signature');
    const noAtt = { ...base };
    delete (noAtt as { attestation?: unknown }).attestation;
    assert.equal(verifyAttestation(signEcuReport(noAtt, f.ecu.signer), f.ecu.key).valid, false, 'no attestation');
  });
});

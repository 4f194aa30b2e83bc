/**
 * Attestation of the running software (STANDARDS.md §4, TCG Automotive-Thin: the ECU hashes its
 * current software and signs it with its own key; the centre verifies it). Carried in the ECU
 * version report's `attestation` field (Uptane 2.1 §5.4.2.1.2 report, extended).
 *
 * The ECU signs the canonical JSON (the same canonical form as TUF metadata) of
 *   { ecuSerial, register, imageSha256, nonce, counter }
 * with its report key: `register` is the measured-boot register (measured-boot.ts) after the
 * boot of the running image, `imageSha256` the measurement, `nonce` the Director's nonce ("" if
 * none was given), `counter` the report counter (freshness: a replayed attestation carries an
 * old counter). The attestation object is those claims plus `format`, `keyid` and `sig`.
 *
 * `verifyAttestation` is the server side, pure and non-throwing (CONVENTIONS.md §11).
 */
import { Role, canonicalBytes, checkThreshold, expectObject, expectString, expectUint } from '@reflash/metadata';
import type { EcuVersionReport, Key, Signer } from '@reflash/metadata';
import { registerFor } from './measured-boot.js';

export const ATTESTATION_FORMAT = 'reflash-measured-boot/1';

export interface AttestationClaims {
  readonly ecuSerial: string;
  readonly register: string;
  readonly imageSha256: string;
  readonly nonce: string;
  readonly counter: number;
}

function claimsJSON(c: AttestationClaims): Record<string, string | number> {
  return { ecuSerial: c.ecuSerial, register: c.register, imageSha256: c.imageSha256, nonce: c.nonce, counter: c.counter };
}

export function createAttestation(claims: AttestationClaims, signer: Signer): Record<string, string | number> {
  const sig = signer.sign(canonicalBytes(claimsJSON(claims)));
  return { format: ATTESTATION_FORMAT, ...claimsJSON(claims), keyid: signer.keyId, sig };
}

export type AttestationResult =
  | { readonly valid: true; readonly claims: AttestationClaims }
  | { readonly valid: false; readonly reason: string };

function fail(reason: string): AttestationResult {
  return { valid: false, reason };
}

/**
 * Verify the attestation in an ECU version report with the ECU's registered key: the report
 * itself is signed by that key; the attestation is signed by it over the claims; the claims
 * name this ECU, this report's counter and nonce, and the image the report says is installed;
 * and the register is the reference value for a boot of that image.
 */
export function verifyAttestation(report: EcuVersionReport, ecuKey: Key): AttestationResult {
  const r = report.signed;
  const keyid = ecuKey.keyId();
  if (!checkThreshold('ecu report', new Map([[keyid, ecuKey]]), new Role([keyid], 1), report).verified) {
    return fail(`report of ${r.ecuSerial} is not signed by the ECU key`);
  }
  if (r.attestation === undefined) return fail(`report of ${r.ecuSerial} carries no attestation`);
  let claims: AttestationClaims;
  let sig: string;
  try {
    const a = expectObject(r.attestation, 'attestation');
    if (a['format'] !== ATTESTATION_FORMAT) return fail(`unknown attestation format ${String(a['format'])}`);
    claims = {
      ecuSerial: expectString(a['ecuSerial'], 'attestation.ecuSerial'),
      register: expectString(a['register'], 'attestation.register'),
      imageSha256: expectString(a['imageSha256'], 'attestation.imageSha256'),
      nonce: expectString(a['nonce'], 'attestation.nonce'),
      counter: expectUint(a['counter'], 'attestation.counter'),
    };
    sig = expectString(a['sig'], 'attestation.sig');
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  if (!ecuKey.verify(canonicalBytes(claimsJSON(claims)), sig)) return fail('attestation signature does not verify with the ECU key');
  if (claims.ecuSerial !== r.ecuSerial) return fail(`attestation is for ECU ${claims.ecuSerial}, report for ${r.ecuSerial}`);
  if (claims.counter !== r.reportCounter) return fail(`attestation counter ${claims.counter} is not the report counter ${r.reportCounter}`);
  if (claims.nonce !== (r.nonce ?? '')) return fail('attestation nonce is not the report nonce');
  const installed = r.installedImage.hashes['sha256'];
  if (installed === undefined || installed.toLowerCase() !== claims.imageSha256) {
    return fail(`measured image ${claims.imageSha256} is not the installed image the report names`);
  }
  const expected = /^[0-9a-f]{64}$/.test(claims.imageSha256) ? registerFor([claims.imageSha256]) : '';
  if (claims.register !== expected) return fail('register is not the reference value for a boot of the installed image');
  return { valid: true, claims };
}

/**
 * Measured boot (STANDARDS.md §3 EVITA "ECU configuration register" trust chain; §4 TCG TPM
 * PCR semantics): a register starts at 32 zero bytes at every boot and is extended with each
 * measurement, reg = SHA-256(reg || measurement). The ECU bootloader measures the image it is
 * about to run (the SHA-256 of the bank's bytes, read from flash, not the value in the record),
 * so a verifier can compare the register with the reference value of the expected image.
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { UsageError } from '@reflash/metadata';

export const ZERO_REGISTER = '00'.repeat(32);

const HEX32 = /^[0-9a-f]{64}$/;

/** reg' = SHA-256(reg || measurement), both 32-byte values in lower-case hex. */
export function extendRegister(register: string, measurement: string): string {
  if (!HEX32.test(register) || !HEX32.test(measurement)) throw new UsageError('register and measurement must be 32-byte lower-case hex');
  return createHash('sha256').update(Buffer.from(register, 'hex')).update(Buffer.from(measurement, 'hex')).digest('hex');
}

/** The register after extending the zero register with each measurement in order. */
export function registerFor(measurements: readonly string[]): string {
  return measurements.reduce(extendRegister, ZERO_REGISTER);
}

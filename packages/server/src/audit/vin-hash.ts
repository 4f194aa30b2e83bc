/**
 * Personal-data minimisation for the public log: a VIN never appears in an entry, only
 * `vinHash = hex(HMAC-SHA256(salt, VIN))` with a secret 32-byte salt that stays on the server
 * (sealed with the master key in `log_keys`). A plain SHA-256 of a VIN would be reversible by
 * enumeration (VINs have little entropy: a manufacturer code, a model year, a serial number);
 * the keyed hash is not, without the salt. The same VIN always gives the same hash, so an
 * authority that is told a VIN's hash (GET /api/v1/log/vin-hash, operator or auditor) can find
 * every entry of that vehicle. Destroying the salt unlinks all entries from their vehicles.
 */
import { createHmac } from 'node:crypto';

export class VinHasher {
  readonly #salt: Buffer;

  constructor(salt: Uint8Array) {
    if (salt.length < 32) throw new RangeError('the VIN salt must be at least 32 bytes');
    this.#salt = Buffer.from(salt);
  }

  /** The VIN exactly as the inventory stores it (no case folding). */
  hash(vin: string): string {
    return createHmac('sha256', this.#salt).update(vin, 'utf8').digest('hex');
  }
}

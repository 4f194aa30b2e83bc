/**
 * Uptane custom target fields (Uptane 2.1 §5.2.3.1.1 "custom metadata"; naming follows the
 * public Uptane implementations):
 * - Image repository targets: `hardwareIds` (ECU hardware identifiers the image is for),
 *   `releaseCounter` (never decreases for a file name, §5.4.3.4 step 5), `targetFormat`.
 * - Director targets: `ecuIdentifiers` = { "<ECU serial>": { "hardwareId": "<id>" } } (which
 *   ECU must install it, §5.2.3.1.1: SHALL), `releaseCounter`, `hardwareIds`.
 * - Optional: `encryption` (how the image is encrypted for the ECU) and `delta` (a binary delta
 *   from a named image), both read by the vehicle client.
 */
import { FormatError } from './errors.js';
import { expectArray, expectHashes, expectObject, expectString, expectUint } from './shape.js';
import type { TargetFile } from './targetfile.js';

export interface EncryptionInfo {
  readonly algorithm: string;
  readonly keyId?: string;
  readonly iv?: string;
}

export interface DeltaInfo {
  readonly format: string;
  readonly fromFilename: string;
  readonly fromLength: number;
  readonly fromHashes: Readonly<Record<string, string>>;
}

export interface UptaneCustom {
  readonly hardwareIds?: readonly string[];
  readonly ecuIdentifiers?: Readonly<Record<string, { readonly hardwareId: string }>>;
  readonly releaseCounter?: number;
  readonly targetFormat?: string;
  readonly encryption?: EncryptionInfo;
  readonly delta?: DeltaInfo;
}

/** Read and validate the Uptane fields of a target's `custom` (other custom fields ignored). */
export function readUptaneCustom(t: TargetFile): UptaneCustom {
  const c = t.custom;
  if (c === undefined) return {};
  const where = `target ${t.path} custom`;
  const out: { -readonly [K in keyof UptaneCustom]: UptaneCustom[K] } = {};
  if (c['hardwareIds'] !== undefined) {
    const ids = expectArray(c['hardwareIds'], `${where}.hardwareIds`).map((x, i) => expectString(x, `${where}.hardwareIds[${i}]`));
    if (ids.length === 0) throw new FormatError(`${where}.hardwareIds: must not be empty`);
    out.hardwareIds = ids;
  }
  if (c['ecuIdentifiers'] !== undefined) {
    const o = expectObject(c['ecuIdentifiers'], `${where}.ecuIdentifiers`);
    // Object.fromEntries, not assignment: a serial "__proto__" must stay an own property.
    out.ecuIdentifiers = Object.fromEntries(Object.keys(o).map((serial) => {
      const e = expectObject(o[serial], `${where}.ecuIdentifiers.${serial}`);
      return [serial, { hardwareId: expectString(e['hardwareId'], `${where}.ecuIdentifiers.${serial}.hardwareId`) }];
    }));
  }
  if (c['releaseCounter'] !== undefined) out.releaseCounter = expectUint(c['releaseCounter'], `${where}.releaseCounter`);
  if (c['targetFormat'] !== undefined) out.targetFormat = expectString(c['targetFormat'], `${where}.targetFormat`);
  if (c['encryption'] !== undefined) {
    const e = expectObject(c['encryption'], `${where}.encryption`);
    out.encryption = {
      algorithm: expectString(e['algorithm'], `${where}.encryption.algorithm`),
      ...(e['keyId'] === undefined ? {} : { keyId: expectString(e['keyId'], `${where}.encryption.keyId`) }),
      ...(e['iv'] === undefined ? {} : { iv: expectString(e['iv'], `${where}.encryption.iv`) }),
    };
  }
  if (c['delta'] !== undefined) {
    const d = expectObject(c['delta'], `${where}.delta`);
    out.delta = {
      format: expectString(d['format'], `${where}.delta.format`),
      fromFilename: expectString(d['fromFilename'], `${where}.delta.fromFilename`),
      fromLength: expectUint(d['fromLength'], `${where}.delta.fromLength`),
      fromHashes: expectHashes(d['fromHashes'], `${where}.delta.fromHashes`),
    };
  }
  return out;
}

/** Build a `custom` object with Uptane fields (for repository helpers and the server). */
export function uptaneCustom(fields: UptaneCustom, extra: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...extra };
  if (fields.hardwareIds !== undefined) out['hardwareIds'] = [...fields.hardwareIds];
  if (fields.ecuIdentifiers !== undefined) {
    out['ecuIdentifiers'] = Object.fromEntries(Object.entries(fields.ecuIdentifiers).map(([s, v]) => [s, { hardwareId: v.hardwareId }]));
  }
  if (fields.releaseCounter !== undefined) out['releaseCounter'] = fields.releaseCounter;
  if (fields.targetFormat !== undefined) out['targetFormat'] = fields.targetFormat;
  if (fields.encryption !== undefined) out['encryption'] = { ...fields.encryption };
  if (fields.delta !== undefined) out['delta'] = { ...fields.delta, fromHashes: { ...fields.delta.fromHashes } };
  return out;
}

/**
 * Fields every role's `signed` part has (TUF 1.0 §4.2, §4.3): `_type`, `spec_version`,
 * `version`, `expires`; plus shared pieces: role (keyids + threshold) and META files.
 */
import { FormatError, SpecVersionError } from './errors.js';
import { expectArray, expectHashes, expectObject, expectString, expectUint, unrecognized, EMPTY } from './shape.js';
import type { JSONObject } from './shape.js';

export type RoleType = 'root' | 'timestamp' | 'snapshot' | 'targets';
export const TOP_LEVEL_ROLES: readonly RoleType[] = ['root', 'timestamp', 'snapshot', 'targets'];

/** The TUF specification version this implementation follows and writes. */
export const SPEC_VERSION = '1.0.31';
const SUPPORTED_MAJOR = '1';

/** TUF §4.2: "expires" is an ISO 8601 UTC date-time `YYYY-MM-DDTHH:MM:SSZ` (fractions tolerated). */
const EXPIRES = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;

export function parseExpires(s: string, path: string): number {
  const m = EXPIRES.exec(s);
  const ms = m === null ? NaN : Date.parse(s);
  // Date.parse rolls impossible dates over (2030-02-31 -> 2030-03-03): require a round trip.
  if (!Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 19) !== s.slice(0, 19)) throw new FormatError(`${path}: ${s} is not a valid date and time`);
  if (Number.isNaN(ms)) throw new FormatError(`${path}: expected an ISO 8601 UTC time like 2030-01-01T00:00:00Z`);
  return ms;
}

/** Format a time as TUF writes it (whole seconds, UTC). */
export function formatExpires(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface CommonFields {
  readonly specVersion: string;
  readonly version: number;
  readonly expires: string;
  readonly unrecognized?: Readonly<Record<string, unknown>>;
}

const COMMON = ['_type', 'spec_version', 'version', 'expires'];

export abstract class Signed {
  abstract readonly type: RoleType;
  readonly specVersion: string;
  readonly version: number;
  readonly expires: string;
  /** `expires` in milliseconds since the epoch. */
  readonly expiresMs: number;
  readonly unrecognized: Readonly<Record<string, unknown>>;

  protected constructor(c: CommonFields) {
    this.specVersion = c.specVersion;
    this.version = c.version;
    this.expires = c.expires;
    this.expiresMs = parseExpires(c.expires, 'expires');
    this.unrecognized = c.unrecognized ?? EMPTY;
  }

  /** TUF 5.3.10/5.4.5/5.5.6/5.6.5: metadata is expired when the reference time reaches `expires`. */
  isExpired(referenceTimeMs: number): boolean {
    return referenceTimeMs >= this.expiresMs;
  }

  protected commonJSON(): JSONObject {
    return {
      ...(this.unrecognized as JSONObject),
      _type: this.type,
      spec_version: this.specVersion,
      version: this.version,
      expires: this.expires,
    };
  }

  abstract toJSON(): JSONObject;
}

/** Read the common fields, checking `_type` and the spec version's major number. */
export function parseCommon(o: Record<string, unknown>, type: RoleType, known: readonly string[]): CommonFields {
  const t = expectString(o['_type'], 'signed._type');
  if (t !== type) throw new FormatError(`signed._type: expected "${type}", got "${t}"`);
  const specVersion = expectString(o['spec_version'], 'signed.spec_version');
  const parts = specVersion.split('.');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new FormatError(`signed.spec_version: "${specVersion}" is not a version number`);
  }
  // TUF §4.2 spec_version: a client rejects metadata of a different major version.
  if (parts[0] !== SUPPORTED_MAJOR) throw new SpecVersionError(`unsupported spec_version ${specVersion}`);
  const expires = expectString(o['expires'], 'signed.expires');
  parseExpires(expires, 'signed.expires');
  return {
    specVersion,
    version: expectUint(o['version'], 'signed.version', 1),
    expires,
    unrecognized: unrecognized(o, [...COMMON, ...known]),
  };
}

/** A role entry: which keys may sign and how many must (TUF §4.3 root "roles"). */
export class Role {
  readonly keyids: readonly string[];
  readonly threshold: number;
  readonly unrecognized: Readonly<Record<string, unknown>>;

  constructor(keyids: readonly string[], threshold: number, unrec: Readonly<Record<string, unknown>> = EMPTY) {
    this.keyids = keyids;
    this.threshold = threshold;
    this.unrecognized = unrec;
  }

  static fromJSON(json: unknown, path: string, known: readonly string[] = []): Role {
    const o = expectObject(json, path);
    return new Role(parseKeyids(o['keyids'], `${path}.keyids`), expectUint(o['threshold'], `${path}.threshold`, 1), unrecognized(o, ['keyids', 'threshold', ...known]));
  }

  toJSON(): JSONObject {
    return { ...(this.unrecognized as JSONObject), keyids: [...this.keyids], threshold: this.threshold };
  }
}

export function parseKeyids(v: unknown, path: string): string[] {
  const arr = expectArray(v, path);
  const seen = new Set<string>();
  return arr.map((x, i) => {
    const id = expectString(x, `${path}[${i}]`);
    if (seen.has(id)) throw new FormatError(`${path}: key id ${id} listed twice`);
    seen.add(id);
    return id;
  });
}

/** META entry of timestamp and snapshot (TUF §4.4, §4.5): version, optional length and hashes. */
export class MetaFile {
  readonly version: number;
  readonly length: number | undefined;
  readonly hashes: Readonly<Record<string, string>> | undefined;
  readonly unrecognized: Readonly<Record<string, unknown>>;

  constructor(opts: { version: number; length?: number | undefined; hashes?: Readonly<Record<string, string>> | undefined; unrecognized?: Readonly<Record<string, unknown>> }) {
    this.version = opts.version;
    this.length = opts.length;
    this.hashes = opts.hashes;
    this.unrecognized = opts.unrecognized ?? EMPTY;
  }

  static fromJSON(json: unknown, path: string): MetaFile {
    const o = expectObject(json, path);
    return new MetaFile({
      version: expectUint(o['version'], `${path}.version`, 1),
      length: o['length'] === undefined ? undefined : expectUint(o['length'], `${path}.length`),
      hashes: o['hashes'] === undefined ? undefined : expectHashes(o['hashes'], `${path}.hashes`),
      unrecognized: unrecognized(o, ['version', 'length', 'hashes']),
    });
  }

  toJSON(): JSONObject {
    const out: JSONObject = { ...(this.unrecognized as JSONObject), version: this.version };
    if (this.length !== undefined) out['length'] = this.length;
    if (this.hashes !== undefined) out['hashes'] = { ...this.hashes };
    return out;
  }
}

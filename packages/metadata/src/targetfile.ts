/** TARGETS entry (TUF 1.0 §4.5 targets): length, hashes, optional custom; plus hash checks. */
import { createHash } from 'node:crypto';
import { RepositoryError } from './errors.js';
import { expectHashes, expectObject, expectUint, unrecognized, EMPTY } from './shape.js';
import type { JSONObject } from './shape.js';

/** Hash algorithms this implementation can check, strongest first. */
export const HASH_ALGORITHMS = ['sha512', 'sha256'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

export class LengthMismatchError extends RepositoryError {
  constructor(message: string) {
    super('LENGTH_MISMATCH', message);
  }
}

export class HashMismatchError extends RepositoryError {
  constructor(message: string) {
    super('HASH_MISMATCH', message);
  }
}

/**
 * Check `data` against a length and a hash map (TUF 5.5.2, 5.6.2, 5.7.3). Every algorithm we
 * know is checked; at least one must be known, or the file cannot be verified at all.
 */
export function checkLengthAndHashes(
  what: string,
  data: Uint8Array,
  length: number | undefined,
  hashes: Readonly<Record<string, string>> | undefined,
): void {
  if (length !== undefined && data.byteLength !== length) {
    throw new LengthMismatchError(`${what}: expected ${length} bytes, got ${data.byteLength}`);
  }
  if (hashes === undefined) return;
  let checked = 0;
  for (const alg of HASH_ALGORITHMS) {
    const want = hashes[alg];
    if (want === undefined) continue;
    checked++;
    const got = createHash(alg).update(data).digest('hex');
    if (got !== want.toLowerCase()) throw new HashMismatchError(`${what}: ${alg} mismatch`);
  }
  if (checked === 0) throw new HashMismatchError(`${what}: no supported hash algorithm (have ${Object.keys(hashes).join(', ')})`);
}

export class TargetFile {
  readonly path: string;
  readonly length: number;
  readonly hashes: Readonly<Record<string, string>>;
  readonly custom: Readonly<Record<string, unknown>> | undefined;
  readonly unrecognized: Readonly<Record<string, unknown>>;

  constructor(opts: {
    path: string;
    length: number;
    hashes: Readonly<Record<string, string>>;
    custom?: Readonly<Record<string, unknown>> | undefined;
    unrecognized?: Readonly<Record<string, unknown>>;
  }) {
    this.path = opts.path;
    this.length = opts.length;
    this.hashes = opts.hashes;
    this.custom = opts.custom;
    this.unrecognized = opts.unrecognized ?? EMPTY;
  }

  static fromJSON(path: string, json: unknown, where = `signed.targets.${path}`): TargetFile {
    const o = expectObject(json, where);
    return new TargetFile({
      path,
      length: expectUint(o['length'], `${where}.length`),
      hashes: expectHashes(o['hashes'], `${where}.hashes`),
      custom: o['custom'] === undefined ? undefined : expectObject(o['custom'], `${where}.custom`),
      unrecognized: unrecognized(o, ['length', 'hashes', 'custom']),
    });
  }

  /** A TargetFile describing `data` (sha256 + sha512). */
  static fromData(path: string, data: Uint8Array, custom?: Readonly<Record<string, unknown>>): TargetFile {
    return new TargetFile({
      path,
      length: data.byteLength,
      hashes: {
        sha256: createHash('sha256').update(data).digest('hex'),
        sha512: createHash('sha512').update(data).digest('hex'),
      },
      custom,
    });
  }

  toJSON(): JSONObject {
    const out: JSONObject = { ...(this.unrecognized as JSONObject), length: this.length, hashes: { ...this.hashes } };
    if (this.custom !== undefined) out['custom'] = this.custom as JSONObject;
    return out;
  }

  /** TUF 5.7.3: downloaded bytes must match length and hashes. */
  verify(data: Uint8Array): void {
    checkLengthAndHashes(`target ${this.path}`, data, this.length, this.hashes);
  }

  /** Same length and identical hashes for every algorithm both name (Uptane 5.4.4.2 step 10.2.1). */
  sameFileAs(other: TargetFile): boolean {
    if (this.length !== other.length) return false;
    let common = 0;
    for (const alg of Object.keys(this.hashes)) {
      const theirs = other.hashes[alg];
      if (theirs === undefined) continue;
      common++;
      if (theirs.toLowerCase() !== this.hashes[alg]!.toLowerCase()) return false;
    }
    return common > 0;
  }
}

/**
 * The signed envelope (TUF 1.0 §4.2): `{"signatures": [...], "signed": {...}}`.
 * Signatures are verified over the canonical JSON of the `signed` value exactly as parsed, so
 * unknown fields are covered and re-serialisation is byte-exact.
 */
import { canonicalBytes, sortedJSON } from './canonical.js';
import { FormatError, UsageError } from './errors.js';
import type { Signer } from './keys.js';
import { Root } from './root.js';
import type { RoleType, Signed } from './signed.js';
import { Snapshot, Timestamp } from './timestamp.js';
import { Targets } from './targets.js';
import { expectArray, expectObject, expectString, isHex, parseJSON, unrecognized, EMPTY } from './shape.js';
import type { JSONObject } from './shape.js';

export class Signature {
  readonly keyid: string;
  readonly sig: string;
  readonly unrecognized: Readonly<Record<string, unknown>>;

  constructor(keyid: string, sig: string, unrec: Readonly<Record<string, unknown>> = EMPTY) {
    this.keyid = keyid;
    this.sig = sig;
    this.unrecognized = unrec;
  }

  static fromJSON(json: unknown, path: string): Signature {
    const o = expectObject(json, path);
    const sig = expectString(o['sig'], `${path}.sig`);
    if (!isHex(sig)) throw new FormatError(`${path}.sig: expected a hex string`);
    return new Signature(expectString(o['keyid'], `${path}.keyid`), sig, unrecognized(o, ['keyid', 'sig']));
  }

  toJSON(): JSONObject {
    return { ...(this.unrecognized as JSONObject), keyid: this.keyid, sig: this.sig };
  }
}

type RoleClass = { root: Root; timestamp: Timestamp; snapshot: Snapshot; targets: Targets };

export class Metadata<T extends Signed = Signed> {
  readonly signed: T;
  /** keyid -> signature; a keyid appears at most once (duplicates are rejected on parse). */
  readonly signatures: ReadonlyMap<string, Signature>;
  readonly unrecognized: Readonly<Record<string, unknown>>;
  #signedJSON: unknown;
  #signedBytes: Uint8Array | undefined;

  constructor(signed: T, signatures: Iterable<Signature> = [], unrec: Readonly<Record<string, unknown>> = EMPTY, signedJSON?: unknown) {
    this.signed = signed;
    const m = new Map<string, Signature>();
    for (const s of signatures) {
      if (m.has(s.keyid)) throw new FormatError(`signatures: key id ${s.keyid} signed twice`);
      m.set(s.keyid, s);
    }
    this.signatures = m;
    this.unrecognized = unrec;
    this.#signedJSON = signedJSON ?? signed.toJSON();
  }

  /**
   * Parse an envelope from bytes. `expected` checks the role type (TUF 5.3-5.6 "of the right
   * type"). Throws FormatError (or CanonicalizationError, SpecVersionError) on any malformation.
   */
  static fromBytes<K extends RoleType>(bytes: Uint8Array | string, expected: K): Metadata<RoleClass[K]>;
  static fromBytes(bytes: Uint8Array | string, expected?: RoleType): Metadata;
  static fromBytes(bytes: Uint8Array | string, expected?: RoleType): Metadata {
    return Metadata.fromJSON(parseJSON(bytes, expected ?? 'metadata'), expected);
  }

  static fromJSON(json: unknown, expected?: RoleType): Metadata {
    const o = expectObject(json, 'metadata');
    const signedJSON = expectObject(o['signed'], 'signed');
    const type = signedJSON['_type'];
    // Only a string is echoed: JSON.stringify of a deeply nested value throws RangeError.
    const shown = typeof type === 'string' ? JSON.stringify(type) : typeof type;
    if (expected !== undefined && type !== expected) {
      throw new FormatError(`expected ${expected} metadata, got _type ${shown}`);
    }
    let signed: Signed;
    switch (type) {
      case 'root': signed = Root.fromJSON(signedJSON); break;
      case 'timestamp': signed = Timestamp.fromJSON(signedJSON); break;
      case 'snapshot': signed = Snapshot.fromJSON(signedJSON); break;
      case 'targets': signed = Targets.fromJSON(signedJSON); break;
      default: throw new FormatError(`signed._type: unknown type ${shown}`);
    }
    const sigs = expectArray(o['signatures'], 'signatures').map((s, i) => Signature.fromJSON(s, `signatures[${i}]`));
    const md = new Metadata(signed, sigs, unrecognized(o, ['signed', 'signatures']), signedJSON);
    md.signedBytes(); // canonicalisable, or fail now with a coded error
    return md;
  }

  /** The canonical bytes that signatures cover (computed once). */
  signedBytes(): Uint8Array {
    this.#signedBytes ??= canonicalBytes(this.#signedJSON);
    return this.#signedBytes;
  }

  toJSON(): JSONObject {
    return {
      ...(this.unrecognized as JSONObject),
      signatures: [...this.signatures.values()].map((s) => s.toJSON()),
      signed: this.#signedJSON as JSONObject,
    };
  }

  /**
   * Serialised envelope: compact JSON with sorted keys (as python-tuf writes), so that a reader
   * re-canonicalises the `signed` part without reordering anything.
   */
  toBytes(): Uint8Array {
    return Buffer.from(sortedJSON(this.toJSON()), 'utf8');
  }

  /** A copy signed additionally (or again) by `signers`; existing signatures by them are replaced. */
  sign(...signers: Signer[]): Metadata<T> {
    const data = this.signedBytes();
    const sigs = new Map(this.signatures);
    for (const s of signers) sigs.set(s.keyId, new Signature(s.keyId, s.sign(data)));
    return new Metadata(this.signed, sigs.values(), this.unrecognized, this.#signedJSON);
  }

  /** A copy with no signatures. */
  withoutSignatures(): Metadata<T> {
    return new Metadata(this.signed, [], this.unrecognized, this.#signedJSON);
  }

  static of<T extends Signed>(signed: T, ...signers: Signer[]): Metadata<T> {
    if (!(signed instanceof Root || signed instanceof Timestamp || signed instanceof Snapshot || signed instanceof Targets)) {
      throw new UsageError('unknown role model');
    }
    return new Metadata(signed).sign(...signers);
  }
}

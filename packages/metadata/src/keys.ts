/**
 * Public keys and signatures as TUF 1.0 (§4.2 "File formats: general principles", KEY objects)
 * and securesystemslib encode them:
 * - ed25519 / scheme ed25519: `keyval.public` is the 32-byte key in hex; signature raw 64 bytes hex.
 * - ecdsa (or legacy keytype ecdsa-sha2-nistp256) / scheme ecdsa-sha2-nistp256: `keyval.public`
 *   is SPKI PEM, or (go-tuf legacy) the uncompressed point in hex; signature DER hex over SHA-256.
 * - rsa / scheme rsassa-pss-sha256: SPKI PEM; PSS with MGF1-SHA256. We sign with salt length =
 *   digest length (as securesystemslib and go-tuf do) and accept any salt length on verify.
 * A key id is the SHA-256 of the canonical JSON of the key object (TUF §4.2 KEYID).
 */
import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, constants } from 'node:crypto';
import type { KeyObject, VerifyKeyObjectInput, VerifyPublicKeyInput } from 'node:crypto';
import { canonicalBytes } from './canonical.js';
import { FormatError, UsageError } from './errors.js';
import { expectObject, expectString, isHex, unrecognized, EMPTY } from './shape.js';
import type { JSONObject } from './shape.js';

export type Scheme = 'ed25519' | 'ecdsa-sha2-nistp256' | 'rsassa-pss-sha256';
export const SCHEMES: readonly Scheme[] = ['ed25519', 'ecdsa-sha2-nistp256', 'rsassa-pss-sha256'];

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

const KEY_FIELDS = ['keytype', 'scheme', 'keyval'] as const;

export class Key {
  readonly keytype: string;
  readonly scheme: string;
  /** `keyval.public` */
  readonly publicValue: string;
  readonly keyvalUnrecognized: Readonly<Record<string, unknown>>;
  readonly unrecognized: Readonly<Record<string, unknown>>;
  #keyObject: KeyObject | null | undefined;
  #identity: string | undefined;
  #keyId: string | undefined;

  constructor(opts: {
    keytype: string;
    scheme: string;
    publicValue: string;
    keyvalUnrecognized?: Readonly<Record<string, unknown>>;
    unrecognized?: Readonly<Record<string, unknown>>;
  }) {
    this.keytype = opts.keytype;
    this.scheme = opts.scheme;
    this.publicValue = opts.publicValue;
    this.keyvalUnrecognized = opts.keyvalUnrecognized ?? EMPTY;
    this.unrecognized = opts.unrecognized ?? EMPTY;
  }

  static fromJSON(json: unknown, path = 'key'): Key {
    const o = expectObject(json, path);
    const keyval = expectObject(o['keyval'], `${path}.keyval`);
    return new Key({
      keytype: expectString(o['keytype'], `${path}.keytype`),
      scheme: expectString(o['scheme'], `${path}.scheme`),
      publicValue: expectString(keyval['public'], `${path}.keyval.public`),
      keyvalUnrecognized: unrecognized(keyval, ['public']),
      unrecognized: unrecognized(o, KEY_FIELDS),
    });
  }

  toJSON(): JSONObject {
    return {
      ...(this.unrecognized as JSONObject),
      keytype: this.keytype,
      scheme: this.scheme,
      keyval: { ...(this.keyvalUnrecognized as JSONObject), public: this.publicValue },
    };
  }

  /** TUF key id: hex SHA-256 of the canonical JSON of the key object. */
  keyId(): string {
    this.#keyId ??= createHash('sha256').update(canonicalBytes(this.toJSON())).digest('hex');
    return this.#keyId;
  }

  /** The node:crypto key, or null when the key material is malformed or the scheme unknown. */
  keyObject(): KeyObject | null {
    if (this.#keyObject === undefined) this.#keyObject = parsePublicKey(this);
    return this.#keyObject;
  }

  /**
   * What makes two key entries the same key, whatever their ids or encodings: the SPKI DER.
   * Thresholds count each distinct identity once (TUF 5.4.x "threshold of distinct keys").
   */
  identity(): string {
    if (this.#identity === undefined) {
      const ko = this.keyObject();
      this.#identity = ko === null
        ? `unparsed:${this.keytype}:${this.publicValue}`
        : (ko.export({ type: 'spki', format: 'der' })).toString('hex');
    }
    return this.#identity;
  }

  /** Verify a hex signature over `data`. Malformed signatures and keys verify as false. */
  verify(data: Uint8Array, signatureHex: string): boolean {
    const args = this.#verifyArgs(signatureHex);
    if (args === undefined) return false;
    try {
      return cryptoVerify(args.algorithm, data, args.key, args.sig);
    } catch {
      // node:crypto throws on structurally invalid DER signatures: that is a failed verification.
      return false;
    }
  }

  /**
   * The same as verify(), computed in libuv's thread pool (node:crypto verify with a callback):
   * a server verifying many signatures keeps its event loop free and uses the other cores.
   */
  verifyAsync(data: Uint8Array, signatureHex: string): Promise<boolean> {
    const args = this.#verifyArgs(signatureHex);
    if (args === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      try {
        cryptoVerify(args.algorithm, data, args.key, args.sig, (err, ok) => resolve(err === null && ok));
      } catch {
        resolve(false);
      }
    });
  }

  /** What node:crypto verify needs for this key's scheme, or undefined when it cannot verify. */
  #verifyArgs(signatureHex: string): { algorithm: string | null; key: KeyObject | VerifyKeyObjectInput | VerifyPublicKeyInput; sig: Buffer } | undefined {
    const ko = this.keyObject();
    if (ko === null || signatureHex.length === 0 || !isHex(signatureHex)) return undefined;
    const sig = Buffer.from(signatureHex, 'hex');
    switch (this.scheme) {
      case 'ed25519':
        return sig.length === 64 ? { algorithm: null, key: ko, sig } : undefined;
      case 'ecdsa-sha2-nistp256':
        return { algorithm: 'sha256', key: { key: ko, dsaEncoding: 'der' }, sig };
      case 'rsassa-pss-sha256':
        return { algorithm: 'sha256', key: { key: ko, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig };
      default:
        return undefined;
    }
  }
}

function parsePublicKey(key: Key): KeyObject | null {
  try {
    const pub = key.publicValue;
    if (key.scheme === 'ed25519' && key.keytype === 'ed25519') {
      if (pub.length !== 64 || !isHex(pub)) return null;
      return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(pub, 'hex')]), format: 'der', type: 'spki' });
    }
    if (key.scheme === 'ecdsa-sha2-nistp256' && (key.keytype === 'ecdsa' || key.keytype === 'ecdsa-sha2-nistp256')) {
      const ko = pub.startsWith('-----BEGIN')
        ? createPublicKey({ key: pub, format: 'pem' })
        : pub.length === 130 && isHex(pub) && pub.startsWith('04')
          ? createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, Buffer.from(pub, 'hex')]), format: 'der', type: 'spki' })
          : null;
      if (ko === null || ko.asymmetricKeyType !== 'ec' || ko.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return null;
      return ko;
    }
    if (key.scheme === 'rsassa-pss-sha256' && key.keytype === 'rsa') {
      const ko = createPublicKey({ key: pub, format: 'pem' });
      return ko.asymmetricKeyType === 'rsa' && (ko.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? ko : null;
    }
    return null;
  } catch {
    // Malformed key material: such a key can never verify a signature (it counts for nothing).
    return null;
  }
}

/** The public Key for a node:crypto public key in the given scheme. */
export function keyFromPublicKeyObject(pub: KeyObject, scheme: Scheme): Key {
  switch (scheme) {
    case 'ed25519': {
      if (pub.asymmetricKeyType !== 'ed25519') throw new UsageError('not an ed25519 key');
      const der = pub.export({ type: 'spki', format: 'der' });
      return new Key({ keytype: 'ed25519', scheme, publicValue: der.subarray(ED25519_SPKI_PREFIX.length).toString('hex') });
    }
    case 'ecdsa-sha2-nistp256':
      if (pub.asymmetricKeyType !== 'ec') throw new UsageError('not an EC key');
      return new Key({ keytype: 'ecdsa', scheme, publicValue: pub.export({ type: 'spki', format: 'pem' }).toString() });
    case 'rsassa-pss-sha256':
      if (pub.asymmetricKeyType !== 'rsa') throw new UsageError('not an RSA key');
      return new Key({ keytype: 'rsa', scheme, publicValue: pub.export({ type: 'spki', format: 'pem' }).toString() });
  }
}

/** Something that signs canonical bytes for one key: a private key here, an HSM or KMS elsewhere. */
export interface Signer {
  readonly key: Key;
  readonly keyId: string;
  /** Hex signature over `data` in the key's scheme. */
  sign(data: Uint8Array): string;
}

export class PrivateKeySigner implements Signer {
  readonly key: Key;
  readonly keyId: string;
  readonly privateKey: KeyObject;

  constructor(key: Key, privateKey: KeyObject) {
    this.key = key;
    this.keyId = key.keyId();
    this.privateKey = privateKey;
  }

  sign(data: Uint8Array): string {
    switch (this.key.scheme) {
      case 'ed25519':
        return cryptoSign(null, data, this.privateKey).toString('hex');
      case 'ecdsa-sha2-nistp256':
        return cryptoSign('sha256', data, { key: this.privateKey, dsaEncoding: 'der' }).toString('hex');
      case 'rsassa-pss-sha256':
        return cryptoSign('sha256', data, {
          key: this.privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }).toString('hex');
      default:
        throw new UsageError(`cannot sign with scheme ${this.key.scheme}`);
    }
  }

  /** A signer from a private key (any format node:crypto reads) and a scheme. */
  static fromPrivateKey(privateKey: KeyObject, scheme: Scheme): PrivateKeySigner {
    return new PrivateKeySigner(keyFromPublicKeyObject(createPublicKey(privateKey), scheme), privateKey);
  }
}

/** A new key pair for `scheme` (RSA: 3072 bits unless told). */
export function generateSigner(scheme: Scheme = 'ed25519', rsaBits = 3072): PrivateKeySigner {
  let privateKey: KeyObject;
  switch (scheme) {
    case 'ed25519':
      privateKey = generateKeyPairSync('ed25519').privateKey;
      break;
    case 'ecdsa-sha2-nistp256':
      privateKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      break;
    case 'rsassa-pss-sha256':
      privateKey = generateKeyPairSync('rsa', { modulusLength: rsaBits }).privateKey;
      break;
    default:
      throw new UsageError(`unknown scheme ${String(scheme)}`);
  }
  return PrivateKeySigner.fromPrivateKey(privateKey, scheme);
}

export function expectScheme(s: string): Scheme {
  if (!(SCHEMES as readonly string[]).includes(s)) throw new FormatError(`unknown signature scheme ${s}`);
  return s as Scheme;
}

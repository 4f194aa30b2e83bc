/**
 * c2sp.org/signed-note: a text ending in a newline, a blank line, then signature lines
 * `— <key name> <base64(uint32 key ID || signature)>\n`. Ed25519 (type 0x01) signers and
 * verifiers; other types (cosignature.ts) plug in through NoteVerifier.
 */
import { concatBytes, fromBase64, fromUtf8, hasControlChar, hasLoneSurrogate, toBase64, utf8 } from './bytes.js';
import { LogFormatError, LogSignatureError, LogUsageError } from './errors.js';
import { MAX_NOTE_BYTES, MAX_NOTE_SIGNATURES } from './limits.js';
import {
  SIG_TYPE_ED25519, computeKeyId, decodeSignerKey, decodeVerifierKey, ed25519FromSeed, ed25519PublicKey, ed25519Sign,
  ed25519Verify, encodeSignerKey, encodeVerifierKey, isValidKeyName, randomSeed,
} from './note-keys.js';

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** Verifies `signature` (without the 4-byte key ID) over the note text bytes. */
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** Signs the note text bytes; returns the signature without the key ID. */
  sign(text: Uint8Array): Uint8Array;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** Signature bytes after the 4-byte key ID. */
  readonly signature: Uint8Array;
}

export interface ParsedNote {
  /** The note text, including its final newline. */
  readonly text: string;
  readonly textBytes: Uint8Array;
  readonly signatures: readonly NoteSignature[];
}

export interface OpenedNote extends ParsedNote {
  /** Signatures from known keys, all verified (one per key). */
  readonly verified: readonly NoteSignature[];
  /** Signatures from unknown keys, ignored (c2sp.org/signed-note "Signatures"). */
  readonly unverified: readonly NoteSignature[];
}

export interface NoteLimits {
  readonly maxBytes?: number;
  readonly maxSignatures?: number;
}

/** An Ed25519 verifier from a `<name>+<hex8>+<base64(0x01 || key)>` verifier key. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const k = decodeVerifierKey(vkey);
  if (k.sigType !== SIG_TYPE_ED25519 || k.key.length !== 32) {
    throw new LogFormatError('LOG_MALFORMED_KEY', 'verifier key is not an Ed25519 (type 0x01) key');
  }
  if (computeKeyId(k.name, SIG_TYPE_ED25519, k.key) !== k.keyId) throw new LogFormatError('LOG_MALFORMED_KEY', 'verifier key ID does not match the key');
  const pub = ed25519PublicKey(k.key);
  return { name: k.name, keyId: k.keyId, verify: (text, sig) => ed25519Verify(pub, text, sig) };
}

/** An Ed25519 signer from a `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 || seed)>` signer key. */
export function parseSignerKey(skey: string): NoteSigner & { readonly verifierKey: string } {
  const k = decodeSignerKey(skey);
  if (k.sigType !== SIG_TYPE_ED25519) throw new LogFormatError('LOG_MALFORMED_KEY', 'signer key is not an Ed25519 (type 0x01) key');
  const { privateKey, publicKey } = ed25519FromSeed(k.key);
  if (computeKeyId(k.name, SIG_TYPE_ED25519, publicKey) !== k.keyId) throw new LogFormatError('LOG_MALFORMED_KEY', 'signer key ID does not match the key');
  return {
    name: k.name,
    keyId: k.keyId,
    verifierKey: encodeVerifierKey(k.name, SIG_TYPE_ED25519, publicKey),
    sign: (text) => ed25519Sign(privateKey, text),
  };
}

/** A new random Ed25519 note key: the secret signer key and the public verifier key strings. */
export function generateSigner(name: string, seed: Uint8Array = randomSeed()): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new LogUsageError('key name is empty or has a space or "+"');
  const { publicKey } = ed25519FromSeed(seed);
  return {
    signerKey: encodeSignerKey(name, SIG_TYPE_ED25519, seed, publicKey),
    verifierKey: encodeVerifierKey(name, SIG_TYPE_ED25519, publicKey),
  };
}

function malformed(message: string): never {
  throw new LogFormatError('LOG_MALFORMED_NOTE', message);
}

/** c2sp.org/signed-note "Format": valid UTF-8 without control characters other than newline. */
function checkText(s: string, what: string): void {
  if (hasControlChar(s)) malformed(`${what} contains a control character`);
  if (hasLoneSurrogate(s)) malformed(`${what} is not valid UTF-8 (lone surrogate)`);
}

/** Signs `text` (which must end with a newline) with every signer, in order. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw new LogUsageError('note text must end with a newline');
  if (signers.length === 0) throw new LogUsageError('a signed note needs at least one signer');
  checkText(text, 'note text');
  const bytes = utf8(text);
  return text + '\n' + signers.map((s) => signatureLine(s.name, s.keyId, s.sign(bytes))).join('');
}

/** One signature line: `— <name> <base64(key ID || signature)>\n`. */
export function signatureLine(name: string, keyId: number, signature: Uint8Array): string {
  if (!isValidKeyName(name)) throw new LogUsageError('key name is empty or has a space or "+"');
  const id = new Uint8Array(4);
  new DataView(id.buffer).setUint32(0, keyId);
  return `\u2014 ${name} ${toBase64(concatBytes([id, signature]))}\n`;
}

function lastBlankLine(b: Uint8Array): number {
  for (let i = b.length - 2; i >= 0; i--) if (b[i] === 0x0a && b[i + 1] === 0x0a) return i;
  return -1;
}

/** Splits and syntax-checks a signed note without verifying any signature. */
export function parseNote(note: Uint8Array | string, limits: NoteLimits = {}): ParsedNote {
  const bytes = typeof note === 'string' ? (hasLoneSurrogate(note) ? malformed('note is not valid UTF-8') : utf8(note)) : note;
  if (!(bytes instanceof Uint8Array)) malformed('note is not bytes or a string');
  if (bytes.length > (limits.maxBytes ?? MAX_NOTE_BYTES)) malformed('note is too large');
  const all = fromUtf8(bytes);
  if (all === undefined) malformed('note is not valid UTF-8');
  checkText(all, 'note');
  // The text ends with a newline and is separated from the signatures by the last blank line.
  const split = lastBlankLine(bytes);
  if (split < 0) malformed('note has no blank line before its signatures');
  const textBytes = bytes.slice(0, split + 1);
  const sigs = bytes.subarray(split + 2);
  if (sigs.length === 0 || sigs[sigs.length - 1] !== 0x0a) malformed('note has no signature lines, or does not end with a newline');
  const signatures: NoteSignature[] = [];
  const maxSignatures = limits.maxSignatures ?? MAX_NOTE_SIGNATURES;
  for (const line of fromUtf8(sigs)!.slice(0, -1).split('\n')) {
    if (signatures.length >= maxSignatures) malformed(`note has more than ${maxSignatures} signatures`);
    // Signature line: em dash, space, key name, space, base64(key ID || signature).
    if (!line.startsWith('\u2014 ')) malformed('signature line does not start with an em dash and a space');
    const rest = line.slice(2);
    const sp = rest.indexOf(' ');
    const name = rest.slice(0, sp);
    const raw = sp < 0 ? undefined : fromBase64(rest.slice(sp + 1));
    if (!isValidKeyName(name) || raw === undefined || raw.length < 5) malformed('malformed signature line');
    const keyId = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0);
    signatures.push({ name, keyId, signature: raw.slice(4) });
  }
  return { text: fromUtf8(textBytes)!, textBytes, signatures };
}

function verifierMap(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const m = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const k = `${v.name}\n${v.keyId}`;
    if (m.has(k)) throw new LogUsageError(`two verifiers share name ${v.name} and key ID ${v.keyId}`);
    m.set(k, v);
  }
  return m;
}

/**
 * c2sp.org/signed-note "Signatures": verifies a note. Signatures from unknown (name, key ID)
 * pairs are ignored; every signature from a known key must verify (else LOG_BAD_SIGNATURE);
 * at least one must be present (else LOG_NO_TRUSTED_SIGNATURE).
 */
export function openNote(note: Uint8Array | string, verifiers: readonly NoteVerifier[], limits: NoteLimits = {}): OpenedNote {
  const parsed = parseNote(note, limits);
  const known = verifierMap(verifiers);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  for (const sig of parsed.signatures) {
    const v = known.get(`${sig.name}\n${sig.keyId}`);
    if (v === undefined) {
      unverified.push(sig);
      continue;
    }
    if (!v.verify(parsed.textBytes, sig.signature)) {
      throw new LogSignatureError('LOG_BAD_SIGNATURE', `signature by ${sig.name} does not verify`);
    }
    if (!verified.some((s) => s.name === sig.name && s.keyId === sig.keyId)) verified.push(sig);
  }
  if (verified.length === 0) throw new LogSignatureError('LOG_NO_TRUSTED_SIGNATURE', 'note has no valid signature from a trusted key');
  return { ...parsed, verified, unverified };
}

/** Appends signature lines (e.g. witness cosignatures) to a signed note. */
export function addSignatures(note: string, lines: readonly string[]): string {
  parseNote(note);
  for (const l of lines) if (!l.startsWith('\u2014 ') || !l.endsWith('\n') || l.indexOf('\n') !== l.length - 1) throw new LogUsageError('not a signature line');
  return note + lines.join('');
}

/**
 * The offline key store of release and security officers: one folder, two files per key.
 * - `NAME.pub.json`: `{ name, keyid, key: <TUF key JSON>, test, created }` (public; 0644).
 * - `NAME.key.pem`: the private key as PKCS#8 PEM encrypted with AES-256-CBC under a passphrase
 *   (node:crypto export; 0600), after a `#` comment header naming the key.
 * - or, for CI, demos and vehicle simulators only, `NAME.TEST-KEY.pem`: unencrypted, with a
 *   header that says so. Such a key is only loaded when the caller allows test keys (`--test`).
 * Files are written atomically (temp file, fsync, then a hard link that fails if the name is
 * taken, so an existing key is never overwritten, even by a concurrent writer).
 * Loading checks that the private key belongs to the public key file (same key id).
 */
import { createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Key, PrivateKeySigner, ReflashError, expectScheme, generateSigner, isObject } from '@reflash/metadata';
import type { Scheme } from '@reflash/metadata';
import { fsyncDir, tempPathFor } from '../io/atomic.js';
import { readSecret, stdinIsTTY } from '../client/prompt.js';

export const PUBLIC_SUFFIX = '.pub.json';
export const ENCRYPTED_SUFFIX = '.key.pem';
export const TEST_SUFFIX = '.TEST-KEY.pem';
export const MIN_PASSPHRASE = 8;

export class KeystoreError extends ReflashError {}

export interface KeyEntry {
  readonly name: string;
  readonly keyid: string;
  readonly key: Key;
  readonly scheme: string;
  /** an unencrypted test key */
  readonly test: boolean;
  readonly created: string | undefined;
  readonly publicFile: string;
  readonly privateFile: string;
}

/** Asked for a key's passphrase; `confirm` when a new key is being created. */
export type PassphraseSource = (name: string, confirm: boolean) => Promise<string>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkKeyName(name: string): string {
  if (!NAME.test(name) || name.endsWith('.pub') || name.endsWith('.key') || name.endsWith('.TEST-KEY')) {
    throw new KeystoreError('KEYSTORE_BAD_NAME', `key name ${JSON.stringify(name)}: use letters, digits, ".", "_" and "-" (up to 128)`);
  }
  return name;
}

function checkPassphrase(p: string): string {
  if (p.length < MIN_PASSPHRASE) throw new KeystoreError('KEYSTORE_WEAK_PASSPHRASE', `the passphrase must have at least ${MIN_PASSPHRASE} characters`);
  return p;
}

/**
 * The default passphrase source: REFLASH_KEY_PASSPHRASE, else a prompt without echo when stdin
 * is a terminal (twice for a new key), else an error.
 */
export function envOrPromptPassphrase(env: Readonly<Record<string, string | undefined>>): PassphraseSource {
  return async (name, confirm) => {
    const fromEnv = env['REFLASH_KEY_PASSPHRASE'];
    if (fromEnv !== undefined && fromEnv !== '') return checkPassphrase(fromEnv);
    if (!stdinIsTTY()) {
      throw new KeystoreError('KEYSTORE_NO_PASSPHRASE', `key ${name}: no passphrase: set REFLASH_KEY_PASSPHRASE or run on a terminal`);
    }
    const p = checkPassphrase(await readSecret(`Passphrase for key ${name}: `));
    if (confirm && (await readSecret(`Repeat the passphrase for key ${name}: `)) !== p) {
      throw new KeystoreError('KEYSTORE_PASSPHRASE_MISMATCH', 'the two passphrases differ');
    }
    return p;
  };
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** Write a new file atomically; fails with KEYSTORE_KEY_EXISTS if `path` exists. */
async function writeNewFile(path: string, data: string, mode: number): Promise<void> {
  const temp = tempPathFor(path);
  const fh = await open(temp, 'wx', mode);
  try {
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    // link(2), unlike rename(2), refuses an existing destination: no key is ever replaced.
    await link(temp, path);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) throw new KeystoreError('KEYSTORE_KEY_EXISTS', `${path} already exists; keys are never overwritten`, { cause: err });
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
  await fsyncDir(dirname(path));
}

async function exists(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close();
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

function header(lines: readonly string[]): string {
  return lines.map((l) => `# ${l}\n`).join('');
}

export class Keystore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  #paths(name: string): { pub: string; enc: string; test: string } {
    checkKeyName(name);
    return { pub: join(this.dir, `${name}${PUBLIC_SUFFIX}`), enc: join(this.dir, `${name}${ENCRYPTED_SUFFIX}`), test: join(this.dir, `${name}${TEST_SUFFIX}`) };
  }

  /** A new key pair; encrypted under `passphrase`, or an unencrypted test key with `test`. */
  async generate(name: string, opts: { scheme?: Scheme; passphrase?: string; test?: boolean }): Promise<KeyEntry> {
    // Checked before the (slow, for RSA) key generation.
    const p = this.#paths(name);
    for (const f of [p.pub, p.enc, p.test]) {
      if (await exists(f)) throw new KeystoreError('KEYSTORE_KEY_EXISTS', `key ${name} already exists in ${this.dir} (${f}); keys are never overwritten`);
    }
    return this.add(name, generateSigner(opts.scheme ?? 'ed25519'), opts);
  }

  /** Store a signer's key pair under `name` (refuses to overwrite). */
  async add(name: string, signer: PrivateKeySigner, opts: { passphrase?: string | undefined; test?: boolean | undefined }): Promise<KeyEntry> {
    const p = this.#paths(name);
    const test = opts.test === true;
    if (!test && opts.passphrase === undefined) throw new KeystoreError('KEYSTORE_NO_PASSPHRASE', `key ${name}: a passphrase is required (or --test for an unencrypted test key)`);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const created = new Date().toISOString();
    const about = `name: ${name}   keyid: ${signer.keyId}   scheme: ${signer.key.scheme}   created: ${created}`;
    const pem = test
      ? header([
        '*** REFLASH TEST KEY: NOT ENCRYPTED. FOR CI, DEMOS AND VEHICLE SIMULATORS ONLY. ***',
        '*** Never let a production repository or vehicle trust this key.                ***',
        about,
      ]) + signer.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
      : header(['reflash offline key: PKCS#8, encrypted with AES-256-CBC under a passphrase', about])
        + signer.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: checkPassphrase(opts.passphrase!) }).toString();
    const privateFile = test ? p.test : p.enc;
    await writeNewFile(privateFile, pem, 0o600);
    const pub = { name, keyid: signer.keyId, key: signer.key.toJSON(), test, created };
    try {
      await writeNewFile(p.pub, `${JSON.stringify(pub, null, 2)}\n`, 0o644);
    } catch (err) {
      // No half-made key: the private file written just now goes again.
      await rm(privateFile, { force: true });
      throw err;
    }
    return { name, keyid: signer.keyId, key: signer.key, scheme: signer.key.scheme, test, created, publicFile: p.pub, privateFile };
  }

  /** Every key (by its public file), sorted by name. */
  async list(): Promise<KeyEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const out: KeyEntry[] = [];
    for (const f of names.sort()) {
      if (f.endsWith(PUBLIC_SUFFIX) && !f.startsWith('.')) out.push(await this.publicKey(f.slice(0, -PUBLIC_SUFFIX.length)));
    }
    return out;
  }

  async publicKey(name: string): Promise<KeyEntry> {
    const p = this.#paths(name);
    let text: string;
    try {
      text = await readFile(p.pub, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new KeystoreError('KEYSTORE_KEY_NOT_FOUND', `no key ${name} in ${this.dir}`, { cause: err });
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new KeystoreError('KEYSTORE_CORRUPT', `${p.pub}: not valid JSON`, { cause: err });
    }
    if (!isObject(json)) throw new KeystoreError('KEYSTORE_CORRUPT', `${p.pub}: expected an object`);
    const key = Key.fromJSON(json['key'], `${p.pub}: key`);
    const keyid = key.keyId();
    if (json['keyid'] !== keyid) throw new KeystoreError('KEYSTORE_CORRUPT', `${p.pub}: keyid does not match the key`);
    expectScheme(key.scheme);
    const test = json['test'] === true;
    return {
      name, keyid, key, scheme: key.scheme, test,
      created: typeof json['created'] === 'string' ? json['created'] : undefined,
      publicFile: p.pub, privateFile: test ? p.test : p.enc,
    };
  }

  /**
   * The signer for `name`: decrypts the private key with a passphrase from `passphrase`, or loads
   * a test key when `allowTest`. Wrong passphrase: KEYSTORE_BAD_PASSPHRASE.
   */
  async signer(name: string, opts: { passphrase: PassphraseSource; allowTest?: boolean }): Promise<PrivateKeySigner> {
    const entry = await this.publicKey(name);
    if (entry.test && opts.allowTest !== true) {
      throw new KeystoreError('KEYSTORE_TEST_KEY_REFUSED', `key ${name} is an unencrypted TEST key (${entry.privateFile}); pass --test to use it`);
    }
    let pem: string;
    try {
      pem = await readFile(entry.privateFile, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new KeystoreError('KEYSTORE_KEY_NOT_FOUND', `key ${name}: no private key file ${entry.privateFile}`, { cause: err });
      throw err;
    }
    let privateKey: KeyObject;
    if (entry.test) {
      try {
        privateKey = createPrivateKey({ key: pem, format: 'pem' });
      } catch (err) {
        throw new KeystoreError('KEYSTORE_CORRUPT', `${entry.privateFile}: ${(err as Error).message}`, { cause: err });
      }
    } else {
      if (!pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
        throw new KeystoreError('KEYSTORE_CORRUPT', `${entry.privateFile}: not an encrypted PKCS#8 key`);
      }
      const passphrase = await opts.passphrase(name, false);
      try {
        privateKey = createPrivateKey({ key: pem, format: 'pem', passphrase });
      } catch (err) {
        // A wrong passphrase fails the CBC padding check (or, 1 in 256, the DER parse after it).
        throw new KeystoreError('KEYSTORE_BAD_PASSPHRASE', `key ${name}: wrong passphrase (or a damaged key file)`, { cause: err });
      }
    }
    const signer = PrivateKeySigner.fromPrivateKey(privateKey, expectScheme(entry.scheme));
    if (signer.keyId !== entry.keyid) {
      throw new KeystoreError('KEYSTORE_CORRUPT', `key ${name}: the private key does not belong to ${entry.publicFile}`);
    }
    return signer;
  }

  /** Signers for several names, in order; one passphrase prompt per encrypted key. */
  async signers(names: readonly string[], opts: { passphrase: PassphraseSource; allowTest?: boolean }): Promise<PrivateKeySigner[]> {
    const out: PrivateKeySigner[] = [];
    for (const n of names) out.push(await this.signer(n, opts));
    return out;
  }

  /**
   * Signers for those of `names` whose private key is in this store; the others (only their
   * public file is here: another officer holds the private key) are returned as `absent`.
   */
  async availableSigners(names: readonly string[], opts: { passphrase: PassphraseSource; allowTest?: boolean }): Promise<{ signers: PrivateKeySigner[]; absent: KeyEntry[] }> {
    const signers: PrivateKeySigner[] = [];
    const absent: KeyEntry[] = [];
    for (const n of names) {
      const e = await this.publicKey(n);
      if (await exists(e.privateFile)) signers.push(await this.signer(n, opts));
      else absent.push(e);
    }
    return { signers, absent };
  }
}

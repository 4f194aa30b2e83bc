/**
 * The log's secrets: the Ed25519 note signing key (c2sp.org/signed-note; key name = origin)
 * and the VIN salt. Both are created on first start (under a cross-process lock) and kept in
 * one `log_keys` row, sealed with the server master key (AES-256-GCM, key = HKDF-SHA256(master,
 * random salt, purpose)); the master key never enters the database. The origin is fixed at that point:
 * a different configured origin later is refused (a log's identity does not change).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { generateSigner, parseSignerKey } from '@reflash/log';
import type { NoteSigner } from '@reflash/log';
import type { Db } from '../db/connect.js';
import { withLock } from '../db/lock.js';

const ROW_ID = 'log';

/** HKDF-SHA256: the master key is a high-entropy secret (32 random bytes, or >= 32 characters). */
function kdf(master: string, salt: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(master, 'utf8'), salt, `reflash-log:${purpose}`, 32));
}

/** `v1.<salt>.<iv>.<tag>.<ciphertext>` (base64url), AES-256-GCM with the purpose as AAD. */
export function seal(master: string, purpose: string, plain: Uint8Array): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kdf(master, salt, purpose), iv);
  c.setAAD(Buffer.from(purpose));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return ['v1', salt, iv, c.getAuthTag(), ct].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

export function unseal(master: string, purpose: string, sealed: string): Uint8Array {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== 'v1') throw new Error(`log secret ${purpose} is not sealed in format v1`);
  const [salt, iv, tag, ct] = parts.slice(1).map((p) => Buffer.from(p, 'base64url')) as [Buffer, Buffer, Buffer, Buffer];
  const d = createDecipheriv('aes-256-gcm', kdf(master, salt, purpose), iv);
  d.setAAD(Buffer.from(purpose));
  d.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
  } catch (err) {
    throw new Error(`cannot unseal the log ${purpose}: wrong master key (REFLASH_MASTER_KEY / master.key)?`, { cause: err });
  }
}

export interface LogKeys {
  readonly origin: string;
  /** `<origin>+<hex8 key id>+<base64(0x01 || public key)>`: what verifiers pass as --log-key */
  readonly verifierKey: string;
  readonly signer: NoteSigner;
  readonly vinSalt: Uint8Array;
}

/** Loads the log's keys, creating them on first start. */
export async function loadLogKeys(db: Db, master: string, origin: string, now: number): Promise<LogKeys> {
  const read = (): Promise<{ origin: string; verifier_key: string; sealed_seed: string; sealed_vin_salt: string } | undefined> =>
    db.kysely.selectFrom('log_keys').select(['origin', 'verifier_key', 'sealed_seed', 'sealed_vin_salt']).where('id', '=', ROW_ID).executeTakeFirst();
  let row = await read();
  if (row === undefined) {
    row = await withLock(db, 'reflash:audit-keys', async () => {
      const again = await read();
      if (again !== undefined) return again;
      const seed = randomBytes(32);
      const { verifierKey } = generateSigner(origin, seed);
      const fresh = { origin, verifier_key: verifierKey, sealed_seed: seal(master, 'seed', seed), sealed_vin_salt: seal(master, 'vin-salt', randomBytes(32)) };
      await db.kysely.insertInto('log_keys').values({ id: ROW_ID, ...fresh, created_at: now }).execute();
      return fresh;
    });
  }
  if (row.origin !== origin) {
    throw new Error(`the accountability log was created with origin "${row.origin}"; the configured logOrigin "${origin}" differs (a log's identity cannot change)`);
  }
  const signer = parseSignerKey(generateSigner(row.origin, unseal(master, 'seed', row.sealed_seed)).signerKey);
  if (signer.verifierKey !== row.verifier_key) throw new Error('the sealed log signing key does not match the stored verifier key');
  return { origin: row.origin, verifierKey: row.verifier_key, signer, vinSalt: unseal(master, 'vin-salt', row.sealed_vin_salt) };
}

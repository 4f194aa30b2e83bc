/**
 * Online keys (Image-repository snapshot and timestamp; all Director roles). Private keys are
 * stored in the database as PKCS#8 PEM encrypted (AES-256-CBC, scrypt-derived, by node:crypto)
 * with the server master key, which never enters the database: it comes from
 * REFLASH_MASTER_KEY or from `<dataDir>/master.key` (created 0600 on first start). Several server
 * processes must share it. Root and targets keys of the Image repository are never here.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Key, PrivateKeySigner, generateSigner } from '@reflash/metadata';
import type { Scheme } from '@reflash/metadata';
import type { Db } from '../db/connect.js';
import { seal, unseal } from '../audit/keys.js';

export type RepoName = 'image' | 'director';

/** How long a list of active signers is reused before the database is asked again. */
export const SIGNER_CACHE_MS = 5_000;
export type OnlineRole = 'root' | 'targets' | 'snapshot' | 'timestamp';

/** The master key: env REFLASH_MASTER_KEY, else `<dataDir>/master.key` (created if missing). */
export function loadMasterKey(dataDir: string, env: Record<string, string | undefined>): string {
  const fromEnv = env['REFLASH_MASTER_KEY'];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < 32) throw new Error('REFLASH_MASTER_KEY must be at least 32 characters');
    return fromEnv;
  }
  const file = join(dataDir, 'master.key');
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}

export class OnlineKeyStore {
  readonly #db: Db;
  readonly #master: string;
  readonly #cache = new Map<string, PrivateKeySigner>();
  /** (repo, role, status) -> signers, for SIGNER_CACHE_MS: key changes made by another process are seen within that time */
  readonly #lists = new Map<string, { at: number; signers: PrivateKeySigner[] }>();

  constructor(db: Db, masterKey: string) {
    this.#db = db;
    this.#master = masterKey;
  }

  /** Create a key; `pending` keys are not used for signing until activated. */
  async create(repo: RepoName, role: OnlineRole, status: 'pending' | 'active', now: number, scheme: Scheme = 'ed25519'): Promise<PrivateKeySigner> {
    const signer = generateSigner(scheme);
    const pem = signer.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: this.#master }).toString();
    await this.#db.kysely.insertInto('online_keys').values({
      key_id: signer.keyId, repo, role, public_json: JSON.stringify(signer.key.toJSON()), private_pem: pem, status, created_at: now,
    }).execute();
    this.#cache.set(signer.keyId, signer);
    this.#lists.clear();
    return signer;
  }

  #signer(row: { key_id: string; public_json: string; private_pem: string }): PrivateKeySigner {
    let s = this.#cache.get(row.key_id);
    if (s === undefined) {
      const key = Key.fromJSON(JSON.parse(row.public_json));
      s = new PrivateKeySigner(key, createPrivateKey({ key: row.private_pem, format: 'pem', passphrase: this.#master }));
      this.#cache.set(row.key_id, s);
    }
    return s;
  }

  /** Signers of `role` with the given status (default active), oldest first. */
  async signers(repo: RepoName, role: OnlineRole, status: 'pending' | 'active' = 'active'): Promise<PrivateKeySigner[]> {
    const k = `${repo}/${role}/${status}`;
    const hit = this.#lists.get(k);
    const now = Date.now();
    if (hit !== undefined && now - hit.at < SIGNER_CACHE_MS) return hit.signers;
    const rows = await this.#db.kysely.selectFrom('online_keys').select(['key_id', 'public_json', 'private_pem'])
      .where('repo', '=', repo).where('role', '=', role).where('status', '=', status).orderBy('created_at').execute();
    const signers = rows.map((r) => this.#signer(r));
    this.#lists.set(k, { at: now, signers });
    return signers;
  }

  async setStatus(keyIds: readonly string[], status: 'active' | 'retired'): Promise<void> {
    if (keyIds.length === 0) return;
    await this.#db.kysely.updateTable('online_keys').set({ status }).where('key_id', 'in', keyIds).execute();
    this.#lists.clear();
  }

  /** Forget cached signer lists (after a change made inside a caller's transaction). */
  invalidate(): void {
    this.#lists.clear();
  }

  /** Seal another server secret with the master key (audit/keys.ts format), e.g. the inspection key. */
  seal(purpose: string, plain: Uint8Array): string {
    return seal(this.#master, purpose, plain);
  }

  unseal(purpose: string, sealed: string): Uint8Array {
    return unseal(this.#master, purpose, sealed);
  }
}

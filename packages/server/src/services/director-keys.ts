/**
 * Director online-key rotation (Uptane 2.1 §5.3; TUF 1.0 §5.3.4): a new key replaces the active
 * key(s) of one Director role; the shared Director root N+1 names the current keys and is signed
 * by the old root keys and (when the root key itself rotates) the new one, so every vehicle
 * follows the chain. Per-vehicle metadata signed with retired keys is re-signed on next access
 * (`ensureFreshDirector` treats it as stale). Recorded in the accountability log.
 */
import { Metadata, Role, Root, formatExpires } from '@reflash/metadata';
import type { Key, RoleType, Signer } from '@reflash/metadata';
import type { ServerContext } from '../context.js';
import { withLock } from '../db/lock.js';
import { auditEvents } from '../audit/events.js';
import { DIRECTOR, forgetDirectorKeysChange, latestDirectorRoot } from './director.js';
import type { OnlineRole } from './keys.js';

const YEAR = 365 * 86_400_000;
const ROLES: readonly OnlineRole[] = ['root', 'targets', 'snapshot', 'timestamp'];

export interface DirectorRotation {
  readonly role: OnlineRole;
  readonly rootVersion: number;
  readonly added: string;
  readonly removed: readonly string[];
}

export async function rotateDirectorKey(ctx: ServerContext, role: OnlineRole, by: string): Promise<DirectorRotation> {
  const result = await withLock(ctx.db, 'director-keys', async () => {
    const current = Metadata.fromBytes((await latestDirectorRoot(ctx.db.kysely)).bytes, 'root');
    const oldRootSigners: Signer[] = await ctx.keys.signers('director', 'root');
    const old = await ctx.keys.signers('director', role);
    const now = ctx.now();
    const fresh = await ctx.keys.create('director', role, 'pending', now);
    const keys = new Map<string, Key>();
    const roles = new Map<RoleType, Role>();
    for (const r of ROLES) {
      const signers = r === role ? [fresh] : await ctx.keys.signers('director', r);
      for (const s of signers) keys.set(s.keyId, s.key);
      roles.set(r, new Role(signers.map((s) => s.keyId), 1));
    }
    const next = new Root({
      specVersion: current.signed.specVersion, version: current.signed.version + 1, expires: formatExpires(now + YEAR),
      consistentSnapshot: true, keys, roles,
    });
    // TUF 5.3.4: root N+1 carries a threshold of the old root keys and of the new ones.
    const signers = role === 'root' ? [...oldRootSigners, fresh] : oldRootSigners;
    const md = Metadata.of(next, ...signers);
    await ctx.db.kysely.transaction().execute(async (trx) => {
      await trx.insertInto('repo_metadata').values({
        repo: DIRECTOR, vin: '', role: 'root', version: next.version, bytes: Buffer.from(md.toBytes()), expires_at: next.expiresMs, created_at: now,
      }).execute();
      await trx.updateTable('online_keys').set({ status: 'active' }).where('key_id', '=', fresh.keyId).execute();
      if (old.length > 0) await trx.updateTable('online_keys').set({ status: 'retired' }).where('key_id', 'in', old.map((s) => s.keyId)).execute();
    });
    ctx.keys.invalidate();
    forgetDirectorKeysChange(ctx);
    ctx.log.info({ role, rootVersion: next.version, keyId: fresh.keyId }, 'Director key rotated');
    return { role, rootVersion: next.version, added: fresh.keyId, removed: old.map((s) => s.keyId) };
  });
  await ctx.audit.append(auditEvents.keyRotation({ repo: 'director', role, rootVersion: result.rootVersion, added: [result.added], removed: result.removed, threshold: 1, by }));
  return result;
}

/**
 * First-start initialisation (idempotent, safe with several processes): online keys for the
 * Image repository (snapshot, timestamp) and the Director (all four roles), the Director root,
 * and a first admin token written to `<dataDir>/admin.token` (0600; never logged).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, Role, Root, SPEC_VERSION, formatExpires } from '@reflash/metadata';
import type { Key, RoleType } from '@reflash/metadata';
import type { ServerContext } from '../context.js';
import { withLock } from '../db/lock.js';
import { createToken } from '../plugins/auth.js';
import type { OnlineRole } from './keys.js';

const YEAR = 365 * 86_400_000;
const ROLES: readonly OnlineRole[] = ['root', 'targets', 'snapshot', 'timestamp'];

export interface InitResult {
  /** set when a first admin token was created */
  readonly adminTokenFile?: string;
}

async function ensureKey(ctx: ServerContext, repo: 'image' | 'director', role: OnlineRole): Promise<void> {
  if ((await ctx.keys.signers(repo, role)).length === 0) await ctx.keys.create(repo, role, 'active', ctx.now());
}

/** Director root v1 over the active Director keys, if there is none yet. */
async function ensureDirectorRoot(ctx: ServerContext): Promise<void> {
  const have = await ctx.db.kysely.selectFrom('repo_metadata').select('version')
    .where('repo', '=', 'director').where('vin', '=', '').where('role', '=', 'root').executeTakeFirst();
  if (have !== undefined) return;
  const keys = new Map<string, Key>();
  const roles = new Map<RoleType, Role>();
  for (const r of ROLES) {
    const signers = await ctx.keys.signers('director', r);
    for (const s of signers) keys.set(s.keyId, s.key);
    roles.set(r, new Role(signers.map((s) => s.keyId), 1));
  }
  const now = ctx.now();
  const root = new Root({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(now + YEAR), consistentSnapshot: true, keys, roles });
  const md = Metadata.of(root, ...(await ctx.keys.signers('director', 'root')));
  await ctx.db.kysely.insertInto('repo_metadata').values({
    repo: 'director', vin: '', role: 'root', version: 1, bytes: Buffer.from(md.toBytes()), expires_at: root.expiresMs, created_at: now,
  }).execute();
}

export async function initialise(ctx: ServerContext): Promise<InitResult> {
  return withLock(ctx.db, 'reflash:init', async () => {
    await ensureKey(ctx, 'image', 'snapshot');
    await ensureKey(ctx, 'image', 'timestamp');
    for (const r of ROLES) await ensureKey(ctx, 'director', r);
    await ensureDirectorRoot(ctx);
    const any = await ctx.db.kysely.selectFrom('api_tokens').select('id').limit(1).executeTakeFirst();
    if (any !== undefined) return {};
    const { token } = await createToken(ctx, 'initial admin', 'admin');
    const file = join(ctx.config.dataDir, 'admin.token');
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    return { adminTokenFile: file };
  });
}

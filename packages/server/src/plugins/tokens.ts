/**
 * API token administration (admin only): POST /api/v1/tokens creates a token for a role and
 * returns it once (only its SHA-256 is stored); GET lists tokens (never their hashes);
 * DELETE /api/v1/tokens/{id} revokes one, effective on the next request.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { createToken } from './auth.js';
import type { Role } from './auth.js';
import { NullableTime, Time, iso } from './assignments.js';

/** The roles of plugins/auth.ts ROLES. */
const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('release-manager'), Type.Literal('operator'), Type.Literal('auditor')]);
const TokenId = Type.String({ pattern: '^[0-9a-f]{16}$' });
const TokenInfo = Type.Object({ id: Type.String(), name: Type.String(), role: RoleSchema, createdAt: Time, revokedAt: NullableTime });

export function tokensPlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const auth = { auth: ['admin'] as const };

  r.post('/api/v1/tokens', {
    config: auth,
    schema: {
      summary: 'Create an API token (shown once)',
      tags: ['tokens'],
      security: [{ token: [] }],
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), role: RoleSchema }, { additionalProperties: false }),
      response: { 201: Type.Object({ id: Type.String(), token: Type.String({ description: 'the secret: shown only in this response' }), name: Type.String(), role: RoleSchema }) },
    },
  }, async (req, reply) => {
    const { id, token } = await createToken(ctx, req.body.name, req.body.role);
    req.log.info({ tokenId: id, role: req.body.role, by: req.operator?.tokenId }, 'API token created');
    return reply.status(201).send({ id, token, name: req.body.name, role: req.body.role });
  });

  r.get('/api/v1/tokens', {
    config: auth,
    schema: {
      summary: 'List API tokens (without secrets or hashes)',
      tags: ['tokens'],
      security: [{ token: [] }],
      response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }) },
    },
  }, async () => {
    const rows = await ctx.db.kysely.selectFrom('api_tokens').select(['id', 'name', 'role', 'created_at', 'revoked_at']).orderBy('created_at').orderBy('id').execute();
    return { tokens: rows.map((t) => ({ id: t.id, name: t.name, role: t.role as Role, createdAt: iso(t.created_at), revokedAt: iso(t.revoked_at) })) };
  });

  r.delete('/api/v1/tokens/:id', {
    config: auth,
    schema: {
      summary: 'Revoke an API token',
      tags: ['tokens'],
      security: [{ token: [] }],
      params: Type.Object({ id: TokenId }),
      response: { 200: TokenInfo },
    },
  }, async (req) => {
    const now = ctx.now();
    // Revoking twice keeps the first revocation time.
    await ctx.db.kysely.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', req.params.id).where('revoked_at', 'is', null).execute();
    const t = await ctx.db.kysely.selectFrom('api_tokens').select(['id', 'name', 'role', 'created_at', 'revoked_at']).where('id', '=', req.params.id).executeTakeFirst();
    if (t === undefined) throw new ApiError('TOKEN_NOT_FOUND', `no token ${req.params.id}`);
    req.log.info({ tokenId: t.id, by: req.operator?.tokenId }, 'API token revoked');
    return { id: t.id, name: t.name, role: t.role as Role, createdAt: iso(t.created_at), revokedAt: iso(t.revoked_at) };
  });
  return Promise.resolve();
}

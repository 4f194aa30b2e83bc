/** POST /api/v1/director/keys/rotate (admin): rotate one Director role's online key. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { rotateDirectorKey } from '../services/director-keys.js';

export function directorKeysPlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post('/api/v1/director/keys/rotate', {
    config: { auth: ['admin'] },
    schema: {
      summary: 'Rotate a Director online key',
      description: 'Creates a new key for the role, retires the old one, and publishes Director root N+1 (signed by the old root key, and the new one when the root key rotates). Vehicles follow the root chain; their metadata is re-signed on next access.',
      tags: ['director'],
      security: [{ token: [] }],
      body: Type.Object({ role: Type.Union([Type.Literal('root'), Type.Literal('targets'), Type.Literal('snapshot'), Type.Literal('timestamp')]) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ role: Type.String(), rootVersion: Type.Integer(), added: Type.String(), removed: Type.Array(Type.String()) }),
      },
    },
  }, async (req) => {
    const res = await rotateDirectorKey(ctx, req.body.role, `token:${req.operator?.tokenId ?? 'unknown'}`);
    return { ...res, removed: [...res.removed] };
  });
  return Promise.resolve();
}

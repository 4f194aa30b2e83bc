/** Liveness (`/healthz`) and readiness (`/readyz`: database answers, not shutting down). */
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';

export interface Lifecycle {
  shuttingDown: boolean;
}

export function healthPlugin(app: FastifyInstance, ctx: ServerContext, life: Lifecycle): void {
  const ok = { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } as const;
  app.get('/healthz', { config: { auth: 'public' }, schema: { response: { 200: ok } } }, () => ({ status: 'ok' }));
  app.get('/readyz', { config: { auth: 'public' }, schema: { response: { 200: ok } } }, async () => {
    if (life.shuttingDown) throw new ApiError('SHUTTING_DOWN');
    try {
      await sql`select 1`.execute(ctx.db.kysely);
    } catch (err) {
      throw new ApiError('NOT_READY', 'the database does not answer', undefined, { cause: err });
    }
    return { status: 'ready' };
  });
}

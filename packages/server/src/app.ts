/**
 * The app factory (CONVENTIONS.md §12): one Fastify instance, one plugin per feature, TypeBox
 * route schemas driving validation, serialisation and the OpenAPI document at /openapi.json.
 * Tests build it in-process and call it with `inject`.
 */
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import type { ReflashError } from '@reflash/metadata';
import type { ServerContext } from './context.js';
import { ApiError, ERRORS } from './errors.js';
import type { ErrorBody } from './errors.js';
import { authPlugin } from './plugins/auth.js';
import { healthPlugin } from './plugins/health.js';
import type { Lifecycle } from './plugins/health.js';
import { metricsPlugin } from './plugins/metrics.js';
import { features } from './features.js';

export type App = FastifyInstance;

function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

export async function buildApp(ctx: ServerContext, life: Lifecycle = { shuttingDown: false }, https?: { cert: Buffer; key: Buffer }): Promise<App> {
  // Typed as Fastify's logger so the instance has the default (plugin-compatible) type.
  const logger: FastifyBaseLogger = ctx.log;
  const app = Fastify({
    ...(https === undefined ? {} : { https }),
    loggerInstance: logger,
    bodyLimit: ctx.config.bodyLimit,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    return503OnClosing: true,
  });

  // JSON bodies are kept raw as well: vehicle request signatures cover the exact bytes
  // (RFC 9530 Content-Digest).
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    req.rawBody = body;
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(body.toString('utf8')) as unknown);
    } catch (err) {
      done(new ApiError('BAD_JSON', undefined, undefined, { cause: err }), undefined);
    }
  });
  // Image uploads are streamed to the blob store: the body is handed over unread.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => {
    done(null, payload);
  });

  app.setErrorHandler((err: FastifyError | ApiError | ReflashError | Error, req, reply) => {
    if (err instanceof ApiError) {
      if (err.status >= 500) req.log.error({ err }, err.message);
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    const fe = err as FastifyError;
    if (fe.validation !== undefined) {
      return reply.status(400).send(errorBody('VALIDATION_FAILED', `${fe.validationContext ?? 'request'}${fe.validation[0]?.instancePath ?? ''} ${fe.validation[0]?.message ?? 'is invalid'}`));
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.status(413).send(errorBody('PAYLOAD_TOO_LARGE', ERRORS.PAYLOAD_TOO_LARGE.message));
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.status(415).send(errorBody('UNSUPPORTED_MEDIA_TYPE', ERRORS.UNSUPPORTED_MEDIA_TYPE.message));
    if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return reply.status(400).send(errorBody('BAD_JSON', fe.message));
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.status(fe.statusCode).send(errorBody('VALIDATION_FAILED', fe.message));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL', ERRORS.INTERNAL.message));
  });
  app.setNotFoundHandler((_req, reply) => reply.status(404).send(errorBody('NOT_FOUND', ERRORS.NOT_FOUND.message)));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Reflash OTA server', version: '0.1.0', description: 'Uptane Image repository, Director, inventory, device and admin APIs' },
      components: {
        securitySchemes: {
          token: { type: 'http', scheme: 'bearer', description: 'operator API token (rft_...)' },
          vehicle: { type: 'apiKey', in: 'header', name: 'Signature', description: 'RFC 9421 HTTP message signature by the Primary ECU key (with Signature-Input, Content-Digest)' },
        },
      },
    },
  });

  // Durability before visibility: no answer leaves while a commit made before it may still be
  // lost on power loss (SQLite 'group' mode fsyncs the WAL once for all waiting; db/connect.ts).
  app.addHook('onSend', async (_req, _reply, payload) => {
    if (ctx.db.undurable) await ctx.db.durable();
    return payload;
  });

  authPlugin(app, ctx);
  metricsPlugin(app, ctx.metrics);
  healthPlugin(app, ctx, life);
  app.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, () => app.swagger());
  for (const feature of features) await app.register(feature, { ctx });
  await app.ready();
  return app;
}

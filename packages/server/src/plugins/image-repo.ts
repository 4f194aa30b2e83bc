/**
 * The Image repository (Uptane 2.1 §5.3): metadata served as static files under /repo/image/,
 * offline-signed root and targets (and delegated targets) uploaded by release managers and
 * verified as a vehicle would, snapshot and timestamp signed online, online key management, and
 * the freshness job that re-signs timestamp (and snapshot) before they expire.
 * See docs/SERVER-API.md "Image repository".
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Static } from 'typebox';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { acceptRoot, acceptTargets } from '../services/image-repo.js';
import { latestMetadata, metadataVersion } from '../services/image-repo-db.js';
import type { MetadataRow } from '../services/image-repo-db.js';
import type { Accepted, AcceptedRoot } from '../services/image-repo.js';
import { serverKeys } from '../services/image-repo-keys.js';
import type { ServerKey } from '../services/image-repo-keys.js';
import { REFRESH_INTERVAL_MS, refreshImageRepo } from '../services/image-repo-sign.js';
import {
  AcceptedSchema, CreateOnlineKeyBody, FileParams, MetadataFileSchema, OnlineKeySchema, OnlineKeysSchema, RoleParams, SignedMetadataSchema, errors,
} from '../services/image-schemas.js';
import type { KeyJSON } from '../services/image-schemas.js';

/** Refusals counted in reflash_verification_failures_total. */
const REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['BAD_METADATA', 'METADATA_REJECTED', 'IMAGE_NOT_UPLOADED', 'REPO_ALREADY_INITIALISED']);

const VERSIONED = /^([1-9][0-9]{0,9})\.(.+)\.json$/;

/** The stored row served as `file` (router-decoded), or undefined. */
async function metadataFile(ctx: ServerContext, file: string): Promise<{ row: MetadataRow; immutable: boolean } | undefined> {
  if (file === 'root.json' || file === 'timestamp.json') {
    const row = await latestMetadata(ctx.db.kysely, file.slice(0, -'.json'.length));
    return row === undefined ? undefined : { row, immutable: false };
  }
  const m = VERSIONED.exec(file);
  // Consistent snapshots (TUF 5.5/5.6): N.<role>.json; the timestamp is only served unversioned.
  if (m === null || m[2] === 'timestamp') return undefined;
  const row = await metadataVersion(ctx.db.kysely, m[2]!, Number(m[1]));
  return row === undefined ? undefined : { row, immutable: true };
}

function sendJsonBytes(reply: FastifyReply, bytes: Buffer, cacheControl: string): FastifyReply {
  return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', cacheControl).send(bytes);
}

type KeyView = Static<typeof OnlineKeySchema>;

function keyView(k: ServerKey): KeyView {
  return { keyId: k.keyId, role: k.role, status: k.status, key: k.key.toJSON() as Static<typeof KeyJSON>, createdAt: new Date(k.createdAt).toISOString() };
}

function acceptedView(a: Accepted | AcceptedRoot): Static<typeof AcceptedSchema> {
  const out: Static<typeof AcceptedSchema> = { role: a.role, version: a.version };
  if (a.snapshotVersion !== undefined) out.snapshotVersion = a.snapshotVersion;
  if (a.timestampVersion !== undefined) out.timestampVersion = a.timestampVersion;
  if ('activatedKeys' in a) {
    out.activatedKeys = [...a.activatedKeys];
    out.retiredKeys = [...a.retiredKeys];
  }
  return out;
}

/** Start the freshness job with the app, stop it (and wait for a running pass) on close. */
function freshnessJob(app: FastifyInstance, ctx: ServerContext): void {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  // Often enough that even very short lifetimes are re-signed at half of them.
  const every = Math.min(REFRESH_INTERVAL_MS, Math.floor(Math.min(ctx.config.timestampExpiryMs, ctx.config.snapshotExpiryMs) / 4));
  app.addHook('onReady', () => {
    timer = setInterval(() => {
      if (running !== undefined) return;
      running = refreshImageRepo(ctx).then(() => undefined, (err: unknown) => {
        ctx.log.warn({ err }, 'image repository freshness job failed');
      }).finally(() => { running = undefined; });
    }, every);
    timer.unref();
    return Promise.resolve();
  });
  app.addHook('onClose', async () => {
    if (timer !== undefined) clearInterval(timer);
    await running;
  });
}

export function imageRepoPlugin(fastify: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onError', (_req, _reply, err, done) => {
    if (err instanceof ApiError && REFUSALS.has(err.code)) ctx.metrics.verificationFailures.inc({ code: err.code });
    done();
  });
  freshnessJob(app, ctx);

  app.get('/repo/image/:file', {
    config: { auth: 'public' },
    schema: {
      summary: 'Image-repository metadata as static files',
      description: 'root.json (latest), N.root.json, timestamp.json, N.snapshot.json, N.targets.json, N.<percent-encoded role>.json. Bytes exactly as signed.',
      tags: ['image repository'],
      params: FileParams,
      response: { 200: MetadataFileSchema, ...errors(404) },
    },
  }, async (req, reply) => {
    const found = await metadataFile(ctx, req.params.file);
    if (found === undefined) throw new ApiError('METADATA_NOT_FOUND', `no metadata file ${req.params.file}`);
    return sendJsonBytes(reply, found.row.bytes, found.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  });

  app.get('/api/v1/image-repo/online-keys', {
    config: { auth: ['release-manager', 'auditor'] },
    schema: {
      summary: 'The server\'s online snapshot and timestamp keys (active and pending)',
      tags: ['image repository'],
      security: [{ token: [] }],
      response: { 200: OnlineKeysSchema, ...errors(401, 403) },
    },
  }, async () => {
    const keys = await serverKeys(ctx.db);
    const pick = (role: string, status: string): KeyView[] => keys.filter((k) => k.role === role && k.status === status).map(keyView);
    return {
      snapshot: { active: pick('snapshot', 'active'), pending: pick('snapshot', 'pending') },
      timestamp: { active: pick('timestamp', 'active'), pending: pick('timestamp', 'pending') },
    };
  });

  app.post('/api/v1/image-repo/online-keys', {
    config: { auth: ['admin'] },
    schema: {
      summary: 'Create a pending online key; it signs once an uploaded root names it',
      tags: ['image repository'],
      security: [{ token: [] }],
      body: CreateOnlineKeyBody,
      response: { 201: OnlineKeySchema, ...errors(400, 401, 403) },
    },
  }, async (req, reply) => {
    const now = ctx.now();
    const signer = await ctx.keys.create('image', req.body.role, 'pending', now);
    ctx.log.info({ role: req.body.role, keyId: signer.keyId }, 'image repository online key created (pending)');
    return reply.status(201).send({ keyId: signer.keyId, role: req.body.role, status: 'pending', key: signer.key.toJSON() as Static<typeof KeyJSON>, createdAt: new Date(now).toISOString() });
  });

  const putRoot = async (raw: Buffer | undefined, by: string): Promise<Static<typeof AcceptedSchema>> => {
    if (raw === undefined || raw.length === 0) throw new ApiError('BAD_METADATA', 'the request body is empty');
    return acceptedView(await acceptRoot(ctx, raw, by));
  };

  app.put('/api/v1/image-repo/root', {
    config: { auth: ['release-manager'] },
    schema: {
      summary: 'Upload a signed root: v1 self-signed, later N+1 signed by the old and new root keys',
      description: 'The root must name the server\'s snapshot and timestamp keys (GET online-keys). Activates named pending keys, retires unnamed ones, re-signs snapshot and timestamp.',
      tags: ['image repository'],
      security: [{ token: [] }],
      body: SignedMetadataSchema,
      response: { 200: AcceptedSchema, ...errors(400, 401, 403, 409, 422) },
    },
  }, async (req) => putRoot(req.rawBody, `token:${req.operator?.tokenId ?? 'unknown'}`));

  app.get('/api/v1/image-repo/metadata/:role', {
    config: { auth: ['release-manager', 'auditor'] },
    schema: {
      summary: 'Current bytes of root, targets or a delegated role (for offline signing)',
      tags: ['image repository'],
      security: [{ token: [] }],
      params: RoleParams,
      response: { 200: MetadataFileSchema, ...errors(401, 403, 404) },
    },
  }, async (req, reply) => {
    const row = await latestMetadata(ctx.db.kysely, req.params.role);
    if (row === undefined) throw new ApiError('METADATA_NOT_FOUND', `no metadata for role ${req.params.role}`);
    return sendJsonBytes(reply, row.bytes, 'no-cache');
  });

  app.put('/api/v1/image-repo/metadata/:role', {
    config: { auth: ['release-manager'] },
    schema: {
      summary: 'Upload signed targets or delegated targets metadata',
      description: 'Version current + 1 (1 if new), a threshold of the root\'s targets keys (or of every role delegating to it), unexpired, only delegated paths, every listed image uploaded with the same length and hashes. Then a new snapshot and timestamp. "root" is the same as PUT /api/v1/image-repo/root.',
      tags: ['image repository'],
      security: [{ token: [] }],
      params: RoleParams,
      body: SignedMetadataSchema,
      response: { 200: AcceptedSchema, ...errors(400, 401, 403, 409, 422) },
    },
  }, async (req) => {
    if (req.params.role === 'root') return putRoot(req.rawBody, `token:${req.operator?.tokenId ?? 'unknown'}`);
    const raw = req.rawBody;
    if (raw === undefined || raw.length === 0) throw new ApiError('BAD_METADATA', 'the request body is empty');
    return acceptedView(await acceptTargets(ctx, req.params.role, raw, `token:${req.operator?.tokenId ?? 'unknown'}`));
  });
  return Promise.resolve();
}

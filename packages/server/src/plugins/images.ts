/**
 * Images: streamed uploads by release managers (`PUT /api/v1/images/{path}`), listing, and
 * downloads for vehicles and operators (`GET /repo/image/targets/{path}`) of images listed in the
 * current signed Image-repository metadata only, by plain or hash-prefixed name
 * (`dir/<sha256|sha512>.<name>`, TUF 5.7.3 consistent snapshots), with HTTP Range support.
 */
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { currentTargets } from '../services/image-repo-current.js';
import type { CurrentTargets, SignedTarget } from '../services/image-repo-current.js';
import { decideRange } from '../services/image-range.js';
import {
  DownloadHeaders, ImageInfoSchema, UploadBody, ImageListQuery, ImageListSchema, UploadHeaders, WildcardParams, errors,
} from '../services/image-schemas.js';
import { getImage, imageNameProblem, listImages, storeImage, toInfo } from '../services/image-store.js';

const HASH_PREFIXED = /^([0-9a-fA-F]{64}|[0-9a-fA-F]{128})\.(.+)$/;

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Checks made before the body is read: name, media type, declared length, declared hash. */
function checkUpload(ctx: ServerContext, req: FastifyRequest): void {
  const name = (req.params as { '*': string })['*'];
  const problem = imageNameProblem(name);
  if (problem !== undefined) throw new ApiError('VALIDATION_FAILED', problem);
  const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/octet-stream') throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'image uploads must be sent as application/octet-stream');
  const length = header(req, 'content-length');
  if (length === undefined) throw new ApiError('LENGTH_REQUIRED', 'image uploads need a Content-Length header (chunked uploads are not accepted)');
  if (!/^\d{1,16}$/.test(length)) throw new ApiError('VALIDATION_FAILED', 'Content-Length must be a whole number');
  if (Number(length) > ctx.config.maxImageSize) throw new ApiError('PAYLOAD_TOO_LARGE', `the image is larger than the limit of ${ctx.config.maxImageSize} bytes`);
  const sha = header(req, 'x-reflash-sha256');
  if (sha !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha)) throw new ApiError('VALIDATION_FAILED', 'x-reflash-sha256 must be 64 hex digits');
}

/** The signed target a download name refers to: `dir/<hash>.<name>` (hash must match) or the plain path. */
export function resolveDownload(current: CurrentTargets, requested: string): SignedTarget | undefined {
  const slash = requested.lastIndexOf('/');
  const dir = requested.slice(0, slash + 1);
  const m = HASH_PREFIXED.exec(requested.slice(slash + 1));
  if (m !== null) {
    const hash = m[1]!.toLowerCase();
    const found = current.find(`${dir}${m[2]!}`);
    const listed = found?.target.hashes[hash.length === 64 ? 'sha256' : 'sha512'];
    if (found !== undefined && listed?.toLowerCase() === hash) return found;
  }
  return current.find(requested);
}

export function imagesPlugin(fastify: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onError', (_req, _reply, err, done) => {
    if (err instanceof ApiError && err.code === 'UPLOAD_MISMATCH') ctx.metrics.verificationFailures.inc({ code: err.code });
    done();
  });

  app.put('/api/v1/images/*', {
    config: { auth: ['release-manager'] },
    schema: {
      summary: 'Upload image bytes (streamed; application/octet-stream with Content-Length)',
      description: 'Same bytes again under the name: 200. Other bytes under an existing name: 409. Optional x-reflash-sha256 is checked against the bytes.',
      tags: ['images'],
      security: [{ token: [] }],
      consumes: ['application/octet-stream'],
      body: UploadBody,
      params: WildcardParams,
      headers: UploadHeaders,
      response: { 200: ImageInfoSchema, 201: ImageInfoSchema, ...errors(400, 401, 403, 409, 411, 413, 415, 422) },
    },
    // Before the body is read (after authentication): refuse what can be refused from headers.
    onRequest: (req, _reply, done) => {
      try {
        checkUpload(ctx, req);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    // Refused before the whole body was read: close the connection rather than let Node drain
    // (possibly gigabytes of) the unread upload.
    onError: (req, reply, _err, done) => {
      if (!req.raw.readableEnded) reply.header('connection', 'close');
      done();
    },
  }, async (req, reply) => {
    const name = req.params['*'];
    const length = Number(header(req, 'content-length'));
    const result = await storeImage(ctx, name, req.body as Readable, length, header(req, 'x-reflash-sha256'), req.operator?.name ?? 'unknown');
    if (result.created) ctx.log.info({ filename: name, length, sha256: result.image.hashes.sha256 }, 'image uploaded');
    const { filename, hashes } = result.image;
    return reply.status(result.created ? 201 : 200).send({ filename, length: result.image.length, hashes });
  });

  app.get('/api/v1/images', {
    config: { auth: ['operator', 'release-manager', 'auditor'] },
    schema: {
      summary: 'Uploaded images, by file name',
      tags: ['images'],
      security: [{ token: [] }],
      querystring: ImageListQuery,
      response: { 200: ImageListSchema, ...errors(400, 401, 403) },
    },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const images = await listImages(ctx.db, limit, req.query.after);
    return images.length === limit ? { images, next: images[images.length - 1]!.filename } : { images };
  });

  app.get('/api/v1/images/*', {
    config: { auth: ['operator', 'release-manager', 'auditor'] },
    schema: {
      summary: 'One uploaded image (length, hashes, whether current signed metadata lists it)',
      tags: ['images'],
      security: [{ token: [] }],
      params: WildcardParams,
      response: { 200: ImageInfoSchema, ...errors(401, 403, 404) },
    },
  }, async (req) => {
    const row = await getImage(ctx.db, req.params['*']);
    if (row === undefined) throw new ApiError('IMAGE_NOT_FOUND', `no image ${req.params['*']}`);
    const current = await currentTargets(ctx.db);
    return { ...toInfo(row), signed: current.find(row.filename) !== undefined };
  });

  app.get('/repo/image/targets/*', {
    config: { auth: 'vehicle-or-operator' },
    schema: {
      summary: 'Image bytes, by hash-prefixed (dir/<sha256|sha512>.<name>) or plain name; HTTP Range',
      description: 'Only images listed in the current signed Image-repository targets metadata. One byte range per request (206); unsatisfiable: 416; several ranges: the whole image (200).',
      tags: ['image repository'],
      security: [{ token: [] }, { vehicle: [] }],
      params: WildcardParams,
      headers: DownloadHeaders,
      response: { 200: { description: 'the image (application/octet-stream)' }, 206: { description: 'the requested byte range' }, ...errors(401, 404, 416) },
    },
  }, async (req, reply) => {
    const requested = req.params['*'];
    const notFound = (): ApiError => new ApiError('IMAGE_NOT_FOUND', `no signed image ${requested}`);
    if (imageNameProblem(requested) !== undefined) throw notFound();
    const found = resolveDownload(await currentTargets(ctx.db), requested);
    if (found === undefined) throw notFound();
    const row = await getImage(ctx.db, found.target.path);
    if (row === undefined) throw notFound();
    const size = Number(row.length);
    if ((await ctx.blobs.size(row.blob_key)) !== size) {
      ctx.log.error({ filename: row.filename, blob: row.blob_key }, 'image bytes missing or truncated in the blob store');
      throw new ApiError('INTERNAL', 'the image bytes are not available');
    }
    const immutable = requested !== found.target.path;
    reply.header('accept-ranges', 'bytes')
      .header('etag', `"${row.sha256}"`)
      .header('cache-control', immutable ? 'private, max-age=31536000, immutable' : 'private, no-cache');
    const range = decideRange(header(req, 'range'), size);
    if (range.kind === 'unsatisfiable') {
      reply.header('content-range', `bytes */${size}`);
      throw new ApiError('BAD_RANGE', `the range ${header(req, 'range') ?? ''} is outside the ${size} bytes of ${found.target.path}`);
    }
    reply.header('content-type', 'application/octet-stream');
    // HEAD: the headers only, without reading the blob (an empty stream keeps Content-Length).
    const head = req.method === 'HEAD';
    if (range.kind === 'partial') {
      return reply.status(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
        .header('content-length', String(range.end - range.start + 1))
        .send(head ? Readable.from([]) : ctx.blobs.open(row.blob_key, { start: range.start, end: range.end }));
    }
    reply.status(200).header('content-length', String(size));
    return reply.send(head ? Readable.from([]) : size === 0 ? Buffer.alloc(0) : ctx.blobs.open(row.blob_key));
  });
  return Promise.resolve();
}

/**
 * Accountability log routes (docs/SERVER-API.md "Accountability log"; src/audit/README.md):
 * - the C2SP tlog-tiles read API under /log/ (checkpoint, hash tiles, entry bundles) so
 *   existing tlog tooling can read and verify the log, plus /log/key (the verifier key);
 * - convenience JSON under /api/v1/log/: inclusion proof by leaf hash or index, consistency
 *   proof, one entry, receipts, any signed checkpoint; each proof comes with the exact signed
 *   checkpoint it was built against;
 * - for operators: status, the salted hash of a VIN, adding a witness cosignature.
 * Everything served is bounded by the latest signed checkpoint.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { LogError, encodeEntryBundle, encodeHashTile, parseTilePath } from '@reflash/log';
import { TILE_HEIGHT, TILE_WIDTH } from '@reflash/log/limits';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { Proof } from '../audit/service.js';
import { checkpointText } from '../audit/service.js';

const TEXT = 'text/plain; charset=utf-8';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const HEX32 = '^[0-9a-fA-F]{64}$';

const ProofBody = Type.Object({
  index: Type.Integer(),
  treeSize: Type.Integer(),
  leafHash: Type.String({ description: 'RFC 9162 leaf hash SHA-256(0x00 || entry), hex' }),
  proof: Type.Array(Type.String(), { description: 'RFC 9162 §2.1.3 inclusion proof, base64 hashes, leaf sibling first' }),
  checkpoint: Type.String({ description: 'the signed checkpoint (c2sp.org/tlog-checkpoint note) of treeSize' }),
});

const ConsistencyBody = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  proof: Type.Array(Type.String(), { description: 'RFC 9162 §2.1.4 consistency proof, base64 hashes' }),
  checkpoint: Type.String({ description: 'the signed checkpoint of size `to`' }),
});

function b64(h: Uint8Array): string {
  return Buffer.from(h).toString('base64');
}

function proofJSON(p: Proof): { index: number; treeSize: number; leafHash: string; proof: string[]; checkpoint: string } {
  return { index: p.index, treeSize: p.treeSize, leafHash: Buffer.from(p.leafHash).toString('hex'), proof: p.proof.map(b64), checkpoint: p.checkpoint };
}

export function logPlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const audit = ctx.audit;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['log'];

  r.get('/log/checkpoint', {
    config: { auth: 'public' },
    schema: { summary: 'Latest signed checkpoint (c2sp.org/tlog-checkpoint), with witness cosignatures', tags },
  }, async (_req, reply) => {
    const cp = await audit.checkpoint();
    return reply.header('content-type', TEXT).header('cache-control', 'no-cache').send(checkpointText(cp));
  });

  r.get('/log/key', {
    config: { auth: 'public' },
    schema: { summary: 'The log\'s note verifier key (<origin>+<key id>+<base64 key>) for `reflash audit verify --log-key`', tags },
  }, (_req, reply) => reply.header('content-type', TEXT).send(`${audit.verifierKey}\n`));

  r.get('/log/tile/*', {
    config: { auth: 'public' },
    schema: {
      summary: 'tlog-tiles hash tile tile/<L>/<N>[.p/<W>] or entry bundle tile/entries/<N>[.p/<W>] (c2sp.org/tlog-tiles)',
      tags,
      params: Type.Object({ '*': Type.String({ maxLength: 200 }) }),
    },
  }, async (req, reply) => {
    let tile;
    try {
      tile = parseTilePath(`tile/${req.params['*']}`);
    } catch (err) {
      if (err instanceof LogError) throw new ApiError('LOG_TILE_NOT_FOUND', err.message, undefined, { cause: err });
      throw err;
    }
    const { size } = await audit.checkpoint();
    const begin = tile.index * TILE_WIDTH;
    const end = begin + tile.width;
    let body: Uint8Array;
    if (tile.level < 0) {
      // Entry bundle: entries [N*256, N*256 + W).
      if (end > size) throw new ApiError('LOG_TILE_NOT_FOUND', `entries up to ${end} are not in the signed tree of size ${size}`);
      body = encodeEntryBundle(await audit.storage.readEntries(begin, end));
    } else {
      // Hash tile: nodes of tree level 8L, indexes [N*256, N*256 + W).
      const available = Math.floor(size / TILE_WIDTH ** tile.level);
      if (end > available) throw new ApiError('LOG_TILE_NOT_FOUND', `tile ${tilePathOf(req.params['*'])} is not complete in the signed tree of size ${size}`);
      body = encodeHashTile(await audit.storage.readNodeRange(tile.level * TILE_HEIGHT, begin, end));
    }
    return reply.header('content-type', 'application/octet-stream').header('cache-control', IMMUTABLE).send(Buffer.from(body));
  });

  r.get('/api/v1/log/proof/inclusion', {
    config: { auth: 'public' },
    schema: {
      summary: 'Inclusion proof by leaf hash (or index), with the signed checkpoint it was built against',
      tags,
      querystring: Type.Object({
        hash: Type.Optional(Type.String({ pattern: HEX32, description: 'leaf hash SHA-256(0x00 || entry), hex' })),
        index: Type.Optional(Type.Integer({ minimum: 0 })),
        size: Type.Optional(Type.Integer({ minimum: 1, description: 'a signed tree size (default: the latest)' })),
      }),
      response: { 200: ProofBody },
    },
  }, async (req) => {
    const { hash, index, size } = req.query;
    if ((hash === undefined) === (index === undefined)) throw new ApiError('VALIDATION_FAILED', 'give exactly one of hash and index');
    const p = hash !== undefined ? await audit.inclusionProofByHash(Buffer.from(hash, 'hex'), size) : await audit.inclusionProof(index!, size);
    return proofJSON(p);
  });

  r.get('/api/v1/log/proof/consistency', {
    config: { auth: 'public' },
    schema: {
      summary: 'Consistency proof between tree sizes from and to (default: the latest), with the signed checkpoint of to',
      tags,
      querystring: Type.Object({ from: Type.Integer({ minimum: 1 }), to: Type.Optional(Type.Integer({ minimum: 1 })) }),
      response: { 200: ConsistencyBody },
    },
  }, async (req) => {
    const c = await audit.consistencyProof(req.query.from, req.query.to);
    return { from: c.from, to: c.to, proof: c.proof.map(b64), checkpoint: c.checkpoint };
  });

  r.get('/api/v1/log/entries/:index', {
    config: { auth: 'public' },
    schema: { summary: 'One entry (canonical JSON, the exact bytes hashed into the log)', tags, params: Type.Object({ index: Type.Integer({ minimum: 0 }) }) },
  }, async (req, reply) => {
    const { size } = await audit.checkpoint();
    if (req.params.index >= size) throw new ApiError('LOG_ENTRY_NOT_FOUND', `entry ${req.params.index} is not in the signed tree of size ${size}`);
    const [entry] = await audit.storage.readEntries(req.params.index, req.params.index + 1);
    return reply.header('content-type', 'application/json').header('cache-control', IMMUTABLE).send(Buffer.from(entry!));
  });

  r.get('/api/v1/log/receipts/:index', {
    config: { auth: 'public' },
    schema: { summary: 'Receipt (c2sp.org/tlog-proof@v1, entry in `extra`) against the latest signed checkpoint', tags, params: Type.Object({ index: Type.Integer({ minimum: 0 }) }) },
  }, async (req, reply) => reply.header('content-type', TEXT).header('cache-control', 'no-cache').send(await audit.receipt(req.params.index)));

  r.get('/api/v1/log/checkpoints/:size', {
    config: { auth: 'public' },
    schema: { summary: 'The signed checkpoint of one tree size', tags, params: Type.Object({ size: Type.Integer({ minimum: 0 }) }) },
  }, async (req, reply) => reply.header('content-type', TEXT).send(checkpointText(await audit.checkpoint(req.params.size))));

  r.post('/api/v1/log/checkpoints/:size/cosignatures', {
    config: { auth: ['admin'] },
    schema: {
      summary: 'Add a witness cosignature (c2sp.org/tlog-cosignature) to a signed checkpoint; checked against the witness key',
      tags,
      security: [{ token: [] }],
      params: Type.Object({ size: Type.Integer({ minimum: 0 }) }),
      body: Type.Object({
        witnessKey: Type.String({ maxLength: 1000, description: 'the witness verifier key (type 0x04)' }),
        signature: Type.String({ maxLength: 1000, description: 'the cosignature line "— <name> <base64>"' }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ checkpoint: Type.String() }) },
    },
  }, async (req) => ({ checkpoint: await audit.addCosignature(req.params.size, req.body.witnessKey, req.body.signature) }));

  r.get('/api/v1/log/status', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: 'Log status: origin, verifier key, signed size, appended entries, integrity alert',
      tags,
      security: [{ token: [] }],
      response: {
        200: Type.Object({
          origin: Type.String(),
          verifierKey: Type.String(),
          size: Type.Integer(),
          appended: Type.Integer(),
          lastCheckpointAt: Type.String(),
          halted: Type.Union([Type.Null(), Type.Object({ code: Type.String(), message: Type.String() })]),
        }),
      },
    },
  }, async () => {
    const s = await audit.status();
    return { ...s, lastCheckpointAt: new Date(s.lastCheckpointAt).toISOString() };
  });

  r.get('/api/v1/log/vin-hash', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: 'The salted hash that stands for a VIN in log entries (to find a vehicle\'s entries)',
      tags,
      security: [{ token: [] }],
      querystring: Type.Object({ vin: Type.String({ minLength: 1, maxLength: 64 }) }),
      response: { 200: Type.Object({ vin: Type.String(), vinHash: Type.String() }) },
    },
  }, (req) => ({ vin: req.query.vin, vinHash: audit.vinHash(req.query.vin) }));

  return Promise.resolve();
}

function tilePathOf(rest: string): string {
  return `tile/${rest}`;
}

/**
 * Director repository routes (docs/SERVER-API.md "Director"):
 * - GET /repo/director/{vin}/{file}: a vehicle's own Director metadata (its signed request's key
 *   must belong to {vin}: vehicle A never reads vehicle B's metadata), created on first use,
 *   timestamp re-signed when less than half of its lifetime is left.
 * - GET /api/v1/director/root: the current shared Director root, for provisioning.
 * - GET /api/v1/vehicles/{vin}/director/{file}: the same files for an operator (offline update
 *   bundles: `reflash vehicle export-bundle`); the vehicle verifies them as if fetched itself.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { DIRECTOR_FILE, latestDirectorRoot, readDirectorFile } from '../services/director.js';
import { VIN_PATTERN } from '../services/inventory.js';

const Metadata = Type.Unknown({ description: 'signed TUF/Uptane metadata, exactly as signed' });

export function directorPlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/repo/director/:vin/:file', {
    config: { auth: 'vehicle' },
    schema: {
      summary: 'Director metadata of one vehicle',
      tags: ['director'],
      security: [{ vehicle: [] }],
      params: Type.Object({
        vin: Type.String({ pattern: VIN_PATTERN }),
        file: Type.String({ pattern: DIRECTOR_FILE.source, description: 'N.root.json, root.json, timestamp.json, N.snapshot.json or N.targets.json' }),
      }),
      response: { 200: Metadata },
    },
  }, async (req, reply) => {
    // A vehicle only reaches its own Director metadata.
    if (req.vehicle?.vin !== req.params.vin) throw new ApiError('FORBIDDEN', 'a vehicle may only read its own Director metadata');
    const bytes = await readDirectorFile(ctx, req.params.vin, req.params.file);
    if (bytes === undefined) throw new ApiError('METADATA_NOT_FOUND', `no ${req.params.file} for vehicle ${req.params.vin}`);
    return reply.header('content-type', 'application/json').header('cache-control', 'no-store').send(bytes);
  });

  r.get('/api/v1/vehicles/:vin/director/:file', {
    config: { auth: ['operator'] },
    schema: {
      summary: 'Director metadata of one vehicle, for an operator (offline update bundles)',
      tags: ['director'],
      security: [{ token: [] }],
      params: Type.Object({
        vin: Type.String({ pattern: VIN_PATTERN }),
        file: Type.String({ pattern: DIRECTOR_FILE.source, description: 'N.root.json, root.json, timestamp.json, N.snapshot.json or N.targets.json' }),
      }),
      response: { 200: Metadata },
    },
  }, async (req, reply) => {
    const bytes = await readDirectorFile(ctx, req.params.vin, req.params.file);
    if (bytes === undefined) throw new ApiError('METADATA_NOT_FOUND', `no ${req.params.file} for vehicle ${req.params.vin}`);
    return reply.header('content-type', 'application/json').header('cache-control', 'no-store').send(bytes);
  });

  r.get('/api/v1/director/root', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: 'Current Director root (for provisioning vehicles)',
      tags: ['director'],
      security: [{ token: [] }],
      response: { 200: Metadata },
    },
  }, async (_req, reply) => {
    const root = await latestDirectorRoot(ctx.db.kysely);
    return reply.header('content-type', 'application/json').send(root.bytes);
  });
  return Promise.resolve();
}

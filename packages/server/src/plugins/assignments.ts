/**
 * Assignment routes (docs/SERVER-API.md "Inventory, check-in, assignments, tokens"):
 * POST /api/v1/assignments, GET /api/v1/assignments, DELETE /api/v1/assignments/{id}.
 * Also the Assignment response schema, shared with the vehicle routes.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { cancelAssignment, createAssignments, listAssignments } from '../services/assignments.js';
import type { AssignmentRow, AssignmentStatus } from '../services/assignments.js';
import { ID_PATTERN, VIN_PATTERN } from '../services/inventory.js';

/** Times in responses: ISO 8601 UTC. */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export const Time = Type.String({ format: 'date-time' });
export const NullableTime = Type.Union([Time, Type.Null()]);
const Status = Type.Union([Type.Literal('pending'), Type.Literal('installed'), Type.Literal('failed'), Type.Literal('cancelled'), Type.Literal('scheduled'), Type.Literal('downloaded')]);

export const AssignmentSchema = Type.Object({
  id: Type.Integer(),
  vin: Type.String(),
  ecuSerial: Type.String(),
  hardwareId: Type.String(),
  filename: Type.String(),
  length: Type.Integer(),
  sha256: Type.String(),
  sha512: Type.String(),
  releaseCounter: Type.Union([Type.Integer(), Type.Null()]),
  status: Status,
  failure: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Time,
  completedAt: NullableTime,
});

export function assignmentJSON(a: AssignmentRow): {
  id: number; vin: string; ecuSerial: string; hardwareId: string; filename: string; length: number; sha256: string; sha512: string;
  releaseCounter: number | null; status: AssignmentStatus; failure: string | null; createdBy: string; createdAt: string; completedAt: string | null;
} {
  return {
    id: a.id, vin: a.vin, ecuSerial: a.ecu_serial, hardwareId: a.hardware_id, filename: a.filename, length: a.length, sha256: a.sha256, sha512: a.sha512,
    releaseCounter: a.release_counter, status: a.status as AssignmentStatus, failure: a.failure, createdBy: a.created_by,
    createdAt: iso(a.created_at), completedAt: iso(a.completed_at),
  };
}

export function assignmentsPlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/api/v1/assignments', {
    config: { auth: ['operator'] },
    schema: {
      summary: 'Assign images to the matching ECUs of vehicles',
      description: 'Each ECU of the listed vehicles whose hardware id is a key of `images` gets a pending assignment of that image (replacing its previous pending one). The image must be in the current signed Image repository targets for that hardware id.',
      tags: ['assignments'],
      security: [{ token: [] }],
      body: Type.Object({
        vins: Type.Array(Type.String({ pattern: VIN_PATTERN }), { minItems: 1, maxItems: 10_000 }),
        images: Type.Record(Type.String({ pattern: ID_PATTERN }), Type.String({ minLength: 1, maxLength: 1024 }), { minProperties: 1, maxProperties: 256, additionalProperties: false, description: 'hardware id -> image file name (target path in the Image repository)' }),
      }, { additionalProperties: false }),
      response: {
        201: Type.Object({
          created: Type.Integer({ description: 'assignments created' }),
          vehicles: Type.Integer({ description: 'vehicles with at least one new assignment' }),
        }),
      },
    },
  }, async (req, reply) => {
    const who = req.operator?.name ?? 'unknown';
    const res = await createAssignments(ctx, req.body.vins, req.body.images, who);
    return reply.status(201).send(res);
  });

  r.get('/api/v1/assignments', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: 'List assignments',
      tags: ['assignments'],
      security: [{ token: [] }],
      querystring: Type.Object({
        vin: Type.Optional(Type.String({ pattern: VIN_PATTERN })),
        status: Type.Optional(Status),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        after: Type.Optional(Type.Integer({ minimum: 0, description: 'only ids above this (paging)' })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ assignments: Type.Array(AssignmentSchema) }) },
    },
  }, async (req) => {
    const rows = await listAssignments(ctx, { ...req.query, limit: req.query.limit ?? 100 });
    return { assignments: rows.map(assignmentJSON) };
  });

  r.delete('/api/v1/assignments/:id', {
    config: { auth: ['operator'] },
    schema: {
      summary: 'Cancel a pending assignment',
      tags: ['assignments'],
      security: [{ token: [] }],
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      response: { 200: AssignmentSchema },
    },
  }, async (req) => assignmentJSON(await cancelAssignment(ctx, req.params.id)));
  return Promise.resolve();
}

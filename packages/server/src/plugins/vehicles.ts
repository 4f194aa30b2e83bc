/**
 * Inventory routes (docs/SERVER-API.md "Inventory, check-in, assignments, tokens"):
 * POST /api/v1/vehicles (provision), GET /api/v1/vehicles, GET /api/v1/vehicles/{vin},
 * GET /api/v1/vehicles/{vin}/history.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { ID_PATTERN, VIN_PATTERN, getVehicle, listVehicles, provisionVehicle, vehicleHistory } from '../services/inventory.js';
import type { VehicleRow } from '../services/vehicle-lock.js';
import { AssignmentSchema, NullableTime, Time, assignmentJSON, iso } from './assignments.js';

const Vin = Type.String({ pattern: VIN_PATTERN, description: 'a VIN (17 characters of [A-HJ-NPR-Z0-9], ISO 3779) or any vehicle id of 1..64 characters [A-Za-z0-9-]' });
const Id = Type.String({ pattern: ID_PATTERN });

const TufKey = Type.Object({
  keytype: Type.String({ maxLength: 64 }),
  scheme: Type.String({ maxLength: 64 }),
  keyval: Type.Object({ public: Type.String({ maxLength: 4096 }) }),
}, { description: 'TUF public key (scheme ed25519 or ecdsa-sha2-nistp256)' });

const VehicleSummary = Type.Object({
  vin: Type.String(),
  model: Type.String(),
  primaryEcuSerial: Type.String(),
  createdAt: Time,
  lastSeenAt: NullableTime,
  manifestCount: Type.Integer(),
});

const Ecu = Type.Object({
  serial: Type.String(),
  hardwareId: Type.String(),
  keyId: Type.String(),
  publicKey: Type.Unknown(),
  lastCounter: Type.Union([Type.Integer(), Type.Null()]),
  installed: Type.Union([Type.Object({ filename: Type.String(), length: Type.Integer(), sha256: Type.String(), since: Time }), Type.Null()], { description: 'last known configuration: the image the ECU last reported' }),
});

function summary(v: VehicleRow): { vin: string; model: string; primaryEcuSerial: string; createdAt: string; lastSeenAt: string | null; manifestCount: number } {
  return { vin: v.vin, model: v.model, primaryEcuSerial: v.primary_ecu_serial, createdAt: iso(v.created_at), lastSeenAt: iso(v.last_seen_at), manifestCount: v.manifest_count };
}

export function vehiclesPlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/api/v1/vehicles', {
    config: { auth: ['operator'] },
    schema: {
      summary: 'Provision a vehicle and its ECUs',
      tags: ['vehicles'],
      security: [{ token: [] }],
      body: Type.Object({
        vin: Vin,
        model: Type.String({ minLength: 1, maxLength: 128 }),
        primaryEcuSerial: Id,
        ecus: Type.Array(Type.Object({ serial: Id, hardwareId: Id, publicKey: TufKey }, { additionalProperties: false }), { minItems: 1, maxItems: 256 }),
        modelYear: Type.Optional(Type.Integer({ minimum: 1900, maximum: 2200 })),
        region: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone (campaign maintenance windows); default UTC' })),
      }, { additionalProperties: false }),
      response: {
        201: Type.Object({
          vin: Type.String(),
          directorRoot: Type.Unknown({ description: 'the current Director root metadata to install in the vehicle' }),
          imageRoot: Type.Unknown({ description: 'the current Image-repository root metadata, or null before it is initialised' }),
        }),
      },
    },
  }, async (req, reply) => reply.status(201).send(await provisionVehicle(ctx, req.body)));

  r.get('/api/v1/vehicles', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: 'List vehicles (by VIN)',
      tags: ['vehicles'],
      security: [{ token: [] }],
      querystring: Type.Object({
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        after: Type.Optional(Type.String({ maxLength: 64, description: 'only VINs after this one (paging)' })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ vehicles: Type.Array(VehicleSummary), next: Type.Union([Type.String(), Type.Null()], { description: 'pass as ?after= for the next page' }) }) },
    },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const rows = await listVehicles(ctx, limit, req.query.after);
    return { vehicles: rows.map(summary), next: rows.length === limit ? rows[rows.length - 1]!.vin : null };
  });

  r.get('/api/v1/vehicles/:vin', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: 'A vehicle: ECUs with their last known configuration, pending assignments',
      tags: ['vehicles'],
      security: [{ token: [] }],
      params: Type.Object({ vin: Vin }),
      response: { 200: Type.Object({ ...VehicleSummary.properties, ecus: Type.Array(Ecu), pending: Type.Array(AssignmentSchema) }) },
    },
  }, async (req) => {
    const d = await getVehicle(ctx, req.params.vin);
    return {
      ...summary(d.vehicle),
      ecus: d.ecus.map((e) => ({
        serial: e.serial,
        hardwareId: e.hardware_id,
        keyId: e.key_id,
        publicKey: JSON.parse(e.public_key) as unknown,
        lastCounter: e.last_counter,
        installed: e.installed_filename === null
          ? null
          : { filename: e.installed_filename, length: e.installed_length ?? 0, sha256: e.installed_sha256 ?? '', since: iso(e.installed_at ?? 0) },
      })),
      pending: d.pending.map(assignmentJSON),
    };
  });

  r.get('/api/v1/vehicles/:vin/history', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: 'Installed-image history per ECU and reported attacks (oldest first)',
      tags: ['vehicles'],
      security: [{ token: [] }],
      params: Type.Object({ vin: Vin }),
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          history: Type.Array(Type.Object({ ecuSerial: Type.String(), filename: Type.String(), length: Type.Integer(), sha256: Type.String(), reportCounter: Type.Integer(), reportedAt: Time })),
          attacks: Type.Array(Type.Object({ ecuSerial: Type.String(), report: Type.String(), reportedAt: Time })),
        }),
      },
    },
  }, async (req) => {
    const h = await vehicleHistory(ctx, req.params.vin, req.query.limit ?? 1000);
    return {
      history: h.history.map((x) => ({ ecuSerial: x.serial, filename: x.filename, length: x.length, sha256: x.sha256, reportCounter: x.report_counter, reportedAt: iso(x.reported_at) })),
      attacks: h.attacks.map((x) => ({ ecuSerial: x.serial, report: x.report, reportedAt: iso(x.reported_at) })),
    };
  });
  return Promise.resolve();
}

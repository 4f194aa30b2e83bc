/**
 * Software-update management routes (UN R156 7.1; docs/SERVER-API.md "SUMS"): the software
 * catalogue, interdependencies, the RXSWIN registry, impact records, compatibility reports and
 * offers, a vehicle's derived RXSWINs, the register per RXSWIN, signed inspection statements and
 * exports for an approval authority. There is deliberately no route that deletes a record.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { ID_PATTERN, VIN_PATTERN } from '../services/inventory.js';
import { checkCompatibility, checkCompatibilityByFilter } from '../sums/compatibility.js';
import type { CompatibilityReport } from '../sums/compatibility.js';
import { exportRegister } from '../sums/export.js';
import { impactOf } from '../sums/impact.js';
import { inspectionKey, inspectionStatement } from '../sums/inspection.js';
import { offerUpdate } from '../sums/offer.js';
import { addDependency, listDependencies, listImpacts, listRxswins, listSoftware, recordImpact, registerRxswin, registerSoftware } from '../sums/records.js';
import { readRegister } from '../sums/register.js';
import type { RegisterRow } from '../sums/register.js';
import { definitions, deriveRxswins, installedSoftware } from '../sums/registry.js';
import type { UpdatePackage } from '../sums/types.js';
import { VERSION_PATTERN } from '../sums/version.js';

const Vin = Type.String({ pattern: VIN_PATTERN });
const Id = Type.String({ pattern: ID_PATTERN });
const Name = Type.String({ minLength: 1, maxLength: 128 });
const Filename = Type.String({ minLength: 1, maxLength: 1024 });
const Version = Type.String({ pattern: VERSION_PATTERN, description: 'dotted numeric version, at most 4 components' });
const Time = Type.String({ format: 'date-time' });
const Package = Type.Object({
  images: Type.Record(Type.String({ pattern: ID_PATTERN }), Filename, { description: 'hardware id -> Image-repository file name' }),
}, { additionalProperties: false });
const Targets = {
  vins: Type.Optional(Type.Array(Vin, { minItems: 1, maxItems: 100_000 })),
  filter: Type.Optional(Type.Object({ models: Type.Array(Name, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false })),
  package: Package,
};
const Report = Type.Object({
  compatible: Type.Array(Type.String()),
  incompatible: Type.Array(Type.Object({ vin: Type.String(), reason: Type.String() })),
});
const Software = Type.Object({
  filename: Type.String(), partNumber: Type.String(), version: Type.String(), length: Type.Integer(),
  hashes: Type.Object({ sha256: Type.String(), sha512: Type.String() }), hardwareIds: Type.Array(Type.String()), createdBy: Type.String(), createdAt: Time,
});
const Dependency = Type.Object({
  id: Type.Integer(), filename: Type.String(), requires: Type.Object({ partNumber: Type.String(), minVersion: Type.String() }), createdBy: Type.String(), createdAt: Time,
});
const SoftwareItem = Type.Object({ hardwareId: Id, filename: Filename }, { additionalProperties: false });
const Rxswin = Type.Object({ id: Type.Integer(), model: Type.String(), regulation: Type.String(), rxswin: Type.String(), software: Type.Array(Type.Object({ hardwareId: Type.String(), filename: Type.String() })) });
const Impact = Type.Object({
  id: Type.Integer(), package: Type.Object({ images: Type.Record(Type.String(), Type.String()) }), touchesTypeApproved: Type.Boolean(), rxswins: Type.Array(Type.String()),
  approvalRef: Type.Union([Type.String(), Type.Null()]), notes: Type.Union([Type.String(), Type.Null()]), createdBy: Type.String(), createdAt: Time,
});
const Attested = Type.Object({
  serial: Type.String(), hardwareId: Type.String(), filename: Type.Union([Type.String(), Type.Null()]), length: Type.Union([Type.Integer(), Type.Null()]),
  sha256: Type.Union([Type.String(), Type.Null()]), reportCounter: Type.Union([Type.Integer(), Type.Null()]),
});
const RegisterEntry = Type.Object({
  id: Type.Integer(), vin: Type.String(), model: Type.String(), regulation: Type.String(), rxswinBefore: Type.String(), rxswinAfter: Type.String(),
  softwareBefore: Type.Array(Attested), softwareAfter: Type.Array(Attested), reportCounter: Type.Integer(), recordedAt: Time,
});
const Derived = Type.Array(Type.Object({ regulation: Type.String(), rxswin: Type.String({ description: "the RXSWIN, or 'unknown' when the installed software matches no registered definition" }) }));

const iso = (ms: number): string => new Date(ms).toISOString();
const by = (req: FastifyRequest): string => `token:${req.operator?.tokenId ?? 'unknown'}`;
const withIso = <T extends { createdAt: number }>(x: T): Omit<T, 'createdAt'> & { createdAt: string } => ({ ...x, createdAt: iso(x.createdAt) });
const registerJSON = (r: RegisterRow): Omit<RegisterRow, 'recordedAt'> & { recordedAt: string } => ({ ...r, recordedAt: iso(r.recordedAt) });

function parseTime(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new ApiError('VALIDATION_FAILED', `${what} is not a date-time`);
  return t;
}

async function report(ctx: ServerContext, body: { vins?: string[]; filter?: { models: string[] }; package: UpdatePackage }): Promise<CompatibilityReport> {
  if ((body.vins === undefined) === (body.filter === undefined)) throw new ApiError('VALIDATION_FAILED', 'give exactly one of vins and filter');
  return body.vins !== undefined ? checkCompatibility(ctx.db.kysely, body.vins, body.package) : checkCompatibilityByFilter(ctx.db.kysely, body.filter!, body.package);
}

export async function sumsPlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  // The inspection key is created at first start (like the log key), not on the first request.
  await inspectionKey(ctx);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const readers = ['release-manager', 'operator', 'auditor'] as const;

  r.post('/api/v1/sums/software', {
    config: { auth: ['release-manager'] },
    schema: {
      summary: 'Catalogue an uploaded image: part number, version; hashes from the upload, compatible hardware from the signed targets',
      tags: ['sums'], security: [{ token: [] }],
      body: Type.Object({ filename: Filename, partNumber: Name, version: Version, hardwareIds: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 256 })) }, { additionalProperties: false }),
      response: { 201: Software },
    },
  }, async (req, reply) => reply.status(201).send(withIso(await registerSoftware(ctx, req.body, by(req)))));

  r.get('/api/v1/sums/software', {
    config: { auth: readers },
    schema: {
      summary: 'The software catalogue, by file name', tags: ['sums'], security: [{ token: [] }],
      querystring: Type.Object({ partNumber: Type.Optional(Name), limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), after: Type.Optional(Filename) }),
      response: { 200: Type.Object({ software: Type.Array(Software) }) },
    },
  }, async (req) => ({ software: (await listSoftware(ctx.db.kysely, { limit: req.query.limit, ...(req.query.partNumber === undefined ? {} : { partNumber: req.query.partNumber }), ...(req.query.after === undefined ? {} : { after: req.query.after }) })).map(withIso) }));

  r.post('/api/v1/sums/dependencies', {
    config: { auth: ['release-manager'] },
    schema: {
      summary: 'Record an interdependency: image `filename` needs part `requires.partNumber` at `requires.minVersion` or later',
      tags: ['sums'], security: [{ token: [] }],
      body: Type.Object({ filename: Filename, requires: Type.Object({ partNumber: Name, minVersion: Version }, { additionalProperties: false }) }, { additionalProperties: false }),
      response: { 201: Dependency },
    },
  }, async (req, reply) => reply.status(201).send(withIso(await addDependency(ctx, req.body, by(req)))));

  r.get('/api/v1/sums/dependencies', {
    config: { auth: readers },
    schema: { summary: 'Interdependencies', tags: ['sums'], security: [{ token: [] }], querystring: Type.Object({ filename: Type.Optional(Filename) }), response: { 200: Type.Object({ dependencies: Type.Array(Dependency) }) } },
  }, async (req) => ({ dependencies: (await listDependencies(ctx.db.kysely, req.query.filename)).map(withIso) }));

  r.post('/api/v1/sums/rxswins', {
    config: { auth: ['release-manager'] },
    schema: {
      summary: 'Define an RXSWIN of a vehicle type under a regulation by its software set', tags: ['sums'], security: [{ token: [] }],
      body: Type.Object({ model: Name, regulation: Name, rxswin: Name, software: Type.Array(SoftwareItem, { minItems: 1, maxItems: 256 }) }, { additionalProperties: false }),
      response: { 201: Rxswin },
    },
  }, async (req, reply) => reply.status(201).send(await registerRxswin(ctx, req.body, by(req))));

  r.get('/api/v1/sums/rxswins', {
    config: { auth: readers },
    schema: { summary: 'The RXSWIN registry', tags: ['sums'], security: [{ token: [] }], querystring: Type.Object({ model: Type.Optional(Name) }), response: { 200: Type.Object({ rxswins: Type.Array(Rxswin) }) } },
  }, async (req) => ({ rxswins: await listRxswins(ctx.db.kysely, req.query.model) }));

  r.post('/api/v1/sums/impacts', {
    config: { auth: ['release-manager'] },
    schema: {
      summary: 'Record the impact of an update package (type-approved systems, RXSWIN changes, approval reference)', tags: ['sums'], security: [{ token: [] }],
      body: Type.Object({
        package: Package, touchesTypeApproved: Type.Optional(Type.Boolean()), rxswins: Type.Optional(Type.Array(Name, { maxItems: 256 })),
        approvalRef: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })), notes: Type.Optional(Type.String({ maxLength: 8192 })),
      }, { additionalProperties: false }),
      response: { 201: Impact },
    },
  }, async (req, reply) => reply.status(201).send(withIso(await recordImpact(ctx, req.body, by(req)))));

  r.get('/api/v1/sums/impacts', {
    config: { auth: readers },
    schema: { summary: 'Impact records', tags: ['sums'], security: [{ token: [] }], response: { 200: Type.Object({ impacts: Type.Array(Impact) }) } },
  }, async () => ({ impacts: (await listImpacts(ctx.db.kysely)).map(withIso) }));

  r.post('/api/v1/sums/impacts/evaluate', {
    config: { auth: readers },
    schema: {
      summary: 'The impact of a package as derived from the RXSWIN registry and recorded impacts', tags: ['sums'], security: [{ token: [] }],
      body: Type.Object({ package: Package }, { additionalProperties: false }),
      response: { 200: Type.Object({ touchesTypeApproved: Type.Boolean(), rxswins: Type.Array(Type.String()) }) },
    },
  }, async (req) => impactOf(ctx.db.kysely, req.body.package));

  r.post('/api/v1/sums/compatibility', {
    config: { auth: readers },
    schema: {
      summary: "Compatibility of a package with each target vehicle's last known configuration (vins or filter)", tags: ['sums'], security: [{ token: [] }],
      body: Type.Object(Targets, { additionalProperties: false }),
      response: { 200: Report },
    },
  }, async (req) => report(ctx, req.body));

  r.post('/api/v1/sums/offers', {
    config: { auth: ['operator'] },
    schema: {
      summary: 'Assign a package to the compatible vehicles among `vins` only; the others are listed, not updated', tags: ['sums'], security: [{ token: [] }],
      body: Type.Object({ vins: Type.Array(Vin, { minItems: 1, maxItems: 100_000 }), package: Package }, { additionalProperties: false }),
      response: { 201: Type.Object({ ...Report.properties, assigned: Type.Integer() }) },
    },
  }, async (req, reply) => reply.status(201).send(await offerUpdate(ctx, req.body.vins, req.body.package, by(req))));

  r.get('/api/v1/vehicles/:vin/rxswin', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: "The vehicle's RXSWINs, derived from its last known configuration", tags: ['sums'], security: [{ token: [] }],
      params: Type.Object({ vin: Vin }),
      response: { 200: Type.Object({ vin: Type.String(), model: Type.String(), rxswins: Derived }) },
    },
  }, async (req) => {
    const v = await ctx.db.kysely.selectFrom('vehicles').select('model').where('vin', '=', req.params.vin).executeTakeFirst();
    if (v === undefined) throw new ApiError('VEHICLE_NOT_FOUND', `no vehicle ${req.params.vin}`);
    return { vin: req.params.vin, model: v.model, rxswins: deriveRxswins(await definitions(ctx.db.kysely, v.model), await installedSoftware(ctx.db.kysely, req.params.vin)) };
  });

  r.get('/api/v1/rxswin/:rxswin/register', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: 'The register of an RXSWIN: software before and after every vehicle update that left or reached it', tags: ['sums'], security: [{ token: [] }],
      params: Type.Object({ rxswin: Name }),
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), after: Type.Optional(Type.Integer({ minimum: 0 })) }),
      response: { 200: Type.Object({ register: Type.Array(RegisterEntry) }) },
    },
  }, async (req) => ({ register: (await readRegister(ctx.db.kysely, { rxswin: req.params.rxswin, limit: req.query.limit, ...(req.query.after === undefined ? {} : { afterId: req.query.after }) })).map(registerJSON) }));

  r.get('/api/v1/inspect/key', {
    config: { auth: 'public' },
    schema: {
      summary: 'The inspection statement verifier key (c2sp.org/signed-note, Ed25519)', tags: ['sums'],
      response: { 200: Type.Object({ name: Type.String(), key: Type.String() }) },
    },
  }, async () => {
    const k = await inspectionKey(ctx);
    return { name: k.name, key: k.verifierKey };
  });

  r.get('/api/v1/inspect/:vin', {
    config: { auth: ['operator', 'auditor'] },
    schema: {
      summary: "A signed statement of the vehicle's last attested configuration and RXSWINs (verifiable offline with the inspection key)", tags: ['sums'], security: [{ token: [] }],
      params: Type.Object({ vin: Vin }),
      response: { 200: Type.Object({ note: Type.String({ description: 'the signed note' }), key: Type.String(), statement: Type.Unknown() }) },
    },
  }, async (req) => {
    const s = await inspectionStatement(ctx, req.params.vin);
    return { note: s.note, key: s.verifierKey, statement: s.statement };
  });

  r.get('/api/v1/sums/export', {
    config: { auth: ['auditor'] },
    schema: {
      summary: 'Export the register per RXSWIN for an approval authority (logged with its SHA-256)', tags: ['sums'], security: [{ token: [] }],
      querystring: Type.Object({
        format: Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' }),
        model: Type.Optional(Name), rxswin: Type.Optional(Name), from: Type.Optional(Time), to: Type.Optional(Time),
      }),
    },
  }, async (req, reply) => {
    const q = req.query;
    const from = parseTime(q.from, 'from');
    const to = parseTime(q.to, 'to');
    const out = await exportRegister(ctx, q.format, {
      ...(q.model === undefined ? {} : { model: q.model }), ...(q.rxswin === undefined ? {} : { rxswin: q.rxswin }),
      ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }),
    }, by(req));
    return reply.header('content-type', out.contentType).header('cache-control', 'no-store')
      .header('x-reflash-export-sha256', out.sha256).header('x-reflash-log-index', String(out.logIndex))
      .header('content-disposition', `attachment; filename="rxswin-register.${q.format}"`).send(out.bytes);
  });
}

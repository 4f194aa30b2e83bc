/**
 * Vehicle-facing routes (docs/SERVER-API.md "Inventory, check-in, assignments, tokens"), every
 * request signed by the vehicle's Primary key (auth 'vehicle'):
 * - PUT /device/v1/manifest: the signed vehicle version manifest (Uptane 2.1 §5.4.2.1).
 * - POST /device/v1/events: an installation outcome (failed, rolled back, declined) or campaign progress.
 * A vehicle only reports for itself.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ReflashError, vehicleManifestFromJSON } from '@reflash/metadata';
import type { VehicleManifest } from '@reflash/metadata';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { checkIn, reportFailure } from '../services/checkin.js';
import { reportProgress } from '../campaigns/vehicle-events.js';
import { recordVehicleNonce } from './auth.js';
import { ID_PATTERN } from '../services/inventory.js';

/** Most Director metadata bytes a check-in answer carries (the vehicle accepts 2 MiB of answer). */
export const MAX_ANSWER_DIRECTOR_BYTES = 1024 * 1024;

/** Largest vehicle manifest accepted (a manifest with hundreds of ECU reports is far smaller). */
export const MANIFEST_BODY_LIMIT = 1024 * 1024;

const ReceiptSchema = Type.Object({
  ecuSerial: Type.String(),
  index: Type.Integer({ minimum: 0 }),
  receipt: Type.String({ description: 'c2sp.org/tlog-proof@v1 text' }),
});

export function devicePlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.put('/device/v1/manifest', {
    config: { auth: 'vehicle' },
    bodyLimit: MANIFEST_BODY_LIMIT,
    schema: {
      summary: 'Report the vehicle version manifest (check-in)',
      description: 'Signed vehicle version manifest (Uptane 2.1 §5.4.2.1): `{signatures, signed: {vin, primary_ecu_serial, ecu_version_reports}}`. Verified against the registered ECU keys and last counters.',
      tags: ['device'],
      security: [{ vehicle: [] }],
      querystring: Type.Object({
        directorRoot: Type.Optional(Type.Integer({
          minimum: 0, maximum: 2_147_483_647,
          description: 'the Director root version the vehicle trusts: the answer then carries the vehicle\'s Director metadata (`director`), so the Primary verifies them (Uptane 2.1 §5.4.4.2) without fetching them',
        })),
      }, { additionalProperties: false }),
      body: Type.Object({ signatures: Type.Array(Type.Unknown()), signed: Type.Record(Type.String(), Type.Unknown()) }),
      response: {
        200: Type.Object({
          directorTargetsVersion: Type.Integer({ description: 'the vehicle\'s current Director targets version' }),
          pending: Type.Integer({ description: 'pending assignments left' }),
          receipts: Type.Array(ReceiptSchema, { description: 'accountability-log receipts (C2SP tlog-proof) of the update results this check-in recorded; the Primary keeps them' }),
          director: Type.Optional(Type.Object({
            rootVersion: Type.Integer({ description: 'the newest Director root version: a later N.root.json does not exist' }),
            files: Type.Record(Type.String(), Type.String({ contentEncoding: 'base64' }), {
              description: 'file name -> its exact bytes (base64) as GET /repo/director/{vin}/{file} serves them: every root after `directorRoot` (at most 32), timestamp.json, V.snapshot.json, V.targets.json; left out when they total more than 1 MiB',
            }),
          }, { description: 'only when `directorRoot` was given' })),
        }),
      },
    },
  }, async (req) => {
    let manifest: VehicleManifest;
    try {
      // The body is JSON.parse of the exact bytes the vehicle signed over (Content-Digest); the
      // schema cannot have changed the signed part (it only types `signed` as an object).
      manifest = vehicleManifestFromJSON(req.body);
    } catch (err) {
      if (err instanceof ReflashError) throw new ApiError('BAD_MANIFEST', err.message, undefined, { cause: err });
      throw err;
    }
    if (manifest.signed.vin !== req.vehicle?.vin) throw new ApiError('FORBIDDEN', 'a vehicle may only report for itself');
    const { directorRoot } = req.query;
    // The request's nonce is recorded in the check-in's own transaction (one commit).
    const auth = req.vehicle;
    const result = await checkIn(ctx, manifest, (trx) => recordVehicleNonce(trx, req), { ...(directorRoot === undefined ? {} : { directorRoot }), auth });
    const { director, ...answer } = result;
    // Too large to carry (many rotations, huge targets): the vehicle fetches them instead.
    if (director === undefined || [...director.files.values()].reduce((n, b) => n + b.length, 0) > MAX_ANSWER_DIRECTOR_BYTES) return answer;
    const files: Record<string, string> = {};
    for (const [name, bytes] of director.files) files[name] = bytes.toString('base64');
    return { ...answer, director: { rootVersion: director.rootVersion, files } };
  });

  r.post('/device/v1/events', {
    config: { auth: 'vehicle' },
    schema: {
      summary: 'Report an installation outcome or campaign progress',
      description: 'failed / rolled-back: marks the ECU\'s pending assignment of `filename` failed; declined: cancels it (the user refused); then regenerates the Director targets. downloading / awaiting-consent / waiting-preconditions / installing: the vehicle\'s campaign state.',
      tags: ['device'],
      security: [{ vehicle: [] }],
      body: Type.Object({
        ecuSerial: Type.String({ pattern: ID_PATTERN }),
        filename: Type.String({ minLength: 1, maxLength: 1024 }),
        status: Type.Union([
          Type.Literal('failed'), Type.Literal('rolled-back'), Type.Literal('declined'),
          Type.Literal('downloading'), Type.Literal('awaiting-consent'), Type.Literal('waiting-preconditions'), Type.Literal('installing'), Type.Literal('downloaded'),
        ], { description: 'failed | rolled-back (previous software restored) | declined (by the user; old software stays): the assignment ends; downloaded: a download-only campaign\'s assignment ends, not installed; the others are campaign progress' }),
        reason: Type.Optional(Type.String({ maxLength: 1000 })),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          failed: Type.Integer({ description: 'assignments marked failed (0 if none was pending)' }),
          directorTargetsVersion: Type.Integer(),
          receipts: Type.Array(ReceiptSchema),
        }),
      },
    },
  }, async (req) => {
    const vin = req.vehicle?.vin;
    if (vin === undefined) throw new ApiError('UNAUTHENTICATED');
    const { ecuSerial, filename, status, reason } = req.body;
    if (status === 'failed' || status === 'rolled-back' || status === 'declined') {
      return reportFailure(ctx, vin, { ecuSerial, filename, status, reason: reason ?? status }, (trx) => recordVehicleNonce(trx, req));
    }
    return reportProgress(ctx, vin, { ecuSerial, filename, status, reason }, (trx) => recordVehicleNonce(trx, req));
  });
  return Promise.resolve();
}

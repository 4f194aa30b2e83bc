/**
 * Campaign routes (docs/SERVER-API.md "Campaigns"), src/campaigns/:
 * POST/GET /api/v1/campaigns, GET/PUT /api/v1/campaigns/{id}, POST .../{id}/approve|start|pause|
 * resume|cancel, GET .../{id}/progress, GET .../{id}/vehicles.
 * Roles: operators create and run campaigns; approval is a release decision (release-manager or
 * admin) and never by the campaign's creator (two-person rule); auditors read.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { CAMPAIGN_STATUSES, CampaignSpec, VEHICLE_STATES } from '../campaigns/model.js';
import type { CampaignStatus, VehicleState } from '../campaigns/model.js';
import { campaignProgress } from '../campaigns/progress.js';
import type { Campaign } from '../campaigns/repo.js';
import { getCampaign, toCampaign } from '../campaigns/repo.js';
import { approveCampaign, cancelCampaign, createCampaign, pauseCampaign, resumeCampaign, startCampaign, updateCampaign } from '../campaigns/service.js';
import { NullableTime, Time, iso } from './assignments.js';

const READ = ['operator', 'release-manager', 'auditor'] as const;
const RUN = ['operator'] as const;
const APPROVE = ['release-manager'] as const;

const CampaignId = Type.String({ pattern: '^cmp-[0-9a-f]{12}$' });
const StatusSchema = Type.Union([
  Type.Literal('draft'), Type.Literal('approved'), Type.Literal('running'), Type.Literal('paused'), Type.Literal('finished'), Type.Literal('cancelled'),
], { description: CAMPAIGN_STATUSES.join(' | ') });
const VehicleStateSchema = Type.Union([
  Type.Literal('queued'), Type.Literal('deferred'), Type.Literal('pending'), Type.Literal('downloading'), Type.Literal('awaiting-consent'),
  Type.Literal('waiting-preconditions'), Type.Literal('installing'), Type.Literal('succeeded'), Type.Literal('downloaded'), Type.Literal('failed'),
  Type.Literal('rolled-back'), Type.Literal('declined'), Type.Literal('incompatible'), Type.Literal('cancelled'),
], { description: VEHICLE_STATES.join(' | ') });
const Counts = Type.Record(Type.String(), Type.Integer(), { description: 'vehicles per state (every state listed)' });

const CampaignView = Type.Object({
  id: Type.String(),
  purpose: Type.String(),
  status: StatusSchema,
  /** rollout group being rolled out (0-based); -1 before start */
  currentGroup: Type.Integer(),
  createdBy: Type.String(),
  createdAt: Time,
  approvedBy: Type.Union([Type.String(), Type.Null()]),
  approvedAt: NullableTime,
  approvalReference: Type.Union([Type.String(), Type.Null()]),
  startedAt: NullableTime,
  finishedAt: NullableTime,
  spec: CampaignSpec,
});

const EventView = Type.Object({ at: Time, by: Type.String(), from: Type.String(), to: Type.String(), reason: Type.Union([Type.String(), Type.Null()]) });

function view(c: Campaign): {
  id: string; purpose: string; status: CampaignStatus; currentGroup: number; createdBy: string; createdAt: string; approvedBy: string | null;
  approvedAt: string | null; approvalReference: string | null; startedAt: string | null; finishedAt: string | null; spec: CampaignSpec;
} {
  const r = c.row;
  return {
    id: r.id, purpose: r.purpose, status: c.status, currentGroup: r.current_group, createdBy: r.created_by, createdAt: iso(r.created_at),
    approvedBy: r.approved_by, approvedAt: iso(r.approved_at), approvalReference: r.approval_reference, startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at), spec: c.spec,
  };
}

function by(req: FastifyRequest): string {
  const op = req.operator;
  if (op === undefined) throw new ApiError('UNAUTHENTICATED');
  return `token:${op.tokenId}`;
}

const Params = Type.Object({ id: CampaignId });
const ReasonBody = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })) }, { additionalProperties: false });

/** These action routes take an optional JSON body: none means `{}`. */
function emptyBody(req: FastifyRequest, _reply: unknown, done: () => void): void {
  if (req.body === undefined || req.body === null) req.body = {};
  done();
}

export function campaignsPlugin(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['campaigns'];
  const security = [{ token: [] }];

  r.post('/api/v1/campaigns', {
    config: { auth: RUN },
    schema: { summary: 'Create a campaign (draft)', tags, security, body: CampaignSpec, response: { 201: CampaignView } },
  }, async (req, reply) => reply.status(201).send(view(await createCampaign(ctx, req.body, by(req)))));

  r.get('/api/v1/campaigns', {
    config: { auth: READ },
    schema: {
      summary: 'List campaigns, newest first', tags, security,
      querystring: Type.Object({ status: Type.Optional(StatusSchema), limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }),
      response: { 200: Type.Object({ campaigns: Type.Array(CampaignView) }) },
    },
  }, async (req) => {
    let q = ctx.db.kysely.selectFrom('campaigns').selectAll();
    if (req.query.status !== undefined) q = q.where('status', '=', req.query.status);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id').limit(req.query.limit).execute();
    return { campaigns: rows.map((row) => view(toCampaign(row))) };
  });

  r.get('/api/v1/campaigns/:id', {
    config: { auth: READ },
    schema: {
      summary: 'A campaign and its lifecycle events', tags, security, params: Params,
      response: { 200: Type.Object({ ...CampaignView.properties, events: Type.Array(EventView) }) },
    },
  }, async (req) => {
    const c = await getCampaign(ctx.db.kysely, req.params.id);
    const events = await ctx.db.kysely.selectFrom('campaign_events').selectAll().where('campaign_id', '=', c.row.id).orderBy('id').execute();
    return { ...view(c), events: events.map((e) => ({ at: iso(e.at), by: e.by, from: e.from_state, to: e.to_state, reason: e.reason })) };
  });

  r.put('/api/v1/campaigns/:id', {
    config: { auth: RUN },
    schema: { summary: 'Replace the definition of a draft campaign', tags, security, params: Params, body: CampaignSpec, response: { 200: CampaignView } },
  }, async (req) => view(await updateCampaign(ctx, req.params.id, req.body)));

  r.post('/api/v1/campaigns/:id/approve', {
    config: { auth: APPROVE },
    schema: {
      summary: 'Approve a draft campaign (not by its creator; a technical-service approval reference when it touches a type-approved system)',
      tags, security, params: Params,
      body: Type.Object({ approvalReference: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false }),
      response: { 200: CampaignView },
    },
    preValidation: emptyBody,
  }, async (req) => view(await approveCampaign(ctx, req.params.id, by(req), req.body.approvalReference)));

  r.post('/api/v1/campaigns/:id/start', {
    config: { auth: RUN },
    schema: {
      summary: 'Start an approved campaign: fix the target set and groups, roll out the first group', tags, security, params: Params,
      response: { 200: Type.Object({ targeted: Type.Integer(), groups: Type.Array(Type.Integer()) }) },
    },
  }, async (req) => startCampaign(ctx, req.params.id, by(req)));

  for (const [action, fn, summary] of [
    ['pause', pauseCampaign, 'Pause: no new releases; vehicles that have not started lose the update until resumed'],
    ['resume', resumeCampaign, 'Resume a paused campaign (failures so far are accepted)'],
    ['cancel', cancelCampaign, 'Cancel: vehicles that have not started stop receiving it; vehicles installing finish or roll back'],
  ] as const) {
    r.post(`/api/v1/campaigns/:id/${action}`, {
      config: { auth: RUN },
      schema: { summary, tags, security, params: Params, body: ReasonBody, response: { 200: CampaignView } },
      preValidation: emptyBody,
    }, async (req) => {
      await fn(ctx, req.params.id, by(req), req.body.reason);
      return view(await getCampaign(ctx.db.kysely, req.params.id));
    });
  }

  r.get('/api/v1/campaigns/:id/progress', {
    config: { auth: READ },
    schema: {
      summary: 'Vehicle counts per rollout group and state; failure reasons', tags, security, params: Params,
      response: {
        200: Type.Object({
          id: Type.String(), status: StatusSchema, currentGroup: Type.Integer(), vehicles: Type.Integer(), counts: Counts,
          groups: Type.Array(Type.Object({ index: Type.Integer(), vehicles: Type.Integer(), counts: Counts })),
          failureReasons: Type.Array(Type.Object({ reason: Type.String(), count: Type.Integer() })),
        }),
      },
    },
  }, async (req) => campaignProgress(ctx.db.kysely, req.params.id));

  r.get('/api/v1/campaigns/:id/vehicles', {
    config: { auth: READ },
    schema: {
      summary: 'Vehicles of a campaign with their state (by VIN)', tags, security, params: Params,
      querystring: Type.Object({
        state: Type.Optional(VehicleStateSchema), group: Type.Optional(Type.Integer({ minimum: 0 })),
        limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }), after: Type.Optional(Type.String({ maxLength: 64 })),
      }),
      response: {
        200: Type.Object({
          vehicles: Type.Array(Type.Object({ vin: Type.String(), group: Type.Integer(), state: VehicleStateSchema, reason: Type.Union([Type.String(), Type.Null()]), updatedAt: Time })),
        }),
      },
    },
  }, async (req) => {
    const c = await ctx.db.kysely.selectFrom('campaigns').select('id').where('id', '=', req.params.id).executeTakeFirst();
    if (c === undefined) throw new ApiError('CAMPAIGN_NOT_FOUND', `no campaign ${req.params.id}`);
    let q = ctx.db.kysely.selectFrom('campaign_vehicle_states').selectAll().where('campaign_id', '=', c.id);
    if (req.query.state !== undefined) q = q.where('state', '=', req.query.state);
    if (req.query.group !== undefined) q = q.where('group_idx', '=', req.query.group);
    if (req.query.after !== undefined) q = q.where('vin', '>', req.query.after);
    const rows = await q.orderBy('vin').limit(req.query.limit).execute();
    return { vehicles: rows.map((v) => ({ vin: v.vin, group: v.group_idx, state: v.state as VehicleState, reason: v.reason, updatedAt: iso(v.updated_at) })) };
  });
  return Promise.resolve();
}

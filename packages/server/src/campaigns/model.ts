/**
 * A software update campaign (ISO 24089 "software update campaign"; UN R156 §7.1, §7.2): what
 * to install (an update package: one image per ECU hardware id), on which vehicles (target
 * filter), in which rollout groups with which thresholds, when (start, maintenance windows in the
 * vehicle's time zone, expiry), how (soft: user consent; forced: safety recall, still under the
 * safe-execution preconditions; download-only), and what the user is told. The definition is one
 * TypeBox schema (route validation and the OpenAPI document); it is stored as JSON.
 */
import { Type } from 'typebox';
import type { Static } from 'typebox';

export const CAMPAIGN_STATUSES = ['draft', 'approved', 'running', 'paused', 'finished', 'cancelled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

/**
 * Per-vehicle campaign states. 'queued': in a rollout group not started yet; 'deferred': in a
 * started group, but another running campaign (or a direct assignment) still has one of the
 * ECUs this campaign updates: enrolled by the tick once that one is done for the vehicle (never
 * a silent cancellation of either, UN R156 §7.1.1.4 / §7.1.2: one known update per ECU at a
 * time); 'downloaded': the end state of a download-only campaign (the images are on the
 * vehicle, nothing was installed); 'cancelled': the campaign was cancelled (or expired) before
 * the vehicle started.
 */
export const VEHICLE_STATES = [
  'queued', 'deferred', 'pending', 'downloading', 'awaiting-consent', 'waiting-preconditions', 'installing',
  'succeeded', 'downloaded', 'failed', 'rolled-back', 'declined', 'incompatible', 'cancelled',
] as const;
export type VehicleState = (typeof VEHICLE_STATES)[number];

/** The vehicle has not started: the campaign may still be withdrawn from it (cancel, pause). */
export const NOT_STARTED: readonly VehicleState[] = ['queued', 'deferred', 'pending'];
/** The vehicle is working on it (a progress event arrived). */
export const IN_PROGRESS: readonly VehicleState[] = ['downloading', 'awaiting-consent', 'waiting-preconditions', 'installing'];
export const TERMINAL: readonly VehicleState[] = ['succeeded', 'downloaded', 'failed', 'rolled-back', 'declined', 'incompatible', 'cancelled'];
/** The campaign reached its goal on the vehicle: installed, or (download-only) downloaded. */
export const SUCCESSES: readonly VehicleState[] = ['succeeded', 'downloaded'];
export const FAILURES: readonly VehicleState[] = ['failed', 'rolled-back'];

const Id = Type.String({ pattern: '^[\\x21-\\x7e]{1,128}$' });
const Vin = Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' });
const RxswinId = Type.String({ minLength: 1, maxLength: 256 });
const HHMM = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });

export const MaintenanceWindow = Type.Object({
  /** ISO weekdays, 1 = Monday .. 7 = Sunday (the day the window starts) */
  days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7 }),
  start: HHMM,
  /** end before start: the window runs over midnight */
  end: HHMM,
}, { additionalProperties: false });
export type MaintenanceWindow = Static<typeof MaintenanceWindow>;

export const RolloutGroup = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 128 })),
  /** share of the target set, in percent */
  percent: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
  count: Type.Optional(Type.Integer({ minimum: 1 })),
  vins: Type.Optional(Type.Array(Vin, { minItems: 1, maxItems: 100_000 })),
}, { additionalProperties: false, description: 'exactly one of percent, count, vins; vehicles left after the last group join it' });
export type RolloutGroup = Static<typeof RolloutGroup>;

export const CampaignSpec = Type.Object({
  purpose: Type.String({ minLength: 1, maxLength: 200, description: 'shown to the user (R156 7.2)' }),
  /** update package: the image (file name in the signed Image repository) per ECU hardware id */
  images: Type.Record(Id, Type.String({ minLength: 1, maxLength: 1024 }), { minProperties: 1, maxProperties: 64 }),
  target: Type.Object({
    models: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1 })),
    modelYears: Type.Optional(Type.Array(Type.Integer({ minimum: 1900, maximum: 2200 }), { minItems: 1 })),
    regions: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1 })),
    /** vehicles with at least one ECU of these hardware ids (default: those of `images`) */
    hardwareIds: Type.Optional(Type.Array(Id, { minItems: 1 })),
    /** vehicles with at least one ECU running one of these images (last known configuration) */
    installed: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { minItems: 1 })),
    /**
     * vehicles whose current RXSWIN set (derived from the last known configuration with the SUMS
     * RXSWIN registry, src/sums/registry.ts; UN R156 7.1.1.b/d) includes one of these: an RXSWIN
     * (under any regulation), or `{regulation, rxswin?}`: any known RXSWIN under that regulation,
     * or exactly `rxswin` under it. Each must be registered (422 otherwise).
     */
    rxswins: Type.Optional(Type.Array(Type.Union([
      RxswinId,
      Type.Object({ regulation: Type.String({ minLength: 1, maxLength: 256 }), rxswin: Type.Optional(RxswinId) }, { additionalProperties: false }),
    ]), { minItems: 1, maxItems: 100 })),
    vins: Type.Optional(Type.Array(Vin, { minItems: 1, maxItems: 1_000_000 })),
  }, { additionalProperties: false }),
  groups: Type.Array(RolloutGroup, { minItems: 1, maxItems: 100 }),
  /** percent of a group's eligible vehicles that must succeed before the next group starts */
  successThreshold: Type.Number({ minimum: 0, maximum: 100 }),
  /** percent of a group's eligible vehicles failing (failed or rolled back) that pauses the campaign */
  errorThreshold: Type.Number({ minimum: 0, maximum: 100 }),
  schedule: Type.Optional(Type.Object({
    /** nothing is released before (RFC 3339) */
    startAt: Type.Optional(Type.String({ format: 'date-time' })),
    /** release only inside one of these windows, in the vehicle's time zone (none: any time) */
    windows: Type.Optional(Type.Array(MaintenanceWindow, { maxItems: 50 })),
    /** IANA time zone for vehicles that have none; default UTC */
    defaultTimeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  }, { additionalProperties: false })),
  action: Type.Union([Type.Literal('soft'), Type.Literal('forced'), Type.Literal('download-only')], { description: 'soft: needs user consent; forced: safety recall (still obeys the preconditions); download-only' }),
  preconditions: Type.Optional(Type.Object({
    minBatteryPercent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    /** R156 §7.2: sent to the vehicle (custom.campaign.stationary, default true); a vehicle never goes below its own floor */
    stationary: Type.Optional(Type.Boolean({ description: 'vehicle stationary before execution (default true; vehicles always require it: false cannot waive it)' })),
    parked: Type.Optional(Type.Boolean({ description: 'vehicle in park before execution (default true; vehicles always require it: false cannot waive it)' })),
  }, { additionalProperties: false })),
  userInfo: Type.Optional(Type.Object({
    expectedDurationSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
    unavailableFunctions: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 50 })),
  }, { additionalProperties: false })),
  /** RFC 3339; after it the campaign finishes and what was not released is withdrawn */
  expiresAt: Type.String({ format: 'date-time' }),
  /** RXSWINs (type-approved systems) this update changes, as declared by its author */
  rxswinImpact: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100 })),
}, { additionalProperties: false });
export type CampaignSpec = Static<typeof CampaignSpec>;

/**
 * What the vehicle shows and checks (Director target custom.campaign, vehicle/src/primary/campaign.ts,
 * which documents the format): user information (R156 7.2), safe-execution preconditions, action.
 */
export interface CampaignUserInfo {
  readonly id: string;
  readonly purpose: string;
  readonly expectedDurationSeconds: number;
  readonly unavailableFunctions: readonly string[];
  readonly minBatteryPercent: number;
  /** UN R156 §7.2 safe execution; the vehicle requires it anyway (it can only tighten its floor) */
  readonly stationary: boolean;
  readonly parked: boolean;
  readonly forced: boolean;
  readonly downloadOnly: boolean;
}

export function userInfoOf(id: string, spec: CampaignSpec): CampaignUserInfo {
  return {
    id,
    purpose: spec.purpose,
    expectedDurationSeconds: spec.userInfo?.expectedDurationSeconds ?? 900,
    unavailableFunctions: spec.userInfo?.unavailableFunctions ?? ['driving'],
    minBatteryPercent: spec.preconditions?.minBatteryPercent ?? 50,
    // Absent means required (R156 §7.2); vehicles ignore false (packages/vehicle/src/primary/campaign.ts).
    stationary: spec.preconditions?.stationary ?? true,
    parked: spec.preconditions?.parked ?? true,
    forced: spec.action === 'forced',
    downloadOnly: spec.action === 'download-only',
  };
}

export function parseSpec(json: string): CampaignSpec {
  return JSON.parse(json) as CampaignSpec;
}

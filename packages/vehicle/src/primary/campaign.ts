/**
 * Update information for the user and the safety checks (UN R156 §7.2: purpose, expected
 * duration, functions unavailable meanwhile; safe execution: enough battery to finish the update
 * and a rollback, vehicle stationary and parked), read from the Director targets' optional
 * custom field (our definition; the server writes it in src/campaigns/model.ts userInfoOf):
 *
 *   "custom": { ..., "campaign": {
 *       "id": "2026-11-brake-fix",            (optional)
 *       "purpose": "Brake controller fix",    (shown to the user)
 *       "expectedDurationSeconds": 600,       (this target's share; the bundle's is the sum)
 *       "unavailableFunctions": ["driving"],
 *       "minBatteryPercent": 60,
 *       "stationary": true,                   (Vehicle.Speed must be 0 before execution)
 *       "parked": true,                       (SelectedGear must be park before execution)
 *       "forced": false,                      (true: inform only, no approval asked)
 *       "downloadOnly": false } }             (true: download and keep the image, never install)
 *
 * Safe defaults for what is absent or malformed. The Director's online key cannot make an update
 * less safe than the vehicle allows; every field can only tighten the vehicle's own floor:
 * - the battery minimum never goes below the vehicle's floor (config.minBatteryFloorPercent);
 * - stationary and parked are always required (preconditions.ts SAFETY_FLOOR): `true` restates
 *   it, `false` or anything else is ignored (a campaign cannot waive them);
 * - a bundle is forced only when every target says so (else the user is asked);
 * - a bundle is download-only when ANY target says so: its images are downloaded and verified,
 *   nothing of it is installed (it is installed all-or-nothing), and the outcome `downloaded` is
 *   reported; the server then ends that assignment, and the next cycle installs the rest.
 * Pure.
 */
import { isObject } from '@reflash/metadata';
import { SAFETY_FLOOR } from './preconditions.js';

export interface Campaign {
  readonly id?: string;
  readonly purpose: string;
  readonly expectedDurationSeconds: number;
  readonly unavailableFunctions: readonly string[];
  readonly minBatteryPercent: number;
  /** UN R156 §7.2: the vehicle must be stationary before execution (never false: the floor) */
  readonly stationary: boolean;
  /** UN R156 §7.2: the vehicle must be in park before execution (never false: the floor) */
  readonly parked: boolean;
  readonly forced: boolean;
  /** download and keep the images, install nothing (outcome 'downloaded') */
  readonly downloadOnly: boolean;
}

export const DEFAULT_CAMPAIGN: Campaign = {
  purpose: 'Software update',
  expectedDurationSeconds: 900,
  unavailableFunctions: ['driving'],
  minBatteryPercent: 50,
  stationary: SAFETY_FLOOR.stationary,
  parked: SAFETY_FLOOR.parked,
  forced: false,
  downloadOnly: false,
};

const MAX_TEXT = 200;

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, MAX_TEXT) : undefined;
}

function count(v: unknown, max: number): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max ? v : undefined;
}

/** The campaign of a whole bundle from its Director targets' `custom` objects. */
export function campaignOf(customs: ReadonlyArray<Readonly<Record<string, unknown>> | undefined>, floorBatteryPercent: number): Campaign {
  const purposes: string[] = [];
  const unavailable = new Set<string>();
  let duration = 0;
  let minBattery = floorBatteryPercent;
  let forced = customs.length > 0;
  // Only ever tightened (UN R156 §7.2 safe execution): the vehicle's floor, or a target's `true`.
  let stationary = SAFETY_FLOOR.stationary;
  let parked = SAFETY_FLOOR.parked;
  let downloadOnly = false;
  let id: string | undefined;
  for (const custom of customs) {
    const c = isObject(custom?.['campaign']) ? custom['campaign'] : {};
    const p = text(c['purpose']);
    if (p !== undefined && !purposes.includes(p)) purposes.push(p);
    duration += count(c['expectedDurationSeconds'], 86_400) ?? DEFAULT_CAMPAIGN.expectedDurationSeconds;
    const fns = Array.isArray(c['unavailableFunctions']) ? c['unavailableFunctions'].map(text).filter((f): f is string => f !== undefined) : [];
    for (const f of fns.length > 0 ? fns : DEFAULT_CAMPAIGN.unavailableFunctions) unavailable.add(f);
    // Each target needs its own minimum (or the default); the bundle needs the highest.
    minBattery = Math.max(minBattery, count(c['minBatteryPercent'], 100) ?? DEFAULT_CAMPAIGN.minBatteryPercent);
    forced &&= c['forced'] === true;
    stationary ||= c['stationary'] === true;
    parked ||= c['parked'] === true;
    // Fail safe: what one target asks to download only is never installed with the others.
    downloadOnly ||= c['downloadOnly'] === true;
    id ??= text(c['id']);
  }
  return {
    ...(id === undefined ? {} : { id }),
    purpose: purposes.length > 0 ? purposes.join('; ') : DEFAULT_CAMPAIGN.purpose,
    expectedDurationSeconds: customs.length > 0 ? duration : DEFAULT_CAMPAIGN.expectedDurationSeconds,
    unavailableFunctions: [...unavailable],
    minBatteryPercent: customs.length > 0 ? minBattery : Math.max(floorBatteryPercent, DEFAULT_CAMPAIGN.minBatteryPercent),
    stationary,
    parked,
    forced,
    downloadOnly,
  };
}

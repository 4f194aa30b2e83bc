/**
 * UN R156 §7.2 safe-execution preconditions, read from COVESA VSS signals: the vehicle is
 * stationary (Vehicle.Speed = 0), in park (SelectedGear = 126, VSS "park"), and the battery
 * (traction battery if the vehicle has one, else the 12 V battery) holds at least the campaign's
 * minimum, so the update AND a rollback can finish. A signal that cannot be read counts as not
 * met (fail safe). Stationary and parked are the vehicle's own floor (SAFETY_FLOOR): a
 * campaign's `stationary` / `parked` (campaign.ts) can restate them, never waive them.
 * `checkPreconditions` is pure; `readPreconditions` reads the signals.
 */
import { VSS } from './ports.js';
import type { VehicleSignals, VssPath, VssValue } from './ports.js';

export const GEAR_PARK = 126;

/** What this vehicle always requires before execution (UN R156 §7.2), whatever a campaign says. */
export const SAFETY_FLOOR: { readonly stationary: boolean; readonly parked: boolean } = { stationary: true, parked: true };

/** What must hold before execution: a campaign's requirements (campaign.ts), on top of the floor. */
export interface Requirements {
  readonly minBatteryPercent: number;
  readonly stationary?: boolean;
  readonly parked?: boolean;
}

export type SignalValues = ReadonlyMap<VssPath, VssValue | undefined>;

export interface PreconditionCheck {
  readonly met: boolean;
  /** what is not met, for the log and the report */
  readonly unmet: readonly string[];
}

function isPark(v: VssValue | undefined): boolean {
  return v === GEAR_PARK || (typeof v === 'string' && ['P', 'PARK'].includes(v.toUpperCase()));
}

/** `req`: the battery minimum alone, or the campaign's requirements; the floor always applies. */
export function checkPreconditions(values: SignalValues, req: number | Requirements): PreconditionCheck {
  const r: Requirements = typeof req === 'number' ? { minBatteryPercent: req } : req;
  const minBatteryPercent = r.minBatteryPercent;
  const unmet: string[] = [];
  // R156 §7.2: stationary and in park: the floor, or tighter (a campaign can never waive them).
  if (SAFETY_FLOOR.stationary || r.stationary === true) {
    const speed = values.get(VSS.speed);
    if (speed !== 0) unmet.push(`${VSS.speed} is ${String(speed)}, must be 0`);
  }
  if (SAFETY_FLOOR.parked || r.parked === true) {
    const gear = values.get(VSS.selectedGear);
    if (!isPark(gear)) unmet.push(`${VSS.selectedGear} is ${String(gear)}, must be park (${GEAR_PARK})`);
  }
  const traction = values.get(VSS.tractionBatterySoc);
  const [path, soc] = typeof traction === 'number' ? [VSS.tractionBatterySoc, traction] : [VSS.lowVoltageBatterySoc, values.get(VSS.lowVoltageBatterySoc)];
  if (typeof soc !== 'number' || !(soc >= minBatteryPercent)) unmet.push(`${path} is ${String(soc)}%, needs ${minBatteryPercent}%`);
  return { met: unmet.length === 0, unmet };
}

export async function readPreconditions(signals: VehicleSignals): Promise<SignalValues> {
  const out = new Map<VssPath, VssValue | undefined>();
  for (const p of Object.values(VSS)) out.set(p, await signals.get(p));
  return out;
}

/**
 * UN R156 §7.2 safe-execution preconditions, read from COVESA VSS signals: the vehicle is
 * stationary (Vehicle.Speed = 0), in park (SelectedGear = 126, VSS "park"), and the battery
 * (traction battery if the vehicle has one, else the 12 V battery) holds at least the campaign's
 * minimum, so the update AND a rollback can finish. A signal that cannot be read counts as not
 * met (fail safe). `checkPreconditions` is pure; `readPreconditions` reads the signals.
 */
import { VSS } from './ports.js';
import type { VehicleSignals, VssPath, VssValue } from './ports.js';

export const GEAR_PARK = 126;

export type SignalValues = ReadonlyMap<VssPath, VssValue | undefined>;

export interface PreconditionCheck {
  readonly met: boolean;
  /** what is not met, for the log and the report */
  readonly unmet: readonly string[];
}

function isPark(v: VssValue | undefined): boolean {
  return v === GEAR_PARK || (typeof v === 'string' && ['P', 'PARK'].includes(v.toUpperCase()));
}

export function checkPreconditions(values: SignalValues, minBatteryPercent: number): PreconditionCheck {
  const unmet: string[] = [];
  const speed = values.get(VSS.speed);
  if (speed !== 0) unmet.push(`${VSS.speed} is ${String(speed)}, must be 0`);
  const gear = values.get(VSS.selectedGear);
  if (!isPark(gear)) unmet.push(`${VSS.selectedGear} is ${String(gear)}, must be park (${GEAR_PARK})`);
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

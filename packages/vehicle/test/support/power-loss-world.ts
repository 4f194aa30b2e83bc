/** The world of the power-loss test: small images, every ECU assigned release 2. */
import { World } from './world.js';

export function powerLossWorld(seed: string): World {
  const w = new World({ seed, imageBytes: 12 * 1024 });
  w.assignAll(2, { purpose: 'power-loss test', minBatteryPercent: 30 });
  return w;
}

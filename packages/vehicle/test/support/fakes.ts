/** Test doubles for the vehicle's signals (COVESA VSS) and HMI. */
import { VSS } from '../../src/primary/ports.js';
import type { ConsentRequest, Hmi, HmiNotice, VehicleSignals, VssPath, VssValue } from '../../src/primary/ports.js';
import { GEAR_PARK } from '../../src/primary/preconditions.js';

/** Parked, stationary, battery 90 % unless changed. */
export class FakeSignals implements VehicleSignals {
  readonly values = new Map<VssPath, VssValue | undefined>([
    [VSS.speed, 0],
    [VSS.selectedGear, GEAR_PARK],
    [VSS.tractionBatterySoc, 90],
  ]);
  reads = 0;

  get(path: VssPath): Promise<VssValue | undefined> {
    this.reads++;
    return Promise.resolve(this.values.get(path));
  }

  set(path: VssPath, value: VssValue | undefined): void {
    this.values.set(path, value);
  }

  safe(): boolean {
    return this.values.get(VSS.speed) === 0 && this.values.get(VSS.selectedGear) === GEAR_PARK;
  }
}

export class FakeHmi implements Hmi {
  answer: 'accepted' | 'declined' = 'accepted';
  readonly requests: ConsentRequest[] = [];
  readonly notices: HmiNotice[] = [];

  requestConsent(request: ConsentRequest): Promise<'accepted' | 'declined'> {
    this.requests.push(request);
    return Promise.resolve(this.answer);
  }

  notify(notice: HmiNotice): Promise<void> {
    this.notices.push(notice);
    return Promise.resolve();
  }
}

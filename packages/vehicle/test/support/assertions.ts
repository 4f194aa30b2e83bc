/** Shared assertions of the vehicle tests. */
import assert from 'node:assert/strict';
import type { TestVehicle } from './vehicle.js';
import { PRIMARY_SERIAL } from './world.js';

/** Every ECU runs release `rc` from a good, healthy bank. */
export function assertAllOn(v: TestVehicle, rc: number): void {
  for (const e of v.ecus) {
    assert.equal(e.running.image?.filepath, v.world.release(e.hardwareId, rc).path, `ECU ${e.serial} runs release ${rc}`);
    assert.equal(e.running.status, 'good', `ECU ${e.serial} runs a good bank`);
    assert.ok(e.running.healthy, `ECU ${e.serial} is healthy`);
  }
}

/** The next check-in's manifest reports `code` in the Primary ECU's attacks_detected. */
export async function assertReportedInNextManifest(v: TestVehicle, code: string): Promise<void> {
  const before = v.backend.manifests.length;
  await v.cycle();
  const m = v.backend.manifests[before];
  assert.ok(m !== undefined, 'a manifest was sent');
  const attacks = m.signed.ecuVersionReports.get(PRIMARY_SERIAL)!.signed.attacksDetected;
  assert.match(attacks, new RegExp(code), `attacks_detected of the next manifest: ${attacks}`);
}

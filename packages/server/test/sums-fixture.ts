/**
 * A small fleet for the SUMS tests: catalogued images of three parts, an interdependency
 * (ADAS 3.0 needs gateway >= 2.0), RXSWINs of model M1 under R79 and R13-H, and vehicles whose
 * last known configuration differs (gateway 2.0, gateway 1.0, no ADAS ECU).
 */
import assert from 'node:assert/strict';
import type { Harness } from './support/harness.js';
import { initImageRepo, offlineKeys, publishImage } from './support/image-repo.js';
import { inProcessVehicle, installedImage } from './support/vehicle.js';
import type { SimulatedVehicle } from './support/vehicle.js';
import { addDependency, registerRxswin, registerSoftware } from '../src/sums/records.js';

export const MODEL = 'M1';
export const IMAGES = {
  gw1: { file: 'ecu/gw-1.0.bin', hw: 'hw-gw', part: 'GW-100', version: '1.0' },
  gw2: { file: 'ecu/gw-2.0.bin', hw: 'hw-gw', part: 'GW-100', version: '2.0' },
  brk1: { file: 'ecu/brake-1.0.bin', hw: 'hw-brake', part: 'BRK-200', version: '1.0' },
  brk2: { file: 'ecu/brake-2.0.bin', hw: 'hw-brake', part: 'BRK-200', version: '2.0' },
  adas3: { file: 'ecu/adas-3.0.bin', hw: 'hw-adas', part: 'ADAS-300', version: '3.0' },
} as const;
export type ImageName = keyof typeof IMAGES;

export function bytesOf(name: ImageName): Buffer {
  return Buffer.from(`firmware ${IMAGES[name].file} `.repeat(50));
}

export async function sumsFixture(h: Harness): Promise<void> {
  await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
  let counter = 1;
  for (const [name, i] of Object.entries(IMAGES)) {
    await publishImage(h, i.file, bytesOf(name as ImageName), { hardwareIds: [i.hw], releaseCounter: counter++ });
    await registerSoftware(h.ctx, { filename: i.file, partNumber: i.part, version: i.version }, 'token:test');
  }
  await addDependency(h.ctx, { filename: IMAGES.adas3.file, requires: { partNumber: 'GW-100', minVersion: '2.0' } }, 'token:test');
  await registerRxswin(h.ctx, { model: MODEL, regulation: 'R13-H', rxswin: 'R13H-M1-0001', software: [{ hardwareId: 'hw-brake', filename: IMAGES.brk1.file }] }, 'token:test');
  await registerRxswin(h.ctx, { model: MODEL, regulation: 'R13-H', rxswin: 'R13H-M1-0002', software: [{ hardwareId: 'hw-brake', filename: IMAGES.brk2.file }] }, 'token:test');
  await registerRxswin(h.ctx, { model: MODEL, regulation: 'R79', rxswin: 'R79-M1-0001', software: [{ hardwareId: 'hw-gw', filename: IMAGES.gw2.file }, { hardwareId: 'hw-adas', filename: IMAGES.adas3.file }] }, 'token:test');
}

/** Provision a vehicle of model M1 with ECUs `<vin>-gw`, `<vin>-brk` (and `<vin>-adas`) and report the given images installed. */
export async function vehicle(h: Harness, vin: string, installed: { gw: ImageName; brake: ImageName }, withAdas = true): Promise<SimulatedVehicle> {
  const ecus = [{ serial: `${vin}-gw`, hardwareId: 'hw-gw' }, { serial: `${vin}-brk`, hardwareId: 'hw-brake' }];
  if (withAdas) ecus.push({ serial: `${vin}-adas`, hardwareId: 'hw-adas' });
  const v = inProcessVehicle(h, vin, ecus);
  const body = { ...v.provisionBody(), model: MODEL };
  const r = await h.app.inject({ method: 'POST', url: '/api/v1/vehicles', headers: h.auth('operator'), payload: body });
  assert.equal(r.statusCode, 201, r.body);
  const res = await v.checkIn({
    reports: {
      [`${vin}-gw`]: { installed: installedImage(IMAGES[installed.gw].file, bytesOf(installed.gw)) },
      [`${vin}-brk`]: { installed: installedImage(IMAGES[installed.brake].file, bytesOf(installed.brake)) },
    },
  });
  assert.equal(res.status, 200, res.body.toString());
  return v;
}

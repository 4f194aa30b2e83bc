/** An ECU's identity file `ecu.json`: serial, hardware identifier, verification mode. */
import { join } from 'node:path';
import { expectObject, expectString } from '@reflash/metadata';
import { StateFileError } from '../errors.js';
import { requireJsonFile, writeJsonFile } from '../io/json-file.js';
import type { VerificationMode } from '../link.js';

export interface EcuIdentity {
  readonly serial: string;
  readonly hardwareId: string;
  readonly verification: VerificationMode;
}

export async function loadIdentity(dir: string): Promise<EcuIdentity> {
  const path = join(dir, 'ecu.json');
  const o = expectObject(await requireJsonFile(path), path);
  const verification = o['verification'];
  if (verification !== 'full' && verification !== 'partial') throw new StateFileError(`${path}: verification must be "full" or "partial"`);
  return { serial: expectString(o['serial'], `${path}.serial`), hardwareId: expectString(o['hardwareId'], `${path}.hardwareId`), verification };
}

export async function saveIdentity(dir: string, id: EcuIdentity): Promise<void> {
  await writeJsonFile(join(dir, 'ecu.json'), { serial: id.serial, hardwareId: id.hardwareId, verification: id.verification });
}

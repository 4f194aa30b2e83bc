/**
 * `reflash vehicle provision|list|show`: register a vehicle and its ECUs with the Director.
 * Provisioning makes one ed25519 key pair per ECU and keeps them in `--keys-out` as TEST keys
 * (unencrypted, marked as such: for vehicle simulators and demos; a real vehicle makes its keys
 * in its ECUs and only the public keys travel). The server answers with the Director root and
 * the Image-repository root, which a vehicle needs as its first trusted roots: they are written
 * next to the keys, with a `vehicle.json` that lists the ECUs and their key files.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError, expectObject, generateSigner } from '@reflash/metadata';
import type { AdminClient } from '../client/admin.js';
import { encodePath } from '../client/admin.js';
import { readResponse } from '../client/errors.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom, collect } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';
import { writeFileAtomic } from '../io/atomic.js';
import { Keystore } from './keystore.js';

export interface EcuSpec {
  readonly serial: string;
  readonly hardwareId: string;
  readonly primary: boolean;
}

const PART = /^[A-Za-z0-9._-]{1,64}$/;

/** `SERIAL:HWID[:primary]` */
export function parseEcuSpec(s: string): EcuSpec {
  const parts = s.split(':');
  const [serial, hardwareId, flag] = parts;
  if (parts.length < 2 || parts.length > 3 || serial === undefined || hardwareId === undefined || !PART.test(serial) || !PART.test(hardwareId) || (flag !== undefined && flag !== 'primary')) {
    throw new UsageError(`--ecu ${JSON.stringify(s)}: expected SERIAL:HWID or SERIAL:HWID:primary (letters, digits, ".", "_", "-")`);
  }
  return { serial, hardwareId, primary: flag === 'primary' };
}

/** Exactly one primary; a single ECU is the primary without saying so. */
export function checkEcus(ecus: readonly EcuSpec[]): EcuSpec {
  if (ecus.length === 0) throw new UsageError('give at least one --ecu SERIAL:HWID[:primary]');
  const serials = new Set(ecus.map((e) => e.serial));
  if (serials.size !== ecus.length) throw new UsageError('an ECU serial is given twice');
  const primaries = ecus.filter((e) => e.primary);
  if (primaries.length > 1) throw new UsageError('only one ECU can be the primary');
  if (primaries.length === 0 && ecus.length > 1) throw new UsageError('mark the primary ECU: --ecu SERIAL:HWID:primary');
  return primaries[0] ?? ecus[0]!;
}

export interface ProvisionOptions {
  readonly vin: string;
  readonly model: string;
  readonly ecus: readonly EcuSpec[];
  readonly keysOut: string;
}

export interface ProvisionResult {
  readonly vin: string;
  readonly primaryEcuSerial: string;
  /** key store name per ECU serial */
  readonly keyNames: ReadonlyMap<string, string>;
}

export async function provisionVehicle(client: AdminClient, opts: ProvisionOptions, out: Output): Promise<ProvisionResult> {
  // The server's VIN pattern (packages/server/src/services/inventory.ts).
  if (!/^[A-Za-z0-9-]{1,64}$/.test(opts.vin)) throw new UsageError(`--vin ${JSON.stringify(opts.vin)}: letters, digits and "-" only (up to 64)`);
  const primary = checkEcus(opts.ecus);
  const ks = new Keystore(opts.keysOut);
  const keyNames = new Map<string, string>();
  const ecus = [];
  for (const e of opts.ecus) {
    const name = `${opts.vin}-${e.serial}`;
    // Written before the request: a key the server knows must never be lost.
    const entry = await ks.add(name, generateSigner('ed25519'), { test: true });
    keyNames.set(e.serial, name);
    ecus.push({ serial: e.serial, hardwareId: e.hardwareId, publicKey: entry.key.toJSON() });
  }
  const res = await client.json('POST', '/api/v1/vehicles', { vin: opts.vin, model: opts.model, primaryEcuSerial: primary.serial, ecus });
  const body = readResponse('POST /api/v1/vehicles', () => expectObject(res, 'response'));
  await mkdir(opts.keysOut, { recursive: true });
  for (const [field, file] of [['directorRoot', 'director-root.json'], ['imageRoot', 'image-root.json']] as const) {
    const v = body[field];
    if (v === undefined || v === null) {
      out.note(`the server sent no ${field}${field === 'imageRoot' ? ' (is the Image repository initialised?)' : ''}`);
      continue;
    }
    await writeFileAtomic(join(opts.keysOut, file), Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8'));
  }
  const description = {
    vin: opts.vin, model: opts.model, primaryEcuSerial: primary.serial,
    ecus: opts.ecus.map((e) => ({ serial: e.serial, hardwareId: e.hardwareId, keyName: keyNames.get(e.serial) })),
  };
  await writeFileAtomic(join(opts.keysOut, `${opts.vin}.vehicle.json`), Buffer.from(`${JSON.stringify(description, null, 2)}\n`, 'utf8'));
  out.out(`vehicle ${opts.vin} provisioned: ${opts.ecus.length} ECU(s), primary ${primary.serial}; TEST keys and trusted roots in ${opts.keysOut}`);
  return { vin: opts.vin, primaryEcuSerial: primary.serial, keyNames };
}

export function registerVehicle(program: Command): void {
  const vehicle = program.command('vehicle').description('vehicles and their ECUs');
  const provision = vehicle.command('provision')
    .description('register a vehicle; ECU key pairs are made here and kept as TEST keys for simulators')
    .requiredOption('--vin <vin>', 'vehicle identification number')
    .requiredOption('--model <model>', 'model')
    .requiredOption('--ecu <spec>', 'SERIAL:HWID[:primary] (repeatable)', collect)
    .requiredOption('--keys-out <dir>', 'folder for the ECU keys and the trusted roots');
  addServerOptions(provision).action(async (o: ServerOptions & { vin: string; model: string; ecu: string[]; keysOut: string }) => {
    await provisionVehicle(await adminClientFrom(o, process.env), { vin: o.vin, model: o.model, ecus: o.ecu.map(parseEcuSpec), keysOut: o.keysOut }, CONSOLE);
  });
  const list = vehicle.command('list').description('list vehicles').option('--limit <n>').option('--after <vin>');
  addServerOptions(list).action(async (o: ServerOptions & { limit?: string; after?: string }) => {
    const q = new URLSearchParams();
    if (o.limit !== undefined) q.set('limit', o.limit);
    if (o.after !== undefined) q.set('after', o.after);
    const qs = q.toString();
    CONSOLE.out(JSON.stringify(await (await adminClientFrom(o, process.env)).get(`/api/v1/vehicles${qs === '' ? '' : `?${qs}`}`), null, 2));
  });
  const show = vehicle.command('show').argument('<vin>').description('a vehicle: ECUs, installed images, pending assignments');
  addServerOptions(show).action(async (vin: string, o: ServerOptions) => {
    CONSOLE.out(JSON.stringify(await (await adminClientFrom(o, process.env)).get(`/api/v1/vehicles/${encodePath(vin)}`), null, 2));
  });
}

/**
 * Fleet preparation against a running server (operator token with admin rights, or
 * release-manager + operator): offline TEST keys for the Image repository (created in the key
 * store unless there), Image-repository init when needed, one v2 image per ECU hardware id
 * uploaded and signed (release counter 2), N vehicles provisioned (each ECU with a v1 factory
 * image and its own key pair in the state folder), the image set assigned.
 *
 *   <state>/fleet.json                         FleetState
 *   <state>/vehicles/<VIN>/ecus/<serial>/      ECU state folders (vehicle/src/ecu)
 *   <state>/vehicles/<VIN>/primary/            the Primary's state
 *   <state>/images/                            generated image files (uploaded)
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Metadata, UsageError, expectObject, generateSigner } from '@reflash/metadata';
import { Primary, provisionEcu } from '@reflash/vehicle';
import type { AdminClient } from '../client/admin.js';
import { readResponse } from '../client/errors.js';
import { getRoleBytes } from '../client/image-repo-api.js';
import type { Output } from '../client/output.js';
import { addImage } from '../commands/image.js';
import { initImageRepo } from '../commands/image-repo.js';
import { Keystore } from '../commands/keystore.js';
import { signCommand } from '../commands/sign.js';
import type { SigningContext } from '../commands/sign.js';

export const ROOT_KEY = 'fleet-sim-root';
export const TARGETS_KEY = 'fleet-sim-targets';
/** Factory images are small: only their name and release counter matter to the simulation. */
const FACTORY_IMAGE_BYTES = 1024;

export interface FleetEcu {
  readonly serial: string;
  readonly hardwareId: string;
  readonly primary: boolean;
  readonly factory: { readonly filepath: string; readonly releaseCounter: number };
  readonly target: { readonly filepath: string; readonly releaseCounter: number };
}

export interface FleetState {
  readonly server: string;
  readonly prefix: string;
  readonly ecusPerVehicle: number;
  readonly imageSize: number;
  readonly vins: readonly string[];
  /** ECU layout, the same in every vehicle (serials are `<VIN>-<serial>`) */
  readonly ecus: readonly FleetEcu[];
}

export interface PrepareOptions {
  readonly stateDir: string;
  readonly keystore: string;
  readonly vehicles: number;
  readonly ecus: number;
  readonly imageSize: number;
  readonly seed?: string;
  /** parallel provisioning requests */
  readonly concurrency?: number;
  readonly out: Output;
  readonly onProvisioned?: (done: number) => void;
}

export function vehicleDir(stateDir: string, vin: string): string {
  return join(stateDir, 'vehicles', vin);
}

export function ecuSerial(vin: string, serial: string): string {
  return `${vin}-${serial}`;
}

/** `length` pseudo-random bytes determined by (seed, label) (AES-128-CTR keystream), streamed to a file. */
export async function writeSeededFile(path: string, seed: string, label: string, length: number): Promise<void> {
  const key = createHash('sha256').update(`${seed}/${label}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const zeros = Buffer.alloc(1024 * 1024);
  const ws = createWriteStream(path);
  let left = length;
  while (left > 0) {
    const n = Math.min(left, zeros.length);
    left -= n;
    if (!ws.write(cipher.update(zeros.subarray(0, n)))) await new Promise<void>((r) => ws.once('drain', () => r()));
  }
  ws.end();
  await finished(ws);
}

function factoryData(prefix: string, hw: string): Buffer {
  const out = Buffer.alloc(FACTORY_IMAGE_BYTES);
  for (let off = 0, i = 0; off < out.length; i++) off += createHash('sha256').update(`${prefix}/${hw}/factory/${i}`).digest().copy(out, off);
  return out;
}

export async function loadFleetState(stateDir: string): Promise<FleetState | undefined> {
  let text: string;
  try {
    text = await readFile(join(stateDir, 'fleet.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as FleetState;
}

/** Run `fn` over `items` with at most `limit` at a time. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

async function ensureKeys(ks: Keystore): Promise<void> {
  const names = new Set((await ks.list()).map((e) => e.name));
  for (const n of [ROOT_KEY, TARGETS_KEY]) if (!names.has(n)) await ks.generate(n, { test: true });
}

/** Publish the image set: init the Image repository if needed, upload and sign one image per hardware id. */
async function publish(client: AdminClient, o: PrepareOptions, prefix: string, ecus: readonly FleetEcu[]): Promise<void> {
  const ks = new Keystore(o.keystore);
  await ensureKeys(ks);
  // Signing results are notes here: stdout carries only the command's own result.
  const ctx: SigningContext = {
    client, keystore: ks, allowTest: true, now: Date.now(), out: { out: (l) => o.out.note(l), note: (l) => o.out.note(l) },
    passphrase: () => Promise.reject(new UsageError('fleet keys are test keys')),
  };
  const rootBytes = await getRoleBytes(client, 'root');
  if (rootBytes === undefined) {
    await initImageRepo(ctx, { rootKeys: [ROOT_KEY], rootThreshold: 1, targetsKeys: [TARGETS_KEY], targetsThreshold: 1 });
    o.out.note('Image repository initialised with TEST keys');
  } else {
    const targetsKeyId = (await ks.publicKey(TARGETS_KEY)).keyid;
    if (!Metadata.fromBytes(rootBytes, 'root').signed.role('targets').keyids.includes(targetsKeyId)) {
      throw new UsageError(`the Image repository is initialised with other targets keys than ${TARGETS_KEY} of ${o.keystore}: pass the --keystore that initialised it`);
    }
  }
  const dir = join(o.stateDir, 'images');
  await mkdir(dir, { recursive: true });
  const quiet: Output = { out: () => undefined, note: (l) => o.out.note(l) };
  for (const e of ecus) {
    const file = join(dir, e.target.filepath.replaceAll('/', '_'));
    await writeSeededFile(file, o.seed ?? prefix, `${e.hardwareId}/v2`, o.imageSize);
    await addImage(client, file, e.target.filepath, quiet);
  }
  await signCommand(ctx, {
    role: 'targets', keys: [TARGETS_KEY],
    adds: ecus.map((e) => ({ path: e.target.filepath, hardwareIds: [e.hardwareId], releaseCounter: e.target.releaseCounter })),
  });
}

/** Provision one vehicle: keys, server registration, ECU folders with factory images, Primary roots. */
async function provisionOne(client: AdminClient, stateDir: string, vin: string, prefix: string, ecus: readonly FleetEcu[]): Promise<void> {
  const signers = ecus.map(() => generateSigner('ed25519'));
  const primary = ecus.find((e) => e.primary)!;
  const res = await client.json('POST', '/api/v1/vehicles', {
    vin, model: 'fleet-sim', primaryEcuSerial: ecuSerial(vin, primary.serial),
    ecus: ecus.map((e, i) => ({ serial: ecuSerial(vin, e.serial), hardwareId: e.hardwareId, publicKey: signers[i]!.key.toJSON() })),
  });
  const body = readResponse('POST /api/v1/vehicles', () => expectObject(res, 'response'));
  const roots: Record<string, Buffer> = {};
  for (const f of ['directorRoot', 'imageRoot'] as const) {
    const v = body[f];
    if (v === undefined || v === null) throw new UsageError(`the server sent no ${f} (is the Image repository initialised?)`);
    roots[f] = Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8');
  }
  const dir = vehicleDir(stateDir, vin);
  const now = Date.now();
  for (const [i, e] of ecus.entries()) {
    await provisionEcu(join(dir, 'ecus', e.serial), {
      serial: ecuSerial(vin, e.serial), hardwareId: e.hardwareId, verification: e.primary ? 'full' : 'partial',
      factoryImage: { filepath: e.factory.filepath, data: factoryData(prefix, e.hardwareId), releaseCounter: e.factory.releaseCounter },
      directorRoot: roots['directorRoot']!, imageRoot: roots['imageRoot']!, secureTimeMs: now, signer: signers[i]!,
    });
  }
  await Primary.provision(join(dir, 'primary'), { director: roots['directorRoot']!, image: roots['imageRoot']! });
}

export async function prepareFleet(client: AdminClient, o: PrepareOptions): Promise<FleetState> {
  if (o.ecus < 1 || o.ecus > 64) throw new UsageError('--ecus must be between 1 and 64');
  const prefix = `SIM${randomBytes(3).toString('hex').toUpperCase()}`;
  const ecus: FleetEcu[] = Array.from({ length: o.ecus }, (_, j) => {
    const hw = `${prefix.toLowerCase()}-hw${j}`;
    return {
      serial: `ecu${j}`, hardwareId: hw, primary: j === 0,
      factory: { filepath: `fw/${hw}-v1.bin`, releaseCounter: 1 },
      target: { filepath: `fw/${hw}-v2.bin`, releaseCounter: 2 },
    };
  });
  await mkdir(o.stateDir, { recursive: true });
  await publish(client, o, prefix, ecus);
  const vins = Array.from({ length: o.vehicles }, (_, i) => `${prefix}-${String(i + 1).padStart(6, '0')}`);
  let done = 0;
  await pool(vins, o.concurrency ?? 8, async (vin) => {
    await provisionOne(client, o.stateDir, vin, prefix, ecus);
    o.onProvisioned?.(++done);
  });
  const images = Object.fromEntries(ecus.map((e) => [e.hardwareId, e.target.filepath]));
  for (let i = 0; i < vins.length; i += 5000) await client.json('POST', '/api/v1/assignments', { vins: vins.slice(i, i + 5000), images });
  const state: FleetState = { server: client.baseUrl, prefix, ecusPerVehicle: o.ecus, imageSize: o.imageSize, vins, ecus };
  await writeFile(join(o.stateDir, 'fleet.json'), `${JSON.stringify(state, null, 2)}\n`);
  await rm(join(o.stateDir, 'images'), { recursive: true, force: true });
  return state;
}

/** One provisioned ECU in a temp folder, and the metadata a Primary would forward to it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ecu } from '../../src/ecu/ecu.js';
import type { EcuOptions } from '../../src/ecu/ecu.js';
import { provisionEcu } from '../../src/ecu/provision.js';
import type { EcuProvisioning } from '../../src/ecu/provision.js';
import type { MetadataBundle } from '../../src/link.js';
import { NOW } from './world.js';
import type { EcuSpec, World } from './world.js';

export interface EcuFixture {
  readonly dir: string;
  ecu: Ecu;
  reopen(opts?: EcuOptions): Promise<Ecu>;
  cleanup(): Promise<void>;
}

export async function ecuFixture(world: World, spec: EcuSpec, opts: EcuOptions = {}, prov: Partial<EcuProvisioning> = {}): Promise<EcuFixture> {
  const dir = join(await mkdtemp(join(tmpdir(), 'reflash-ecu-')), spec.serial);
  const factory = world.release(spec.hardwareId, 1);
  await provisionEcu(dir, {
    serial: spec.serial, hardwareId: spec.hardwareId, verification: spec.verification,
    factoryImage: { filepath: factory.path, data: factory.data, releaseCounter: 1 },
    directorRoot: world.directorRoot(), imageRoot: world.imageRoot(), secureTimeMs: NOW, ...prov,
  });
  const f: EcuFixture = {
    dir,
    ecu: await Ecu.open(dir, opts),
    async reopen(o = opts) {
      f.ecu = await Ecu.open(dir, o);
      return f.ecu;
    },
    cleanup: () => rm(join(dir, '..'), { recursive: true, force: true }),
  };
  return f;
}

/** Every published metadata file of both repositories, as a Primary forwards them. */
export function worldBundle(world: World): MetadataBundle {
  return { director: new Map(world.director.files), image: new Map(world.image.files) };
}

export async function* chunks(data: Uint8Array, size = 1000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    await Promise.resolve();
    yield data.subarray(i, i + size);
  }
}

/**
 * What an ECU's own verification left behind (`verify.json`): the highest Director targets
 * version accepted by partial verification (Uptane 5.4.4.6 step 4 rollback baseline) and the
 * image it approved for installation (only that image may be written and activated).
 */
import { join } from 'node:path';
import { expectObject, expectUint } from '@reflash/metadata';
import type { ImageInfo } from '../digest.js';
import { requireJsonFile, writeJsonFile } from '../io/json-file.js';
import { parseImage } from './bank-record.js';

export interface VerifyState {
  readonly targetsVersion: number;
  readonly approved: ImageInfo | null;
}

export async function readVerifyState(dir: string): Promise<VerifyState> {
  const path = join(dir, 'verify.json');
  const o = expectObject(await requireJsonFile(path), path);
  return { targetsVersion: expectUint(o['targetsVersion'], `${path}.targetsVersion`), approved: parseImage(o['approved'], `${path}.approved`) };
}

export async function writeVerifyState(dir: string, s: VerifyState): Promise<void> {
  await writeJsonFile(join(dir, 'verify.json'), s);
}

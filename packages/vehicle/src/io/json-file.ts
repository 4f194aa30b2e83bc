/** JSON state files: read (absent -> undefined) and written atomically (CONVENTIONS.md §8). */
import { readFile } from 'node:fs/promises';
import { StateFileError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** The parsed JSON in `path`, or undefined when the file does not exist. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // Atomic writes never leave half a file: a malformed one was changed by someone else.
    throw new StateFileError(`${path}: not valid JSON`, { cause: err });
  }
}

export async function writeJsonFile(path: string, value: unknown, mode?: number): Promise<void> {
  await writeFileAtomic(path, Buffer.from(`${JSON.stringify(value, null, 1)}\n`, 'utf8'), mode);
}

/** Like readJsonFile, but a missing file is a StateFileError. */
export async function requireJsonFile(path: string): Promise<unknown> {
  const v = await readJsonFile(path);
  if (v === undefined) throw new StateFileError(`${path}: missing`);
  return v;
}

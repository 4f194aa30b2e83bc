/**
 * Atomic persistence (CONVENTIONS.md §8), the same semantics as the CLI's helper: bytes go to a
 * temp file in the destination's folder, are fsynced, renamed over the destination, and the
 * folder is fsynced so the rename survives a power cut. A reader sees the old file or the new
 * one, never a mix. A crash can leave a temp file behind: `removeTempFiles` cleans them up when
 * a state folder is opened.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TEMP = /^\..+\.tmp$/;

/** Temp files are hidden and end in `.tmp` so they are easy to recognise (and to clean up). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** fsync a directory, so that a rename (or unlink) in it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replace `path` atomically with `data`. */
export async function writeFileAtomic(path: string, data: Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempPathFor(path);
  // 'wx': never follow or reuse an existing file under the temp name.
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      let offset = 0;
      while (offset < data.byteLength) {
        const { bytesWritten } = await fh.write(data, offset, data.byteLength - offset);
        offset += bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}

/** Delete temp files a crash left in `dir` (not recursive). */
export async function removeTempFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (TEMP.test(name)) await rm(join(dir, name), { force: true });
  }
}

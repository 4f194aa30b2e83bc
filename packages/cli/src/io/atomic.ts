/**
 * Atomic persistence (CONVENTIONS.md §8): bytes go to a temp file in the destination's folder,
 * are fsynced, renamed over the destination, and the folder is fsynced so the rename survives a
 * power cut. A reader sees the old file or the new one, never a mix; a failed write leaves the
 * destination untouched and no temp file behind.
 */
import { open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from '@reflash/metadata';
import { fsyncDir, tempPathFor } from '@reflash/vehicle/io/atomic';

// One implementation of temp naming and directory fsync, shared with the vehicle's state files.
export { fsyncDir, tempPathFor };

/** A file written in chunks and then committed atomically (or aborted without a trace). */
export class AtomicFile {
  readonly path: string;
  readonly tempPath: string;
  #fh: FileHandle | undefined;
  #bytes = 0;

  private constructor(path: string, tempPath: string, fh: FileHandle) {
    this.path = path;
    this.tempPath = tempPath;
    this.#fh = fh;
  }

  static async open(path: string, mode = 0o644): Promise<AtomicFile> {
    const tempPath = tempPathFor(path);
    // 'wx': never follow or reuse an existing file under the temp name.
    const fh = await open(tempPath, 'wx', mode);
    return new AtomicFile(path, tempPath, fh);
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#bytes;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const fh = this.#handle();
    let offset = 0;
    while (offset < chunk.byteLength) {
      const { bytesWritten } = await fh.write(chunk, offset, chunk.byteLength - offset);
      offset += bytesWritten;
    }
    this.#bytes += chunk.byteLength;
  }

  /** fsync, rename into place, fsync the folder. */
  async commit(): Promise<void> {
    const fh = this.#handle();
    this.#fh = undefined;
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(this.tempPath, this.path);
    await fsyncDir(dirname(this.path));
  }

  /** Close and delete the temp file; the destination is untouched. Safe to call twice. */
  async abort(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    try {
      await fh?.close();
    } finally {
      // force: a temp file that is already gone is fine; any other error is reported.
      await rm(this.tempPath, { force: true });
    }
  }

  #handle(): FileHandle {
    if (this.#fh === undefined) throw new UsageError(`atomic file ${this.path} is already committed or aborted`);
    return this.#fh;
  }
}

/** Run `fill` on a new AtomicFile and commit it; on any error abort it and rethrow. */
export async function withAtomicFile<T>(path: string, fill: (file: AtomicFile) => Promise<T>): Promise<T> {
  const file = await AtomicFile.open(path);
  let result: T;
  try {
    result = await fill(file);
    await file.commit();
  } catch (err) {
    await file.abort();
    throw err;
  }
  return result;
}

/** Replace `path` atomically with `data`. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  await withAtomicFile(path, (f) => f.write(data));
}

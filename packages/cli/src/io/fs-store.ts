/**
 * The verify package's MetadataStore over a directory: trusted metadata as `<role>.json`
 * (unversioned names; the caller passes the role already URL-encoded, e.g. via encodeRole).
 * Writes are atomic (CONVENTIONS.md §8), so a crash never leaves half a trusted file.
 */
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '@reflash/metadata';
import type { MetadataStore } from '@reflash/verify';
import { writeFileAtomic } from './atomic.js';

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

export class FsStore implements MetadataStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The file for a role; the name must already be encoded (no path separators). */
  pathFor(role: string): string {
    if (role === '' || role === '.' || role === '..' || /[/\\\0]/.test(role)) {
      throw new UsageError(`role name ${JSON.stringify(role)} is not a safe file name (encode it first)`);
    }
    return join(this.dir, `${role}.json`);
  }

  async load(role: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.pathFor(role));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async save(role: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathFor(role);
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path, bytes);
  }

  async remove(role: string): Promise<void> {
    try {
      await unlink(this.pathFor(role));
    } catch (err) {
      // Already absent is the wanted state; anything else (permissions, a directory) is an error.
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
  }
}

/**
 * A MetadataStore over a folder (trusted metadata as `<encoded role>.json`, atomic writes), that
 * also keeps every trusted root version as `N.root.json`. From it the Primary exports the
 * files a Secondary needs to verify the same metadata itself (Uptane 2.1 §5.4.2.3: the Primary
 * sends the latest metadata to its Secondaries): every root version (for the root chain,
 * §5.4.4.3) and the current timestamp, snapshot and targets files under both their versioned
 * and unversioned names. The Updater saves a file only after it verified (CONVENTIONS.md §8).
 */
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, UsageError } from '@reflash/metadata';
import type { MetadataStore } from '@reflash/verify';
import { writeFileAtomic } from './atomic.js';
import { isErrno } from './json-file.js';

const VERSIONED_ROOT = /^(\d+)\.root\.json$/;

/**
 * The verify package's MetadataStore over a directory: trusted metadata as `<role>.json`
 * (unversioned names; the caller passes the role already encoded, e.g. via encodeRole), atomic
 * writes. This is exactly what the TUF conformance client keeps (the `tuf-client` command).
 */
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

/** An FsStore that also keeps every trusted root version as `N.root.json` (see the file comment). */
export class FileMetadataStore extends FsStore {
  override async save(role: string, bytes: Uint8Array): Promise<void> {
    if (role === 'root') {
      await mkdir(this.dir, { recursive: true });
      // The root chain history, for Secondaries that trust an older root.
      const version = Metadata.fromBytes(bytes, 'root').signed.version;
      await writeFileAtomic(join(this.dir, `${version}.root.json`), bytes);
    }
    await super.save(role, bytes);
  }

  /**
   * Repository file name -> bytes, as a static repository would serve them: `N.root.json`
   * for every kept root, `timestamp.json`, and `V.<role>.json` plus `<role>.json` for the rest.
   */
  async exportFiles(): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return out;
      throw err;
    }
    for (const name of names.sort()) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const bytes = await readFile(join(this.dir, name));
      if (VERSIONED_ROOT.test(name)) {
        out.set(name, bytes);
        continue;
      }
      const role = name.slice(0, -'.json'.length);
      if (role === 'root') continue;
      out.set(name, bytes);
      if (role !== 'timestamp') out.set(`${Metadata.fromBytes(bytes).signed.version}.${name}`, bytes);
    }
    return out;
  }
}

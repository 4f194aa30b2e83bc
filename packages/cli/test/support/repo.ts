/**
 * Serve a RepositoryBuilder over HTTP like a static TUF repository: `/metadata/<name>` from its
 * published files and `/targets/<name>` (plain or hash-prefixed) from its target data. Overrides
 * by full path replace what is served (tampering, missing files).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRole } from '@reflash/metadata';
import type { RepositoryBuilder } from '@reflash/metadata';
import { bytesHandler } from './http.js';
import type { Handler } from './http.js';

export class ServedRepository {
  repo: RepositoryBuilder;
  /** full request path -> bytes; `null` serves a 404 */
  readonly overrides = new Map<string, Uint8Array | null>();

  constructor(repo: RepositoryBuilder) {
    this.repo = repo;
  }

  /**
   * `path` is the request path as sent. Like a static server (and the tuf-conformance simulator)
   * it is percent-decoded; metadata file names are then looked up the way RepositoryBuilder
   * stores them (encodeRole: percent-encoded, nothing kept safe), whatever encoding the client used.
   */
  lookup(path: string): Uint8Array | undefined {
    const o = this.overrides.get(path);
    if (o !== undefined) return o ?? undefined;
    if (path.startsWith('/metadata/')) return this.repo.files.get(encodeRole(decodeURIComponent(path.slice('/metadata/'.length))));
    if (path.startsWith('/targets/')) {
      const name = decodeURIComponent(path.slice('/targets/'.length));
      for (const [p, data] of this.repo.targetData) if (this.repo.targetFileNames(p).includes(name)) return data;
    }
    return undefined;
  }

  handler(): Handler {
    return bytesHandler((p) => this.lookup(p));
  }
}

/** A copy of `bytes` with the first occurrence of `from` replaced by `to` (same length). */
export function tamper(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const text = Buffer.from(bytes).toString('utf8');
  const at = text.indexOf(from);
  if (at < 0) throw new Error(`tamper: ${from} not found`);
  return Buffer.from(text.slice(0, at) + to + text.slice(at + from.length), 'utf8');
}

/** Flip one byte of a target (same length, different hashes). */
export function flipByte(bytes: Uint8Array, index = 0): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[index] = out[index]! ^ 0x01;
  return out;
}

/** Temporary directories, removed by cleanup(). */
export class TempDirs {
  readonly #dirs: string[] = [];

  async make(prefix = 'reflash-cli-'): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), prefix));
    this.#dirs.push(d);
    return d;
  }

  async cleanup(): Promise<void> {
    for (const d of this.#dirs.splice(0)) await rm(d, { recursive: true, force: true });
  }
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

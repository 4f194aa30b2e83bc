/**
 * Streaming target download (TUF 5.7.3): at most `target.length` bytes are accepted, the
 * length and every known hash (sha256, sha512) are checked while the bytes stream to a temp file
 * next to the destination, and the file is renamed into place only when all of them match. A bad
 * download (too long, too short, wrong hash, transport error) leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { HASH_ALGORITHMS, HashMismatchError, LengthMismatchError } from '@reflash/metadata';
import type { TargetFile } from '@reflash/metadata';
import { withAtomicFile } from './atomic.js';

/** Where the bytes come from: `url` in chunks, failing past `maxLength` bytes. */
export interface ByteStreamSource {
  stream(url: string, maxLength: number): AsyncIterable<Uint8Array>;
}

/** Incremental length + hash check against a TargetFile. */
export class TargetDigest {
  readonly #target: TargetFile;
  readonly #hashes: Array<{ alg: string; want: string; hash: Hash }> = [];
  #length = 0;

  constructor(target: TargetFile) {
    this.#target = target;
    for (const alg of HASH_ALGORITHMS) {
      const want = target.hashes[alg];
      if (want !== undefined) this.#hashes.push({ alg, want: want.toLowerCase(), hash: createHash(alg) });
    }
  }

  update(chunk: Uint8Array): void {
    this.#length += chunk.byteLength;
    // TUF 5.7.3: never more than the trusted length (endless data).
    if (this.#length > this.#target.length) {
      throw new LengthMismatchError(`target ${this.#target.path}: more than the expected ${this.#target.length} bytes`);
    }
    for (const h of this.#hashes) h.hash.update(chunk);
  }

  /** Throws LengthMismatchError or HashMismatchError unless the bytes seen match the target. */
  verify(): void {
    const what = `target ${this.#target.path}`;
    if (this.#length !== this.#target.length) throw new LengthMismatchError(`${what}: expected ${this.#target.length} bytes, got ${this.#length}`);
    // Like checkLengthAndHashes: at least one known algorithm, and all known ones must match.
    if (this.#hashes.length === 0) throw new HashMismatchError(`${what}: no supported hash algorithm (have ${Object.keys(this.#target.hashes).join(', ')})`);
    for (const h of this.#hashes) {
      if (h.hash.digest('hex') !== h.want) throw new HashMismatchError(`${what}: ${h.alg} mismatch`);
    }
  }
}

/** Download `url` to `dest`, verified against `target`; `dest` appears only if it matches. */
export async function downloadTarget(source: ByteStreamSource, url: string, target: TargetFile, dest: string): Promise<void> {
  await withAtomicFile(dest, async (file) => {
    const digest = new TargetDigest(target);
    for await (const chunk of source.stream(url, target.length)) {
      digest.update(chunk);
      await file.write(chunk);
    }
    digest.verify();
  });
}

/** True when `path` exists and has exactly the target's length and hashes (a cached copy). */
export async function fileMatchesTarget(path: string, target: TargetFile): Promise<boolean> {
  const digest = new TargetDigest(target);
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) digest.update(chunk);
    digest.verify();
    return true;
  } catch (err) {
    // Absent or different: not cached. Any other error (permissions, a directory) is reported.
    if (err instanceof LengthMismatchError || err instanceof HashMismatchError) return false;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

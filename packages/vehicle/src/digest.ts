/**
 * Incremental length and hash checks of an image while it streams (TUF 5.7.3; Uptane 4.3.3
 * endless data: never more than the trusted length is accepted, the excess is refused as soon as
 * it arrives). At least one known algorithm must be listed, and every known one must match.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { HASH_ALGORITHMS, HashMismatchError, LengthMismatchError } from '@reflash/metadata';
import { HASH_CHUNK_BYTES, fileChunks } from './io/file-chunks.js';

/** What an image is: its name, length and hashes (from verified metadata). */
export interface ImageInfo {
  readonly filepath: string;
  readonly length: number;
  readonly hashes: Readonly<Record<string, string>>;
  /** Uptane release counter of the image, when the metadata names one */
  readonly releaseCounter?: number;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Same length and the same value for every hash both name (at least one in common). */
export function sameImage(a: Pick<ImageInfo, 'length' | 'hashes'>, b: Pick<ImageInfo, 'length' | 'hashes'>): boolean {
  if (a.length !== b.length) return false;
  let common = 0;
  for (const [alg, v] of Object.entries(a.hashes)) {
    const w = b.hashes[alg];
    if (w === undefined) continue;
    common++;
    if (w.toLowerCase() !== v.toLowerCase()) return false;
  }
  return common > 0;
}

export class StreamingDigest {
  readonly #image: ImageInfo;
  readonly #hashes: Array<{ alg: string; want: string; hash: Hash }> = [];
  #length = 0;

  constructor(image: ImageInfo) {
    this.#image = image;
    for (const alg of HASH_ALGORITHMS) {
      const want = image.hashes[alg];
      if (want !== undefined) this.#hashes.push({ alg, want: want.toLowerCase(), hash: createHash(alg) });
    }
    if (this.#hashes.length === 0) {
      throw new HashMismatchError(`${image.filepath}: no supported hash algorithm (have ${Object.keys(image.hashes).join(', ')})`);
    }
  }

  get length(): number {
    return this.#length;
  }

  /** Throws LengthMismatchError as soon as more bytes than the trusted length arrive. */
  update(chunk: Uint8Array): void {
    if (this.#length + chunk.byteLength > this.#image.length) {
      throw new LengthMismatchError(`${this.#image.filepath}: more than the expected ${this.#image.length} bytes (endless data)`);
    }
    this.#length += chunk.byteLength;
    for (const h of this.#hashes) h.hash.update(chunk);
  }

  /** Throws LengthMismatchError or HashMismatchError unless the bytes seen are the image. */
  verify(): void {
    const what = this.#image.filepath;
    if (this.#length !== this.#image.length) throw new LengthMismatchError(`${what}: expected ${this.#image.length} bytes, got ${this.#length}`);
    for (const h of this.#hashes) {
      if (h.hash.digest('hex') !== h.want) throw new HashMismatchError(`${what}: ${h.alg} mismatch`);
    }
  }
}

/** Feed the first `limit` bytes of a file (all if undefined) into `digest`. */
export async function digestFile(path: string, digest: StreamingDigest, limit?: number): Promise<void> {
  for await (const chunk of fileChunks(path, { chunkBytes: HASH_CHUNK_BYTES, ...(limit === undefined ? {} : { limit }) })) digest.update(chunk);
}

/** True when the file at `path` is exactly `image` (length and hashes). */
export async function fileIsImage(path: string, image: ImageInfo): Promise<boolean> {
  const d = new StreamingDigest(image);
  try {
    await digestFile(path, d);
    d.verify();
    return true;
  } catch (err) {
    if (err instanceof LengthMismatchError || err instanceof HashMismatchError) return false;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** SHA-256 of a whole file (hex). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fileChunks(path, { chunkBytes: HASH_CHUNK_BYTES })) h.update(chunk);
  return h.digest('hex');
}

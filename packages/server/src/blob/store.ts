/**
 * Content-addressed blob store on the local file system (the embedded default). An upload is
 * streamed to a temporary file in the same folder while SHA-256 and SHA-512 are computed; it
 * must be exactly the declared length; the file is fsynced and renamed into place under its
 * SHA-256 only when complete. A failed upload leaves nothing behind. An image is never buffered
 * whole in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ApiError } from '../errors.js';

export interface StoredBlob {
  readonly key: string;
  readonly length: number;
  readonly sha256: string;
  readonly sha512: string;
}

export interface BlobStore {
  /** Store a stream of exactly `declaredLength` bytes. */
  put(body: Readable, declaredLength: number, expectedSha256?: string): Promise<StoredBlob>;
  /** Read bytes [start, end] inclusive (whole blob when omitted). */
  open(key: string, range?: { start: number; end: number }): Readable;
  size(key: string): Promise<number | undefined>;
  remove(key: string): Promise<void>;
}

const KEY = /^[0-9a-f]{64}$/;

export class FsBlobStore implements BlobStore {
  constructor(readonly dir: string) {}

  #path(key: string): string {
    if (!KEY.test(key)) throw new ApiError('NOT_FOUND', 'bad blob key');
    return join(this.dir, key.slice(0, 2), key);
  }

  async put(body: Readable, declaredLength: number, expectedSha256?: string): Promise<StoredBlob> {
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    const tmp = join(this.dir, 'tmp', `${randomBytes(12).toString('hex')}.part`);
    const h256 = createHash('sha256');
    const h512 = createHash('sha512');
    let length = 0;
    const out = createWriteStream(tmp, { flags: 'wx' });
    try {
      await new Promise<void>((resolveP, rejectP) => {
        let failed = false;
        const fail = (err: Error): void => {
          if (failed) return;
          failed = true;
          body.unpipe(out);
          body.resume();
          out.destroy();
          rejectP(err);
        };
        body.on('data', (chunk: Buffer) => {
          length += chunk.length;
          // Never trust the declared size: stop as soon as the stream exceeds it.
          if (length > declaredLength) fail(new ApiError('PAYLOAD_TOO_LARGE', `upload exceeds its declared length of ${declaredLength} bytes`));
          else {
            h256.update(chunk);
            h512.update(chunk);
          }
        });
        body.on('error', fail);
        body.on('aborted', () => fail(new ApiError('UPLOAD_INCOMPLETE', 'the client aborted the upload')));
        out.on('error', fail);
        out.on('finish', () => {
          if (failed) return;
          if (length !== declaredLength) fail(new ApiError('UPLOAD_INCOMPLETE', `received ${length} of ${declaredLength} bytes`));
          else resolveP();
        });
        body.pipe(out);
      });
      const sha256 = h256.digest('hex');
      const sha512 = h512.digest('hex');
      if (expectedSha256 !== undefined && expectedSha256.toLowerCase() !== sha256) throw new ApiError('UPLOAD_MISMATCH', 'the uploaded bytes do not match the declared SHA-256');
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      const final = this.#path(sha256);
      await mkdir(join(this.dir, sha256.slice(0, 2)), { recursive: true });
      await rename(tmp, final);
      const dh = await open(join(this.dir, sha256.slice(0, 2)), 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
      return { key: sha256, length, sha256, sha512 };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  open(key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.#path(key), range === undefined ? {} : { start: range.start, end: range.end });
  }

  /**
   * Remove partial uploads left by a process that was killed mid-upload (never acknowledged, so
   * nothing is lost). Call at start, before serving.
   */
  async removePartialUploads(): Promise<number> {
    const dir = join(this.dir, 'tmp');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const partial = names.filter((n) => n.endsWith('.part'));
    await Promise.all(partial.map((n) => rm(join(dir, n), { force: true })));
    return partial.length;
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.#path(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }
}

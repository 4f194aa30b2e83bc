/**
 * Image download on the Primary (TUF 5.7.3; Uptane 4.3.3 endless data and slow retrieval;
 * CONVENTIONS.md §7), streamed to `<dest>.part`:
 * - bounded by the length in the verified metadata: one byte more aborts the transfer
 *   (LengthMismatchError, not retried: the server is not to be trusted);
 * - SHA-256/SHA-512 computed while streaming; a mismatch deletes the partial file
 *   (HashMismatchError; after a resumed transfer it is retried once from zero, since the bytes
 *   kept on disk may be what was wrong);
 * - interrupted transfers (network errors, a body that ends early) are resumed with HTTP Range
 *   from the bytes already on disk, which are re-hashed first; retried with bounded
 *   exponential backoff; a server that ignores the range (200) restarts from zero;
 * - the complete, verified file is renamed to `dest` (and the folder fsynced); a `dest` that
 *   already holds the image is not downloaded again.
 */
import { open, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DownloadError, HashMismatchError, LengthMismatchError } from '@reflash/metadata';
import type { BackoffPolicy } from '../config.js';
import { StreamingDigest, digestFile, fileIsImage } from '../digest.js';
import type { ImageInfo } from '../digest.js';
import { fsyncDir } from '../io/atomic.js';
import { isErrno } from '../io/json-file.js';
import { backoffDelay } from './backoff.js';
import type { Sleep } from './backoff.js';
import type { Backend } from './ports.js';

export interface DownloadResult {
  /** the file was already complete */
  readonly cached: boolean;
  /** the `resumeFrom` of every request made, in order */
  readonly requests: readonly number[];
  /** body bytes received over all requests */
  readonly bytesTransferred: number;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 0;
    throw err;
  }
}

/** A transfer that ended before the image did (connection dropped without an error). */
export class TruncatedDownloadError extends DownloadError {
  constructor(message: string) {
    super('DOWNLOAD_TRUNCATED', message);
  }
}

export async function downloadImage(
  backend: Pick<Backend, 'downloadImage'>, image: ImageInfo, dest: string,
  opts: { readonly policy: BackoffPolicy; readonly sleep: Sleep; readonly onProgress?: (bytesOnDisk: number) => Promise<void> },
): Promise<DownloadResult> {
  if (await fileIsImage(dest, image)) return { cached: true, requests: [], bytesTransferred: 0 };
  const part = `${dest}.part`;
  const requests: number[] = [];
  let transferred = 0;
  let failures = 0;
  let freshAfterMismatch = false;
  for (;;) {
    let have = await sizeOf(part);
    if (have > image.length) {
      await truncate(part, 0);
      have = 0;
    }
    // Re-hash what is on disk: the hashes cover the whole image, not only this transfer.
    let digest = new StreamingDigest(image);
    await digestFile(part, digest, have);
    try {
      requests.push(have);
      const res = await backend.downloadImage(image, { resumeFrom: have });
      if (res.start !== have && res.start !== 0) throw new DownloadError('DOWNLOAD_BAD_RANGE', `${image.filepath}: asked from byte ${have}, got from ${res.start}`);
      if (res.start === 0 && have > 0) {
        digest = new StreamingDigest(image); // whole image sent: start over
        have = 0;
      }
      const fh = await open(part, have === 0 ? 'w' : 'a');
      try {
        for await (const chunk of res.body) {
          // Endless data: refused before the excess is written (and the connection dropped).
          digest.update(chunk);
          transferred += chunk.byteLength;
          let off = 0;
          while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (digest.length < image.length) throw new TruncatedDownloadError(`${image.filepath}: transfer ended at byte ${digest.length} of ${image.length}`);
      digest.verify();
      await rename(part, dest);
      await fsyncDir(dirname(dest));
      return { cached: false, requests, bytesTransferred: transferred };
    } catch (err) {
      if (err instanceof LengthMismatchError) {
        await rm(part, { force: true });
        throw err;
      }
      if (err instanceof HashMismatchError) {
        await rm(part, { force: true });
        if (have > 0 && !freshAfterMismatch) {
          freshAfterMismatch = true;
          continue;
        }
        throw err;
      }
      if (!(err instanceof DownloadError)) throw err;
      failures++;
      if (failures >= opts.policy.maxAttempts) throw err;
      await opts.onProgress?.(await sizeOf(part));
      await opts.sleep(backoffDelay(opts.policy, failures - 1));
    }
  }
}

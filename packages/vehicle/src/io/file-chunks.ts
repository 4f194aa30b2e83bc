/**
 * Reading a file in chunks through ONE reused buffer (FileHandle.read at explicit positions), for
 * the image passes of the Primary and the ECUs (hashing, readback, measured boot, transfer into a
 * bank). A fs.ReadStream allocates a fresh buffer per read: over a 1 GiB image that is 16k
 * ArrayBuffers of 64 KiB, which V8 collects only after up to 32 MiB of them have piled up in
 * its young generation (issue 4: the Primary's peak RSS).
 * Each chunk is a view of the buffer, valid only until the next one is asked for: consume it
 * (hash, write) before reading on, or copy it.
 */
import { open } from 'node:fs/promises';

/** Default chunk size of the file passes. */
export const FILE_CHUNK_BYTES = 64 * 1024;
/** Chunk size of the passes that only hash (fewer reads per byte; still one buffer). */
export const HASH_CHUNK_BYTES = 256 * 1024;

export interface FileChunksOptions {
  /** bytes per chunk (the buffer's size); default FILE_CHUNK_BYTES */
  readonly chunkBytes?: number;
  /** the first byte to read (default 0) */
  readonly start?: number;
  /** stop after this many bytes (default: to the end of the file) */
  readonly limit?: number;
}

export async function* fileChunks(path: string, opts: FileChunksOptions = {}): AsyncGenerator<Uint8Array> {
  if (opts.limit === 0) return;
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(opts.chunkBytes ?? FILE_CHUNK_BYTES);
    const start = opts.start ?? 0;
    let pos = start;
    for (;;) {
      const want = opts.limit === undefined ? buf.length : Math.min(buf.length, start + opts.limit - pos);
      if (want <= 0) return;
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

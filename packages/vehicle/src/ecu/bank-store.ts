/**
 * The ECU's flash, simulated by files in its state folder: `bank-a.img`, `bank-b.img` and the
 * bank record `banks.json` (written atomically; CONVENTIONS.md §8). Image bytes go straight
 * into a bank file, as into flash: that is safe only because the bank is marked 'bad' (and the
 * record persisted) before the first byte is written (bank-record.ts).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HashMismatchError, LengthMismatchError } from '@reflash/metadata';
import { StreamingDigest } from '../digest.js';
import type { ImageInfo } from '../digest.js';
import { HASH_CHUNK_BYTES, fileChunks } from '../io/file-chunks.js';
import { requireJsonFile, writeJsonFile } from '../io/json-file.js';
import { checkRecord, parseBankRecord } from './bank-record.js';
import type { BankId, BankRecord } from './bank-record.js';

export interface Measurement {
  /** SHA-256 of the bank's bytes (hex) */
  readonly sha256: string;
  /** the bytes are exactly the recorded image (length and every known hash) */
  readonly intact: boolean;
}

export class BankStore {
  readonly dir: string;
  /** simulated flash programming time per chunk written (ms); 0 = as fast as the disk */
  readonly writeDelayMs: number;

  constructor(dir: string, writeDelayMs = 0) {
    this.dir = dir;
    this.writeDelayMs = writeDelayMs;
  }

  get recordPath(): string {
    return join(this.dir, 'banks.json');
  }

  bankPath(id: BankId): string {
    return join(this.dir, `bank-${id}.img`);
  }

  async load(): Promise<BankRecord> {
    return parseBankRecord(await requireJsonFile(this.recordPath), this.recordPath);
  }

  async save(r: BankRecord): Promise<void> {
    await writeJsonFile(this.recordPath, checkRecord(r));
  }

  /**
   * Program `image` into bank `id` from `chunks`: at most `image.length` bytes are accepted
   * (endless data), the hashes are computed while writing, and the bytes are fsynced. Throws
   * LengthMismatchError / HashMismatchError when the stream is not the image.
   */
  async write(id: BankId, chunks: AsyncIterable<Uint8Array>, image: ImageInfo): Promise<void> {
    const digest = new StreamingDigest(image);
    const fh = await open(this.bankPath(id), 'w');
    try {
      for await (const chunk of chunks) {
        digest.update(chunk);
        let offset = 0;
        while (offset < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, offset, chunk.byteLength - offset);
          offset += bytesWritten;
        }
        if (this.writeDelayMs > 0) await sleep(this.writeDelayMs);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    digest.verify();
  }

  /** Read a bank back: its SHA-256 and whether it is exactly `image`. */
  async measure(id: BankId, image: ImageInfo | null): Promise<Measurement> {
    const sha = createHash('sha256');
    const digest = image === null ? undefined : new StreamingDigest(image);
    let intact = digest !== undefined;
    try {
      // One reused read buffer (no per-chunk allocation over a whole bank).
      for await (const chunk of fileChunks(this.bankPath(id), { chunkBytes: HASH_CHUNK_BYTES })) {
        sha.update(chunk);
        if (intact) {
          try {
            digest!.update(chunk);
          } catch (err) {
            if (!(err instanceof LengthMismatchError)) throw err;
            intact = false; // longer than the image: not intact (keep hashing for the measurement)
          }
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { sha256: createHash('sha256').digest('hex'), intact: false };
      throw err;
    }
    if (intact) {
      try {
        digest!.verify();
      } catch (err) {
        if (!(err instanceof LengthMismatchError || err instanceof HashMismatchError)) throw err;
        intact = false;
      }
    }
    return { sha256: sha.digest('hex'), intact };
  }
}

/**
 * Group commit for appends: concurrent appends wait in a queue and are written together, one
 * transaction per batch, so the cost of a durable commit (an fsync) is shared. A batch starts
 * on the next turn of the event loop after the first append (setImmediate: requests already
 * read from sockets join it), and while one batch commits, new appends gather for the next.
 * An append resolves only after its batch committed: its index is final and the entry durable.
 */
import { leafHash } from '@reflash/log';
import type { LogStorage } from './storage.js';

interface Waiting {
  readonly entry: Uint8Array;
  readonly leafHash: Uint8Array;
  resolve(index: number): void;
  reject(err: unknown): void;
}

export interface SequencerOptions {
  /** most entries per transaction */
  readonly maxBatch?: number;
  /** called after each committed batch (e.g. to schedule integration) */
  readonly onCommit?: (firstIndex: number, count: number) => void;
  readonly now: () => number;
}

export class Sequencer {
  readonly #storage: LogStorage;
  readonly #opts: SequencerOptions;
  readonly #maxBatch: number;
  #queue: Waiting[] = [];
  #running: Promise<void> | undefined;

  constructor(storage: LogStorage, opts: SequencerOptions) {
    this.#storage = storage;
    this.#opts = opts;
    this.#maxBatch = opts.maxBatch ?? 5000;
  }

  /** Appends one entry; resolves with its index once committed. */
  append(entry: Uint8Array): Promise<{ index: number; leafHash: Uint8Array }> {
    const hash = leafHash(entry);
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ entry, leafHash: hash, resolve, reject });
      this.#running ??= this.#run();
    }).then((index) => ({ index, leafHash: hash }));
  }

  /** Resolves when every append queued so far has committed (or failed). */
  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        await new Promise<void>((r) => setImmediate(r));
        const batch = this.#queue.slice(0, this.#maxBatch);
        this.#queue = this.#queue.slice(batch.length);
        let first: number;
        try {
          first = await this.#storage.appendLeaves(batch, this.#opts.now());
        } catch (err) {
          // Not committed: every append of the batch fails with the cause (none is acknowledged).
          for (const w of batch) w.reject(err);
          continue;
        }
        batch.forEach((w, i) => w.resolve(first + i));
        this.#opts.onCommit?.(first, batch.length);
      }
    } finally {
      this.#running = undefined;
    }
  }
}

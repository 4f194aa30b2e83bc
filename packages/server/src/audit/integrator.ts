/**
 * The integrator: moves appended leaves under a new signed checkpoint. One step (run by the
 * caller under the cross-process lock 'reflash:audit-log'):
 *  1. the latest stored checkpoint must verify with the log key and match its columns, and not
 *     be older than one this process signed;
 *  2. scrub: replay up to `scrubBudget` older leaves from their entry bytes and compare every
 *     recomputed leaf hash and node with storage; a finished pass must give the signed root;
 *  3. in one transaction: load the right edge from stored nodes and fold it into the signed
 *     root; recompute each new leaf hash from its entry bytes (must equal the stored one);
 *     append them to the compact range and store the new nodes; recompute the new root from
 *     stored nodes (rootAt) and compare; build a consistency proof from storage and verify it
 *     against the signed previous root; only then sign and store the checkpoint.
 * Any disagreement is a LogIntegrityError: the step is rolled back, an alert is logged and
 * counted, and the integrator refuses to sign until the process restarts.
 */
import {
  CompactRange, LogError, LogStorageError, consistencyProof, leafHash, openCheckpoint, rootAt, signCheckpoint, verifyConsistency,
} from '@reflash/log';
import type { NoteSigner, NoteVerifier, StoredNode } from '@reflash/log';
import type { Logger } from 'pino';
import type { Metrics } from '../plugins/metrics.js';
import { LogIntegrityError } from './integrity.js';
import type { AlertCode } from './integrity.js';
import type { LogStorage, StoredCheckpoint, StoredLeaf } from './storage.js';

export interface IntegrationResult {
  readonly previousSize: number;
  /** size of the latest signed checkpoint after the step */
  readonly size: number;
  /** true if this step signed a new checkpoint */
  readonly signed: boolean;
  /** set when the log refuses to sign (now or since an earlier alert) */
  readonly alert?: { readonly code: AlertCode; readonly message: string };
}

export interface IntegratorOptions {
  readonly origin: string;
  readonly signer: NoteSigner;
  readonly verifier: NoteVerifier;
  readonly now: () => number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** most leaves per checkpoint step */
  readonly maxBatch?: number;
  /** older leaves re-verified per step */
  readonly scrubBudget?: number;
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Storage faults (a missing node) met while checking are integrity alerts of `code`. */
async function guard<T>(code: AlertCode, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LogStorageError) throw new LogIntegrityError(code, `${what}: ${err.message}`, {}, { cause: err });
    throw err;
  }
}

export class Integrator {
  readonly #storage: LogStorage;
  readonly #o: IntegratorOptions;
  readonly #maxBatch: number;
  readonly #scrubBudget: number;
  #halted: LogIntegrityError | undefined;
  #lastSigned: { size: number; root: Uint8Array } | undefined;
  /** the scrub pass: a compact range replayed from entry bytes, size = next leaf to re-verify */
  #scrub = CompactRange.empty();

  constructor(storage: LogStorage, opts: IntegratorOptions) {
    this.#storage = storage;
    this.#o = opts;
    this.#maxBatch = opts.maxBatch ?? 16_384;
    this.#scrubBudget = opts.scrubBudget ?? 4096;
  }

  get halted(): LogIntegrityError | undefined {
    return this.#halted;
  }

  /** Signs the empty tree if the log has no checkpoint yet (first start). */
  async ensureInitialCheckpoint(): Promise<void> {
    if (await this.#storage.latestCheckpoint() !== undefined) return;
    const root = CompactRange.empty().root();
    const note = signCheckpoint({ origin: this.#o.origin, size: 0, rootHash: root, extensions: [] }, [this.#o.signer]);
    await this.#storage.db.kysely.transaction().execute(async (trx) => {
      if (await this.#storage.latestCheckpoint(trx) === undefined) await this.#storage.insertCheckpoint({ size: 0, root, note, createdAt: this.#o.now() }, trx);
    });
  }

  /** One step; the caller holds the cross-process integration lock. */
  async step(): Promise<IntegrationResult> {
    if (this.#halted !== undefined) return this.#refused(this.#lastSigned?.size ?? 0);
    try {
      return await this.#step();
    } catch (err) {
      if (!(err instanceof LogIntegrityError)) throw err;
      this.#halted = err;
      this.#o.log.error({ alert: err.code, details: err.details, err }, `accountability log integrity alert ${err.code}: refusing to sign checkpoints: ${err.message}`);
      this.#o.metrics.logAlerts.inc({ code: err.code });
      return this.#refused(this.#lastSigned?.size ?? 0);
    }
  }

  #refused(size: number): IntegrationResult {
    const h = this.#halted!;
    return { previousSize: size, size, signed: false, alert: { code: h.code, message: h.message } };
  }

  async #step(): Promise<IntegrationResult> {
    const prev = await this.#trustedLatest();
    await this.#scrubStep(prev);
    const leaves = contiguousFrom(prev.size, await this.#storage.readLeaves(prev.size, prev.size + this.#maxBatch));
    if (leaves.length === 0) return { previousSize: prev.size, size: prev.size, signed: false };
    const size = prev.size + leaves.length;
    const root = await this.#storage.db.kysely.transaction().execute(async (trx) => {
      const reader = this.#storage.nodeReader(trx);
      // The right edge of the signed tree, from storage, must fold into the signed root.
      // Nodes beyond the latest checkpoint mean a newer checkpoint was removed (rollback).
      if (await this.#storage.hasNode(0, prev.size, trx)) {
        throw new LogIntegrityError('LOG_TAMPER_ROLLBACK', `leaf ${prev.size} is already integrated but the latest stored checkpoint has size ${prev.size}`, { stored: prev.size });
      }
      const range = await guard('LOG_TAMPER_NODE', 'right edge', () => CompactRange.load(reader, prev.size));
      if (!eq(range.root(), prev.root)) throw new LogIntegrityError('LOG_TAMPER_NODE', `the stored right edge of tree ${prev.size} does not fold into its signed root`, { size: prev.size });
      const nodes: StoredNode[] = [];
      for (const leaf of leaves) {
        const h = leafHash(leaf.entry);
        if (!eq(h, leaf.leafHash)) throw new LogIntegrityError('LOG_TAMPER_LEAF', `entry ${leaf.index} does not hash to its stored leaf hash`, { index: leaf.index });
        nodes.push(...range.append(h));
      }
      await this.#storage.insertNodes(nodes, trx);
      const root = range.root();
      // RFC 9162 §2.1.1 again, this time from the stored nodes.
      const stored = await guard('LOG_TAMPER_ROOT', 'root from storage', () => rootAt(reader, size));
      if (!eq(stored, root)) throw new LogIntegrityError('LOG_TAMPER_ROOT', `the root of tree ${size} from stored nodes differs from the computed root`, { size, computed: hex(root), stored: hex(stored) });
      // RFC 9162 §2.1.4: the new tree extends the signed one, proven from storage.
      if (prev.size > 0) {
        const proof = await guard('LOG_TAMPER_CONSISTENCY', 'consistency proof', () => consistencyProof(reader, prev.size, size));
        try {
          verifyConsistency(prev.size, size, proof, prev.root, root);
        } catch (err) {
          if (!(err instanceof LogError)) throw err;
          throw new LogIntegrityError('LOG_TAMPER_CONSISTENCY', `stored nodes do not prove tree ${size} consistent with signed tree ${prev.size}: ${err.message}`, { from: prev.size, to: size }, { cause: err });
        }
      }
      const note = signCheckpoint({ origin: this.#o.origin, size, rootHash: root, extensions: [] }, [this.#o.signer]);
      await this.#storage.insertCheckpoint({ size, root, note, createdAt: this.#o.now() }, trx);
      return root;
    });
    this.#lastSigned = { size, root };
    this.#o.metrics.logSize.set(size);
    return { previousSize: prev.size, size, signed: true };
  }

  /** The latest stored checkpoint, checked against the log key and what this process signed. */
  async #trustedLatest(): Promise<StoredCheckpoint> {
    const cp = await this.#storage.latestCheckpoint();
    if (cp === undefined) throw new LogIntegrityError('LOG_TAMPER_CHECKPOINT', 'no stored checkpoint (the log signs the empty tree at first start)');
    try {
      const { checkpoint } = openCheckpoint(cp.note, { origin: this.#o.origin, verifiers: [this.#o.verifier] });
      if (checkpoint.size !== cp.size || !eq(checkpoint.rootHash, cp.root)) throw new LogIntegrityError('LOG_TAMPER_CHECKPOINT', `stored checkpoint ${cp.size}: size or root column differs from the signed note`, { size: cp.size });
    } catch (err) {
      if (!(err instanceof LogError)) throw err;
      throw new LogIntegrityError('LOG_TAMPER_CHECKPOINT', `stored checkpoint ${cp.size} does not verify: ${err.message}`, { size: cp.size }, { cause: err });
    }
    const last = this.#lastSigned;
    if (last !== undefined && cp.size < last.size) throw new LogIntegrityError('LOG_TAMPER_ROLLBACK', `the latest stored checkpoint (${cp.size}) is older than the signed ${last.size}`, { stored: cp.size, signed: last.size });
    if (last !== undefined && cp.size === last.size && !eq(cp.root, last.root)) throw new LogIntegrityError('LOG_TAMPER_CHECKPOINT', `stored checkpoint ${cp.size} has another root than the one signed`, { size: cp.size });
    return cp;
  }

  /** Re-verifies the next `scrubBudget` leaves of the signed tree from their entry bytes. */
  async #scrubStep(prev: StoredCheckpoint): Promise<void> {
    const s = this.#scrub.size <= prev.size ? this.#scrub : CompactRange.empty();
    const begin = s.size;
    const end = Math.min(prev.size, begin + this.#scrubBudget);
    if (end > begin) {
      const leaves = await this.#storage.readLeaves(begin, end);
      if (leaves.length !== end - begin) throw new LogIntegrityError('LOG_TAMPER_LEAF', `signed leaves [${begin}, ${end}) are not all stored`, { begin, end });
      const byLevel = new Map<number, StoredNode[]>();
      for (const leaf of leaves) {
        const h = leafHash(leaf.entry);
        if (!eq(h, leaf.leafHash)) throw new LogIntegrityError('LOG_TAMPER_LEAF', `entry ${leaf.index} does not hash to its stored leaf hash`, { index: leaf.index });
        for (const n of s.append(h)) {
          const list = byLevel.get(n.id.level) ?? [];
          list.push(n);
          byLevel.set(n.id.level, list);
        }
      }
      // The nodes completed at one level form one index range: one read per level.
      for (const [level, list] of byLevel) {
        const first = list[0]!.id.index;
        const stored = await guard('LOG_TAMPER_NODE', 'scrub', () => this.#storage.readNodeRange(level, first, first + list.length));
        list.forEach((n, i) => {
          if (!eq(n.hash, stored[i]!)) throw new LogIntegrityError('LOG_TAMPER_NODE', `stored node (${level}, ${n.id.index}) differs from the hash recomputed from the entries`, { level, index: n.id.index });
        });
      }
    }
    if (s.size === prev.size) {
      if (!eq(s.root(), prev.root)) throw new LogIntegrityError('LOG_TAMPER_ROOT', `the entries of tree ${prev.size} do not hash to its signed root`, { size: prev.size });
      this.#scrub = CompactRange.empty(); // pass complete: the next step starts a new one
    } else {
      this.#scrub = s;
    }
  }
}

/** The leaves from index `from` on without a gap (a later appender may not have committed yet). */
function contiguousFrom(from: number, leaves: readonly StoredLeaf[]): StoredLeaf[] {
  let n = 0;
  while (n < leaves.length && leaves[n]!.index === from + n) n++;
  return leaves.slice(0, n);
}

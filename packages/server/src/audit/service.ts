/**
 * `ctx.audit`: the accountability log service (src/audit/README.md). Feature code records
 * events with `append(auditEvents.xxx({...}))`; the answer comes once the entry is durable and
 * carries its final index. `receipt(index)` gives the offline proof (c2sp.org/tlog-proof)
 * against the first signed checkpoint that contains it, integrating first if needed.
 * A background integrator (start/close) signs new checkpoints every logIntegrateIntervalMs
 * while entries are pending.
 */
import {
  checkCosignatures, combineProof, consistencyProof, createReceipt, inclusionProofNodes, parseCosignerVerifierKey, parseNote, parseVerifierKey,
} from '@reflash/log';
import type { NoteVerifier } from '@reflash/log';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.js';
import { withLock } from '../db/lock.js';
import { ApiError } from '../errors.js';
import type { Metrics } from '../plugins/metrics.js';
import { encodeEntry } from './events.js';
import type { AuditEvent } from './events.js';
import type { IntegrationResult } from './integrator.js';
import { Integrator } from './integrator.js';
import { loadLogKeys } from './keys.js';
import { Sequencer } from './sequencer.js';
import { LogStorage } from './storage.js';
import type { StoredCheckpoint } from './storage.js';
import { VinHasher } from './vin-hash.js';

export const INTEGRATION_LOCK = 'reflash:audit-log';

export interface AuditLogOptions {
  readonly db: Db;
  readonly masterKey: string;
  readonly origin: string;
  readonly now: () => number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** background integration period (ms); default 500 */
  readonly integrateIntervalMs?: number;
  readonly maxBatch?: number;
  readonly scrubBudget?: number;
}

export interface AppendResult {
  /** the entry's final leaf index */
  readonly index: number;
  /** RFC 9162 leaf hash, hex */
  readonly leafHash: string;
  /** the entry bytes as logged (canonical JSON) */
  readonly entry: Uint8Array;
}

export interface Proof {
  readonly index: number;
  readonly treeSize: number;
  readonly leafHash: Uint8Array;
  readonly proof: readonly Uint8Array[];
  /** the signed checkpoint of treeSize the proof was built against (with cosignatures) */
  readonly checkpoint: string;
}

export interface LogStatus {
  readonly origin: string;
  readonly verifierKey: string;
  readonly size: number;
  readonly appended: number;
  readonly lastCheckpointAt: number;
  readonly halted: { readonly code: string; readonly message: string } | null;
}

/** The served checkpoint text: the signed note plus witness cosignature lines. */
export function checkpointText(cp: StoredCheckpoint): string {
  return cp.note + cp.cosignatures;
}

export class AuditLog {
  readonly origin: string;
  /** the public verifier key string for `reflash audit verify --log-key` */
  readonly verifierKey: string;
  readonly storage: LogStorage;
  readonly #o: AuditLogOptions;
  readonly #vin: VinHasher;
  readonly #sequencer: Sequencer;
  readonly #integrator: Integrator;
  readonly #verifier: NoteVerifier;
  #integrating: Promise<IntegrationResult> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(o: AuditLogOptions, keys: Awaited<ReturnType<typeof loadLogKeys>>) {
    this.#o = o;
    this.origin = keys.origin;
    this.verifierKey = keys.verifierKey;
    this.storage = new LogStorage(o.db);
    this.#vin = new VinHasher(keys.vinSalt);
    this.#verifier = parseVerifierKey(keys.verifierKey);
    this.#sequencer = new Sequencer(this.storage, { now: o.now, ...(o.maxBatch === undefined ? {} : { maxBatch: o.maxBatch }) });
    this.#integrator = new Integrator(this.storage, {
      origin: keys.origin, signer: keys.signer, verifier: this.#verifier, now: o.now, log: o.log, metrics: o.metrics,
      ...(o.scrubBudget === undefined ? {} : { scrubBudget: o.scrubBudget }),
    });
  }

  /** Loads (or on first start creates) the log key and VIN salt, and signs the empty tree once. */
  static async open(o: AuditLogOptions): Promise<AuditLog> {
    const keys = await loadLogKeys(o.db, o.masterKey, o.origin, o.now());
    const audit = new AuditLog(o, keys);
    await withLock(o.db, INTEGRATION_LOCK, () => audit.#integrator.ensureInitialCheckpoint());
    return audit;
  }

  /** The salted hash that stands for `vin` in entries (vin-hash.ts). */
  vinHash(vin: string): string {
    return this.#vin.hash(vin);
  }

  /** The entry bytes an event is logged as. */
  encode(event: AuditEvent): Uint8Array {
    return encodeEntry(event, { now: this.#o.now(), vinHash: (v) => this.#vin.hash(v) });
  }

  /**
   * Appends an event. Resolves once the entry is durably committed (group commit) with its final
   * index; it is under a signed checkpoint after the next integration (receipt() waits for it).
   * Throws AuditEventError for an entry over 65,535 bytes, a database error if not committed.
   */
  async append(event: AuditEvent): Promise<AppendResult> {
    return this.appendEntry(this.encode(event));
  }

  /** Appends pre-encoded entry bytes (tests, benchmarks, imports). */
  async appendEntry(entry: Uint8Array): Promise<AppendResult> {
    if (this.#closed) throw new Error('the audit log is closed');
    const { index, leafHash } = await this.#sequencer.append(entry);
    return { index, leafHash: Buffer.from(leafHash).toString('hex'), entry };
  }

  /**
   * Integrates every appended entry (in steps of at most maxBatch) under the cross-process lock
   * and returns the last step's result. Concurrent callers share one run.
   */
  integrate(): Promise<IntegrationResult> {
    this.#integrating ??= (async () => {
      try {
        return await withLock(this.#o.db, INTEGRATION_LOCK, async () => {
          let r = await this.#integrator.step();
          while (r.signed && r.alert === undefined && await this.storage.appendedSize() > r.size) r = await this.#integrator.step();
          return r;
        });
      } finally {
        this.#integrating = undefined;
      }
    })();
    return this.#integrating;
  }

  /** The latest signed checkpoint, once it contains leaf `index` (integrating first if needed). */
  async #latestContaining(index: number): Promise<StoredCheckpoint> {
    // A second attempt covers joining a run that started before this entry was committed.
    for (let attempt = 0; attempt < 3; attempt++) {
      const cp = await this.checkpoint();
      if (index < cp.size) return cp;
      if (attempt === 0 && index >= await this.storage.appendedSize()) throw new ApiError('LOG_ENTRY_NOT_FOUND', `no log entry ${index}`);
      const r = await this.integrate();
      if (r.alert !== undefined) throw new ApiError('LOG_HALTED', `the log refuses to sign after an integrity alert (${r.alert.code})`);
    }
    throw new ApiError('LOG_HALTED', `entry ${index} is not integrated yet`);
  }

  /**
   * A receipt (c2sp.org/tlog-proof@v1) for leaf `index`: the inclusion proof against the latest
   * signed checkpoint (verbatim, with its cosignatures), the entry bytes in `extra`.
   * Verify offline with `reflash audit verify-receipt` or @reflash/log verifyReceipt.
   */
  async receipt(index: number): Promise<string> {
    const cp = await this.#latestContaining(index);
    const [entry] = await this.storage.readEntries(index, index + 1);
    return createReceipt(this.storage.nodeReader(), index, checkpointText(cp), entry);
  }

  /** The latest signed checkpoint (or the one of `size`), as served. */
  async checkpoint(size?: number): Promise<StoredCheckpoint> {
    const cp = size === undefined ? await this.storage.latestCheckpoint() : await this.storage.checkpointAt(size);
    if (cp === undefined) throw new ApiError('LOG_CHECKPOINT_NOT_FOUND', size === undefined ? 'the log has no checkpoint' : `no signed checkpoint of size ${size}`);
    return cp;
  }

  /** Inclusion proof of leaf `index` in the latest signed tree, or in the signed tree of `size`. */
  async inclusionProof(index: number, size?: number): Promise<Proof> {
    const cp = await this.checkpoint(size);
    if (index >= cp.size) throw new ApiError('LOG_ENTRY_NOT_FOUND', `leaf ${index} is not in the signed tree of size ${cp.size}`);
    // RFC 9162 §2.1.3.1 from stored nodes: the proof's nodes and the leaf itself in one read.
    const nodes = inclusionProofNodes(index, cp.size);
    const hashes = await this.storage.readNodes([...nodes.ids, { level: 0, index }]);
    const leaf = hashes.pop()!;
    return { index, treeSize: cp.size, leafHash: leaf, proof: combineProof(nodes, hashes), checkpoint: checkpointText(cp) };
  }

  /** Inclusion proof of the leaf with this RFC 9162 leaf hash. */
  async inclusionProofByHash(hash: Uint8Array, size?: number): Promise<Proof> {
    const index = await this.storage.leafIndex(hash);
    if (index === undefined) throw new ApiError('LOG_ENTRY_NOT_FOUND', 'no entry with this leaf hash');
    return this.inclusionProof(index, size);
  }

  /** Consistency proof from tree size `from` to the signed tree `to` (default: the latest). */
  async consistencyProof(from: number, to?: number): Promise<{ from: number; to: number; proof: Uint8Array[]; checkpoint: string }> {
    const cp = await this.checkpoint(to);
    if (from < 1 || from > cp.size) throw new ApiError('LOG_BAD_RANGE', `from must be in [1, ${cp.size}]`);
    const proof = await consistencyProof(this.storage.nodeReader(), from, cp.size);
    return { from, to: cp.size, proof, checkpoint: checkpointText(cp) };
  }

  /**
   * Adds a witness cosignature line (c2sp.org/tlog-cosignature) to the stored checkpoint of
   * `size` after checking it against `witnessKey`; returns the checkpoint as now served.
   */
  async addCosignature(size: number, witnessKey: string, line: string): Promise<string> {
    const cp = await this.checkpoint(size);
    let ok: boolean;
    try {
      const witness = parseCosignerVerifierKey(witnessKey);
      const text = checkpointText(cp) + (line.endsWith('\n') ? line : `${line}\n`);
      const r = checkCosignatures(text, { witnesses: [witness], threshold: 1 });
      ok = r.valid.length === 1 && parseNote(text).signatures.length === parseNote(checkpointText(cp)).signatures.length + 1;
    } catch (err) {
      throw new ApiError('LOG_BAD_COSIGNATURE', (err as Error).message, undefined, { cause: err });
    }
    if (!ok) throw new ApiError('LOG_BAD_COSIGNATURE');
    const lines = cp.cosignatures + (line.endsWith('\n') ? line : `${line}\n`);
    await this.storage.setCosignatures(size, lines);
    return cp.note + lines;
  }

  async status(): Promise<LogStatus> {
    const [cp, appended] = await Promise.all([this.checkpoint(), this.storage.appendedSize()]);
    const h = this.#integrator.halted;
    return { origin: this.origin, verifierKey: this.verifierKey, size: cp.size, appended, lastCheckpointAt: cp.createdAt, halted: h === undefined ? null : { code: h.code, message: h.message } };
  }

  /** Starts the background integrator (server processes; tests call integrate() directly). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      void this.#tick();
    }, this.#o.integrateIntervalMs ?? 500);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      if (this.#integrator.halted !== undefined) return;
      const [cp, appended] = await Promise.all([this.storage.latestCheckpoint(), this.storage.appendedSize()]);
      if (cp !== undefined && appended > cp.size) await this.integrate();
    } catch (err) {
      if (!this.#closed) this.#o.log.warn({ err }, 'accountability log integration failed (will retry)');
    }
  }

  /** Stops the integrator and waits for queued appends and a running integration. Call before closing the database. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sequencer.drain();
    // A failed integration was already reported to whoever awaited it; closing only waits.
    await this.#integrating?.then(() => undefined, () => undefined);
  }
}

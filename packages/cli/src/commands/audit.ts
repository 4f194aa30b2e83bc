/**
 * `reflash audit`: the third-party verifier of the accountability log. It trusts only the log's
 * verifier key (and optionally k of n witness keys), never the operator:
 * - `verify --url URL --log-key KEY [--state FILE]`: fetch the signed checkpoint (C2SP
 *   tlog-checkpoint), check it against the one remembered in the state file (same size: same
 *   root; larger: an RFC 9162 consistency proof built from the log's hash tiles), then download
 *   the new entries from tlog-tiles entry bundles and recompute the tree from them, resuming
 *   from the saved compact range; the root must be the signed root. The state is saved
 *   atomically, only after everything verified.
 * - `verify-receipt FILE --log-key KEY [--entry FILE]`: an offline receipt (c2sp.org/tlog-proof).
 * - `key --url URL`: print the key a log announces (compare it out of band before trusting it).
 * A fork (two signed checkpoints of one size with different roots, an inconsistent larger one,
 * a smaller one, or entries that do not hash to the signed root) fails with the evidence.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  CompactRange, LogError, consistencyProof, decodeEntryBundle, detectFork, entryBundlePath, leafHash, openCheckpoint,
  parseCosignerVerifierKey, parseReceipt, parseVerifierKey, tileHashReader, verifyCheckpointConsistency, verifyCosignatures, verifyReceipt,
} from '@reflash/log';
import type { Checkpoint, CosignaturePolicy, CosignatureResult, NoteVerifier } from '@reflash/log';
import { MAX_ENTRY_BYTES, MAX_NOTE_BYTES, MAX_RECEIPT_BYTES, TILE_WIDTH } from '@reflash/log/limits';
import { ReflashError, UsageError, normaliseBaseUrl } from '@reflash/metadata';
import { exchange, expectOk } from '../client/http.js';
import { collect, positiveInt } from '../client/options.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { writeFileAtomic } from '../io/atomic.js';

/** Download limits (CONVENTIONS.md §7). */
const MAX_HASH_TILE = TILE_WIDTH * 32;
const MAX_ENTRY_BUNDLE = TILE_WIDTH * (2 + MAX_ENTRY_BYTES);
const MAX_STATE_BYTES = 64 * 1024;

/** The log misbehaved (fork, rollback, entries that do not match); `evidence` holds the signed notes. */
export class LogMisbehaviourError extends ReflashError {
  readonly evidence: readonly string[];
  constructor(code: 'LOG_FORK' | 'LOG_ROLLBACK' | 'LOG_INCONSISTENT' | 'LOG_ENTRIES_MISMATCH', message: string, evidence: readonly string[], options?: { cause?: unknown }) {
    super(code, message, options);
    this.evidence = evidence;
  }
}

export interface LogTrust {
  readonly origin: string;
  readonly verifier: NoteVerifier;
  readonly logKey: string;
  readonly witnesses?: CosignaturePolicy;
}

/** --log-key, --origin (default: the key's name), --witness KEY... --witness-threshold K. */
export function logTrust(o: { logKey: string; origin?: string | undefined; witness?: string[] | undefined; witnessThreshold?: string | undefined }): LogTrust {
  let verifier: NoteVerifier;
  try {
    verifier = parseVerifierKey(o.logKey.trim());
  } catch (err) {
    throw new UsageError(`--log-key: ${(err as Error).message}`, { cause: err });
  }
  const keys = o.witness ?? [];
  if (keys.length === 0 && o.witnessThreshold !== undefined) throw new UsageError('--witness-threshold needs --witness keys');
  const base = { origin: o.origin ?? verifier.name, verifier, logKey: o.logKey.trim() };
  if (keys.length === 0) return base;
  const threshold = positiveInt('--witness-threshold', o.witnessThreshold, keys.length);
  if (threshold > keys.length) throw new UsageError(`--witness-threshold ${threshold} is more than the ${keys.length} --witness keys`);
  try {
    return { ...base, witnesses: { witnesses: keys.map((k) => parseCosignerVerifierKey(k.trim())), threshold } };
  } catch (err) {
    throw new UsageError(`--witness: ${(err as Error).message}`, { cause: err });
  }
}

/** What `verify` remembers between runs. */
interface State {
  readonly version: 1;
  readonly logKey: string;
  readonly checkpoint: string;
  readonly compactRange: { size: number; hashes: string[] };
  readonly verifiedAt: string;
}

async function loadState(file: string, trust: LogTrust): Promise<{ note: string; checkpoint: Checkpoint; range: CompactRange } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (text.length > MAX_STATE_BYTES) throw new UsageError(`state file ${file} is too large`);
  try {
    const s = JSON.parse(text) as State;
    if (s.version !== 1) throw new Error('unknown version');
    if (s.logKey !== trust.logKey) throw new UsageError(`state file ${file} belongs to another log key (${s.logKey})`);
    // Re-verify what we remembered: the file could have been edited.
    const { checkpoint } = openCheckpoint(s.checkpoint, { origin: trust.origin, verifiers: [trust.verifier] });
    const range = CompactRange.fromJSON(s.compactRange);
    if (range.size !== checkpoint.size || Buffer.compare(range.root(), checkpoint.rootHash) !== 0) throw new Error('its compact range does not match its checkpoint');
    return { note: s.checkpoint, checkpoint, range };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`state file ${file} is not a valid verifier state: ${(err as Error).message}`, { cause: err });
  }
}

export interface VerifyLogOptions {
  readonly url: string;
  readonly trust: LogTrust;
  readonly state?: string | undefined;
  /** entry bundles fetched in parallel (default 8) */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  /** POSIX seconds for cosignature timestamps (default: now) */
  readonly now?: number;
}

export interface VerifyLogResult {
  readonly size: number;
  readonly previousSize: number;
  readonly replayed: number;
  readonly root: string;
  readonly cosignatures?: CosignatureResult;
}

export async function verifyLog(o: VerifyLogOptions, out: Output): Promise<VerifyLogResult> {
  const base = `${normaliseBaseUrl(o.url)}/log/`;
  const get = async (path: string, max: number): Promise<Uint8Array> =>
    expectOk(await exchange({ method: 'GET', url: base + path, maxLength: max, timeoutMs: o.timeoutMs ?? 30_000 }), `GET ${base}${path}`).body;
  const { trust } = o;

  // c2sp.org/tlog-checkpoint: the log's signature and origin, then the witness policy.
  const note = Buffer.from(await get('checkpoint', MAX_NOTE_BYTES)).toString('utf8');
  const newer = openCheckpoint(note, { origin: trust.origin, verifiers: [trust.verifier] }).checkpoint;
  const cosignatures = trust.witnesses === undefined ? undefined : verifyCosignatures(note, { ...trust.witnesses, now: o.now ?? Math.floor(Date.now() / 1000) });

  // Consistency with the checkpoint remembered from the last run (RFC 9162 §2.1.4).
  const saved = o.state === undefined ? undefined : await loadState(o.state, trust);
  if (saved !== undefined) {
    const older = saved.checkpoint;
    if (newer.size === older.size) {
      if (detectFork(older, newer) !== undefined) {
        throw new LogMisbehaviourError('LOG_FORK', `FORK: the log signed two different trees of size ${newer.size}`, [saved.note, note]);
      }
    } else if (newer.size < older.size) {
      throw new LogMisbehaviourError('LOG_ROLLBACK', `ROLLBACK: the log now serves size ${newer.size}, it had signed ${older.size}`, [saved.note, note]);
    } else {
      const tiles = tileHashReader(newer.size, (_tile, path) => get(path, MAX_HASH_TILE));
      try {
        verifyCheckpointConsistency(older, newer, await consistencyProof(tiles, older.size, newer.size));
      } catch (err) {
        if (!(err instanceof LogError)) throw err;
        throw new LogMisbehaviourError('LOG_INCONSISTENT', `FORK: tree ${newer.size} is not consistent with the remembered tree ${older.size} (${err.code}: ${err.message})`, [saved.note, note], { cause: err });
      }
    }
  }

  // Replay the new entries from entry bundles into the saved compact range.
  const range = saved?.range ?? CompactRange.empty();
  const previousSize = range.size;
  const first = Math.floor(previousSize / TILE_WIDTH);
  const last = Math.ceil(newer.size / TILE_WIDTH);
  const fetchBundle = async (n: number): Promise<Uint8Array[]> => {
    const width = Math.min(TILE_WIDTH, newer.size - n * TILE_WIDTH);
    return decodeEntryBundle(await get(entryBundlePath(n, width), MAX_ENTRY_BUNDLE), width);
  };
  const window: Array<Promise<Uint8Array[]>> = [];
  let next = first;
  const fill = (): void => {
    while (next < last && window.length < (o.concurrency ?? 8)) window.push(fetchBundle(next++));
  };
  fill();
  try {
    for (let n = first; n < last; n++) {
      const entries = await window.shift()!;
      fill();
      for (let i = Math.max(0, range.size - n * TILE_WIDTH); i < entries.length; i++) range.append(leafHash(entries[i]!));
    }
  } finally {
    // On a failure, let the bundles still in flight finish (their errors add nothing).
    await Promise.allSettled(window);
  }
  if (Buffer.compare(range.root(), newer.rootHash) !== 0) {
    throw new LogMisbehaviourError('LOG_ENTRIES_MISMATCH', `the entries served do not hash to the signed root of tree ${newer.size}`, [note]);
  }

  if (o.state !== undefined) {
    const s: State = { version: 1, logKey: trust.logKey, checkpoint: note, compactRange: range.toJSON(), verifiedAt: new Date().toISOString() };
    await writeFileAtomic(o.state, Buffer.from(`${JSON.stringify(s, null, 2)}\n`));
  }
  const root = Buffer.from(newer.rootHash).toString('base64');
  out.out(`log ${newer.origin}: tree size ${newer.size} verified (root ${root})`);
  out.out(saved === undefined ? `first run: all ${newer.size} entries replayed` : `consistent with the remembered size ${previousSize}; ${newer.size - previousSize} new entries replayed`);
  if (cosignatures !== undefined) out.out(`witnesses: ${cosignatures.valid.length} valid cosignatures (${cosignatures.valid.map((v) => v.name).join(', ')}), threshold ${cosignatures.threshold}`);
  return { size: newer.size, previousSize, replayed: newer.size - previousSize, root, ...(cosignatures === undefined ? {} : { cosignatures }) };
}

export interface VerifiedReceiptInfo {
  readonly index: number;
  readonly treeSize: number;
  readonly entry: Uint8Array;
}

/** Verifies a receipt file offline; the entry is --entry or the receipt's `extra`. */
export async function verifyReceiptCommand(file: string, trust: LogTrust, entryFile: string | undefined, out: Output): Promise<VerifiedReceiptInfo> {
  const text = await readFile(file, 'utf8');
  if (text.length > MAX_RECEIPT_BYTES) throw new UsageError(`${file} is larger than a receipt can be`);
  let entry: Uint8Array | undefined = entryFile === undefined ? undefined : await readFile(entryFile);
  const extra = parseReceipt(text).extra;
  if (entry === undefined) entry = extra;
  if (entry === undefined) throw new UsageError('the receipt carries no entry: pass --entry FILE');
  const v = verifyReceipt(text, entry, { origin: trust.origin, verifiers: [trust.verifier], ...(trust.witnesses === undefined ? {} : { witnesses: trust.witnesses }) });
  let summary: string;
  try {
    const e = JSON.parse(Buffer.from(entry).toString('utf8')) as { type?: unknown; time?: unknown };
    summary = ` (${String(e.type)} at ${String(e.time)})`;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    summary = ' (not JSON)';
  }
  out.out(`receipt OK: entry ${v.index}${summary} is in log ${v.checkpoint.origin} at tree size ${v.checkpoint.size} (root ${Buffer.from(v.checkpoint.rootHash).toString('base64')})`);
  if (v.cosignatures !== undefined) out.out(`witnesses: ${v.cosignatures.valid.map((c) => c.name).join(', ')} (threshold ${v.cosignatures.threshold})`);
  return { index: v.index, treeSize: v.checkpoint.size, entry };
}

interface TrustFlags {
  logKey: string;
  origin?: string;
  witness?: string[];
  witnessThreshold?: string;
}

function trustOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--log-key <key>', 'the log\'s verifier key <origin>+<key id>+<base64> (obtained out of band)')
    .option('--origin <origin>', 'the log\'s origin (default: the key name)')
    .option('--witness <key>', 'a witness cosignature key (repeatable)', collect)
    .option('--witness-threshold <k>', 'how many --witness keys must have cosigned (default: all)');
}

/** Prints the evidence of misbehaviour (both signed notes) before the error leaves. */
async function reporting<T>(out: Output, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LogMisbehaviourError) {
      out.note(`${err.message}\nevidence (signed by the log; keep it):`);
      for (const e of err.evidence) out.note(e);
    }
    throw err;
  }
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify the accountability log as a third party (approval authority, auditor)');
  trustOptions(audit.command('verify')
    .description('check the log: signature, consistency with the last run, recompute the tree from all new entries')
    .requiredOption('--url <url>', 'the server (the log is under <url>/log/)')
    .option('--state <file>', 'remember the verified checkpoint and compact range here (incremental runs)')
    .option('--concurrency <n>', 'entry bundles fetched in parallel', '8')
    .option('--timeout <ms>', 'give up when a request makes no progress for this long', '30000'))
    .action(async (o: TrustFlags & { url: string; state?: string; concurrency: string; timeout: string }) => {
      await reporting(CONSOLE, () => verifyLog({
        url: o.url, trust: logTrust(o), state: o.state,
        concurrency: positiveInt('--concurrency', o.concurrency), timeoutMs: positiveInt('--timeout', o.timeout),
      }, CONSOLE));
    });
  trustOptions(audit.command('verify-receipt')
    .argument('<file>', 'a receipt (c2sp.org/tlog-proof@v1)')
    .description('verify a receipt offline: the log\'s signature on its checkpoint and the entry\'s inclusion')
    .option('--entry <file>', 'the entry bytes (default: the copy inside the receipt)'))
    .action(async (file: string, o: TrustFlags & { entry?: string }) => {
      await verifyReceiptCommand(file, logTrust(o), o.entry, CONSOLE);
    });
  audit.command('key')
    .description('print the verifier key a log announces (trust it only after comparing it out of band)')
    .requiredOption('--url <url>', 'the server')
    .action(async (o: { url: string }) => {
      const url = `${normaliseBaseUrl(o.url)}/log/key`;
      const key = Buffer.from(expectOk(await exchange({ method: 'GET', url, maxLength: 4096 }), `GET ${url}`).body).toString('utf8').trim();
      parseVerifierKey(key);
      CONSOLE.out(key);
      CONSOLE.note('compare this key with one obtained out of band (e.g. from the approval file) before passing it as --log-key');
    });
}

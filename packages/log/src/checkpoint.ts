/**
 * c2sp.org/tlog-checkpoint: the note text `<origin>\n<tree size>\n<base64 root hash>\n` plus
 * optional non-empty extension lines, signed as a c2sp.org/signed-note.
 */
import { fromBase64, hasControlChar, hasLoneSurrogate, toBase64 } from './bytes.js';
import { LogFormatError, LogUsageError } from './errors.js';
import { HASH_SIZE } from './hash.js';
import { MAX_CHECKPOINT_BYTES, MAX_TREE_SIZE } from './limits.js';
import type { NoteLimits, NoteSigner, NoteVerifier, OpenedNote } from './note.js';
import { openNote, signNote } from './note.js';

export interface Checkpoint {
  /** Log identity, e.g. `reflash.example/log` (tlog-checkpoint "Note text" 1). */
  readonly origin: string;
  /** Number of leaves (2). Limited to 2^53 - 1 here. */
  readonly size: number;
  /** RFC 6962 / RFC 9162 Merkle tree root at `size` (3). */
  readonly rootHash: Uint8Array;
  /** Opaque extension lines (4), without newlines. */
  readonly extensions: readonly string[];
}

function bad(message: string): never {
  throw new LogFormatError('LOG_MALFORMED_CHECKPOINT', message);
}

/** Formats the checkpoint note text (body). Throws LogUsageError for an invalid checkpoint. */
export function formatCheckpoint(cp: Checkpoint): string {
  const body = `${cp.origin}\n${cp.size}\n${toBase64(cp.rootHash)}\n${cp.extensions.map((e) => `${e}\n`).join('')}`;
  try {
    parseCheckpoint(body);
  } catch (err) {
    throw new LogUsageError(`invalid checkpoint: ${(err as Error).message}`, { cause: err });
  }
  return body;
}

/** Parses a checkpoint note text with strict validation (tlog-checkpoint "Note text"). */
export function parseCheckpoint(text: string, maxBytes: number = MAX_CHECKPOINT_BYTES): Checkpoint {
  if (typeof text !== 'string') bad('checkpoint is not a string');
  if (text.length > maxBytes) bad('checkpoint is too large');
  if (!text.endsWith('\n')) bad('checkpoint text does not end with a newline');
  if (hasLoneSurrogate(text) || hasControlChar(text)) bad('checkpoint has a control character or invalid UTF-8');
  const lines = text.slice(0, -1).split('\n');
  // "a sequence of at least three non-empty lines"
  if (lines.length < 3) bad('checkpoint has fewer than three lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  // 1. origin: non-empty.
  if (origin.length === 0) bad('checkpoint origin is empty');
  // 2. tree size: ASCII decimal, no leading zeroes (unless 0).
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) bad('checkpoint tree size is not a decimal without leading zeroes');
  const size = Number(sizeLine);
  if (size > MAX_TREE_SIZE) bad('checkpoint tree size exceeds 2^53 - 1');
  // 3. root hash: base64 of a 32-byte hash.
  const rootHash = fromBase64(rootLine);
  if (rootHash?.length !== HASH_SIZE) bad('checkpoint root hash is not base64 of 32 bytes');
  // 4. extension lines: non-empty.
  if (extensions.some((e) => e.length === 0)) bad('checkpoint has an empty extension line');
  return { origin, size, rootHash, extensions };
}

/** Signs a checkpoint: a signed note whose text is formatCheckpoint(cp). */
export function signCheckpoint(cp: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(cp), signers);
}

export interface OpenCheckpointOptions {
  /** The log's origin: the checkpoint must name it (LOG_ORIGIN_MISMATCH otherwise). */
  readonly origin: string;
  /** The log's verifiers; at least one must have signed. Witness lines are ignored here. */
  readonly verifiers: readonly NoteVerifier[];
  readonly limits?: NoteLimits;
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: OpenedNote;
}

/**
 * Verifies a signed checkpoint: the note signature by one of the log's keys
 * (c2sp.org/signed-note), then the body (tlog-checkpoint), then the expected origin.
 */
export function openCheckpoint(signed: Uint8Array | string, opts: OpenCheckpointOptions): OpenedCheckpoint {
  const note = openNote(signed, opts.verifiers, opts.limits);
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== opts.origin) {
    throw new LogFormatError('LOG_ORIGIN_MISMATCH', `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not ${JSON.stringify(opts.origin)}`);
  }
  return { checkpoint, note };
}

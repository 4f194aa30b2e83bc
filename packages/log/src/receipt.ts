/**
 * Offline receipts in the c2sp.org/tlog-proof@v1 format:
 *
 *   c2sp.org/tlog-proof@v1
 *   extra <base64>            (optional, unauthenticated)
 *   index <decimal>
 *   <base64 proof hash>       (zero or more, leaf's sibling first)
 *   <empty line>
 *   <signed checkpoint note, verbatim>
 *
 * Verification needs only the entry bytes, the log's origin and verifier key (and optionally a
 * witness policy): checkpoint signature first, then inclusion of leafHash(entry).
 */
import { fromBase64, toBase64 } from './bytes.js';
import type { Checkpoint } from './checkpoint.js';
import { openCheckpoint, parseCheckpoint } from './checkpoint.js';
import type { CosignaturePolicy, CosignatureResult } from './cosignature.js';
import { verifyCosignatures } from './cosignature.js';
import { LogFormatError, LogStorageError, LogUsageError } from './errors.js';
import { HASH_SIZE, leafHash } from './hash.js';
import { MAX_PROOF_HASHES, MAX_RECEIPT_BYTES } from './limits.js';
import type { NoteVerifier } from './note.js';
import { parseNote } from './note.js';
import type { HashReader } from './proof.js';
import { checkRead, inclusionProof } from './proof.js';
import { verifyInclusion } from './verify.js';

export const RECEIPT_HEADER = 'c2sp.org/tlog-proof@v1';

export interface Receipt {
  readonly index: number;
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string;
  /** Opaque, unauthenticated extra data. */
  readonly extra?: Uint8Array;
}

function bad(message: string): never {
  throw new LogFormatError('LOG_MALFORMED_RECEIPT', message);
}

/** Formats a receipt (c2sp.org/tlog-proof "Format"). */
export function formatReceipt(r: Receipt): string {
  if (!Number.isSafeInteger(r.index) || r.index < 0) throw new LogUsageError('receipt index must be a non-negative integer');
  if (r.proof.some((h) => h.length !== HASH_SIZE)) throw new LogUsageError('proof hashes must be 32 bytes');
  parseNote(r.checkpoint);
  const extra = r.extra === undefined ? '' : `extra ${toBase64(r.extra)}\n`;
  return `${RECEIPT_HEADER}\n${extra}index ${r.index}\n${r.proof.map((h) => `${toBase64(h)}\n`).join('')}\n${r.checkpoint}`;
}

/**
 * Builds a receipt for leaf `index` from storage and a signed checkpoint of the log. The proof
 * is checked against the checkpoint's root before it is handed out (a storage fault is a
 * LogStorageError, never a bad receipt).
 */
export async function createReceipt(reader: HashReader, index: number, signedCheckpoint: string, extra?: Uint8Array): Promise<string> {
  const checkpoint = parseCheckpoint(parseNote(signedCheckpoint).text);
  const proof = await inclusionProof(reader, index, checkpoint.size);
  const leaf = await reader.readNodes([{ level: 0, index }]);
  checkRead([{ level: 0, index }], leaf);
  try {
    verifyInclusion(leaf[0]!, index, checkpoint.size, proof, checkpoint.rootHash);
  } catch (err) {
    throw new LogStorageError('LOG_STORAGE_BAD_READ', 'stored tree does not match the signed checkpoint', { cause: err });
  }
  return formatReceipt({ index, proof, checkpoint: signedCheckpoint, ...(extra === undefined ? {} : { extra }) });
}

/** Parses a receipt strictly (no signature or proof verification). */
export function parseReceipt(text: string): Receipt {
  if (typeof text !== 'string') bad('receipt is not a string');
  if (text.length > MAX_RECEIPT_BYTES) bad('receipt is too large');
  const lines = text.split('\n');
  let i = 0;
  // First line: the header.
  if (lines[i++] !== RECEIPT_HEADER) bad('receipt does not start with c2sp.org/tlog-proof@v1');
  // Optional `extra <base64>` line.
  let extra: Uint8Array | undefined;
  if (lines[i]?.startsWith('extra ') === true) {
    extra = fromBase64(lines[i++]!.slice(6));
    if (extra === undefined) bad('receipt extra data is not base64');
  }
  // `index <decimal, no leading zeroes>`.
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines[i++] ?? '');
  if (m === null) bad('receipt has no valid index line');
  const index = Number(m[1]);
  if (!Number.isSafeInteger(index)) bad('receipt index exceeds 2^53 - 1');
  // Proof hashes, one per line, until the empty line.
  const proof: Uint8Array[] = [];
  for (; i < lines.length && lines[i] !== ''; i++) {
    if (proof.length >= MAX_PROOF_HASHES) bad('receipt proof is too long');
    const h = fromBase64(lines[i]!);
    if (h?.length !== HASH_SIZE) bad('receipt proof line is not base64 of a 32-byte hash');
    proof.push(h);
  }
  if (i >= lines.length) bad('receipt has no empty line before the checkpoint');
  // The rest, verbatim, is the signed checkpoint.
  const checkpoint = lines.slice(i + 1).join('\n');
  if (checkpoint.length === 0) bad('receipt has no checkpoint');
  return { index, proof, checkpoint, ...(extra === undefined ? {} : { extra }) };
}

export interface VerifyReceiptOptions {
  readonly origin: string;
  readonly verifiers: readonly NoteVerifier[];
  /** Optional witness policy (k of n cosignatures on the checkpoint). */
  readonly witnesses?: CosignaturePolicy;
}

export interface VerifiedReceipt {
  readonly index: number;
  readonly checkpoint: Checkpoint;
  readonly extra?: Uint8Array;
  readonly cosignatures?: CosignatureResult;
}

/**
 * Verifies a receipt for `entry`: the checkpoint's signature and origin (tlog-checkpoint),
 * the witness policy if any (tlog-cosignature), then the inclusion of leafHash(entry) at the
 * receipt's index under the checkpoint's root (RFC 9162 §2.1.3.2).
 */
export function verifyReceipt(text: string, entry: Uint8Array, opts: VerifyReceiptOptions): VerifiedReceipt {
  const r = parseReceipt(text);
  const { checkpoint } = openCheckpoint(r.checkpoint, { origin: opts.origin, verifiers: opts.verifiers });
  const cosignatures = opts.witnesses === undefined ? undefined : verifyCosignatures(r.checkpoint, opts.witnesses);
  verifyInclusion(leafHash(entry), r.index, checkpoint.size, r.proof, checkpoint.rootHash);
  return {
    index: r.index,
    checkpoint,
    ...(r.extra === undefined ? {} : { extra: r.extra }),
    ...(cosignatures === undefined ? {} : { cosignatures }),
  };
}

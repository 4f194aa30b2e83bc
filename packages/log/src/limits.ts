/**
 * Every size limit of the package in one place (CONVENTIONS.md §7). Parsers take the limit as an
 * option defaulting to these values.
 */

/** Tree sizes and indexes are JavaScript safe integers: at most 2^53 - 1 leaves. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * An inclusion or consistency proof in a tree of at most 2^64 leaves has at most 64 hashes
 * (RFC 9162 §2.1.3.1, §2.1.4.1: one hash per level, plus the first_hash slot for consistency).
 * Longer proofs are refused before any hashing.
 */
export const MAX_PROOF_HASHES = 64;

/** Signed notes: total size and number of signature lines (c2sp.org/signed-note: accept >= 16). */
export const MAX_NOTE_BYTES = 1 << 20;
export const MAX_NOTE_SIGNATURES = 100;

/** Checkpoint body size (origin + size + root + extension lines). */
export const MAX_CHECKPOINT_BYTES = 64 * 1024;

/** Receipts (c2sp.org/tlog-proof): header, extra, index, proof hashes and a checkpoint note. */
export const MAX_RECEIPT_BYTES = MAX_NOTE_BYTES + 64 * 1024;

/** c2sp.org/tlog-tiles: full tiles are 256 hashes; entries carry a uint16 length. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const MAX_ENTRY_BYTES = 0xffff;

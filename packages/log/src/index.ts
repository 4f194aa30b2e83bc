/**
 * @reflash/log: the accountability log core (pure: no I/O; storage behind HashReader).
 * Re-exports the public API from the leaf modules.
 */
export { LOG_ERROR_CODES, LogError, LogFormatError, LogProofError, LogSignatureError, LogStorageError, LogUsageError } from './errors.js';
export type { LogErrorCode } from './errors.js';
export * as limits from './limits.js';
export { HASH_SIZE, emptyRoot, leafHash, nodeHash } from './hash.js';
export { nodeCoverage, nodeId, rangeNodes } from './node-id.js';
export type { NodeId } from './node-id.js';
export { combineProof, combineRange, consistencyProofNodes, inclusionProofNodes, rootNodes } from './proof-nodes.js';
export type { ProofNodes } from './proof-nodes.js';
export { consistencyProof, inclusionProof, rootAt } from './proof.js';
export type { HashReader, SyncHashReader } from './proof.js';
export { isValidSubtree, subtreeConsistencyProofNodes, subtreeInclusionProofNodes, subtreeNodes } from './subtree.js';
export { MemoryTree, merkleRoot } from './tree.js';
export { CompactRange } from './compact.js';
export type { CompactRangeJSON, StoredNode } from './compact.js';
export { rootFromInclusionProof, verifyConsistency, verifyInclusion } from './verify.js';
export { detectFork, verifyCheckpointConsistency } from './fork.js';
export type { ForkEvidence } from './fork.js';
export { computeKeyId, isValidKeyName, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519 } from './note-keys.js';
export { addSignatures, generateSigner, openNote, parseNote, parseSignerKey, parseVerifierKey, signNote, signatureLine } from './note.js';
export type { NoteLimits, NoteSignature, NoteSigner, NoteVerifier, OpenedNote, ParsedNote } from './note.js';
export { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js';
export type { Checkpoint, OpenCheckpointOptions, OpenedCheckpoint } from './checkpoint.js';
export {
  checkCosignatures, cosignatureMessage, cosignCheckpoint, cosignerKeyId, generateCosigner, parseCosignerKey,
  parseCosignerVerifierKey, verifyCosignatures,
} from './cosignature.js';
export type { CosignaturePolicy, CosignatureResult, CosignatureVerifier, Cosigner } from './cosignature.js';
export {
  decodeEntryBundle, decodeHashTile, encodeEntryBundle, encodeHashTile, entryBundlePath, parseTilePath, tileForNode,
  tileIndexPath, tileNodeIds, tilePath, tilesForSize,
} from './tiles.js';
export type { LevelTiles, TileId } from './tiles.js';
export { tileHashReader } from './tile-reader.js';
export type { TileFetcher } from './tile-reader.js';
export { RECEIPT_HEADER, createReceipt, formatReceipt, parseReceipt, verifyReceipt } from './receipt.js';
export type { Receipt, VerifiedReceipt, VerifyReceiptOptions } from './receipt.js';

/**
 * distribute: one ECU per step (Uptane 2.1 §5.4.2.3): forward the verified metadata, let the ECU
 * verify it itself (full or partial) and approve its image, then stream the image into its
 * inactive bank (the ECU marks it bad first and checks length and hashes while writing;
 * STANDARDS.md §3 A/B: the running bank is untouched). Nothing is bootable yet.
 */
import { join } from 'node:path';
import { sameImage } from '../../digest.js';
import { EcuError, EcuRefusedError } from '../../errors.js';
import { fileChunks } from '../../io/file-chunks.js';
import type { MetadataBundle } from '../../link.js';
import type { Action } from '../context.js';
import { linkOf, requireBundle, withOutcome } from '../context.js';

export const distribute: Action = async (ctx, rec) => {
  const items = requireBundle(rec).items;
  const item = items[rec.cursor]!;
  const link = linkOf(ctx, item.ecuSerial);
  const bundle: MetadataBundle = { director: await ctx.directorStore.exportFiles(), image: await ctx.imageStore.exportFiles() };
  try {
    const approved = await link.verifyMetadata(bundle);
    if (approved === null || !sameImage(approved, item.image)) {
      return { event: 'refused', record: withOutcome(rec, 'rejected', { code: 'ECU_DISAGREES', reason: `ECU ${item.ecuSerial} does not approve ${item.image.filepath}` }) };
    }
    // One reused buffer (io/file-chunks.ts): the link consumes each chunk before asking for the next.
    await link.writeInactive(fileChunks(join(ctx.dir, item.file), { chunkBytes: ctx.config.transferChunkBytes }));
  } catch (err) {
    if (err instanceof EcuRefusedError) {
      return { event: 'refused', record: withOutcome({ ...rec, attacks: [...rec.attacks, `${err.code}: ${err.message}`] }, 'rejected', { error: err }) };
    }
    if (err instanceof EcuError) return { event: 'failed', record: withOutcome(rec, 'rolled-back', { error: err }) };
    throw err;
  }
  const cursor = rec.cursor + 1;
  return { event: cursor < items.length ? 'next' : 'done', record: { ...rec, cursor, progress: rec.progress + 1 } };
};

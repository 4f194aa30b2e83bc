/**
 * download: one image of the bundle per step, streamed, bounded, hashed and resumable
 * (primary/download.ts). Too many bytes or wrong hashes are attacks (Uptane 4.3.3 endless data,
 * arbitrary software); network failures end the cycle after the retries (the bytes on disk are
 * kept and resumed next time).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DownloadError, HashMismatchError, LengthMismatchError } from '@reflash/metadata';
import type { Action } from '../context.js';
import { recordAttack, requireBundle, withOutcome } from '../context.js';
import { downloadImage } from '../download.js';

export const download: Action = async (ctx, rec) => {
  const items = requireBundle(rec).items;
  const item = items[rec.cursor]!;
  const dest = join(ctx.dir, item.file);
  await mkdir(dirname(dest), { recursive: true });
  try {
    const r = await downloadImage(ctx.backend, item.image, dest, { policy: ctx.config.downloadRetry, sleep: ctx.sleep });
    ctx.log(`download ${item.image.filepath}: ${r.cached ? 'cached' : `${r.bytesTransferred} bytes, requests from ${r.requests.join(', ')}`}`);
  } catch (err) {
    if (err instanceof LengthMismatchError || err instanceof HashMismatchError) {
      return { event: 'rejected', record: withOutcome(await recordAttack(ctx, rec, err), 'rejected', { error: err }) };
    }
    if (err instanceof DownloadError) return { event: 'error', record: withOutcome(rec, 'offline', { error: err }) };
    throw err;
  }
  const cursor = rec.cursor + 1;
  return { event: cursor < items.length ? 'next' : 'done', record: { ...rec, cursor, progress: rec.progress + 1 } };
};

/**
 * download: one image of the bundle per step, streamed, bounded, hashed and resumable
 * (primary/download.ts). Too many bytes or wrong hashes are attacks (Uptane 4.3.3 endless data,
 * arbitrary software); network failures end the cycle after the retries (the bytes on disk are
 * kept and resumed next time). For a download-only campaign the last image ends the cycle
 * (`held`): the images stay on disk (a later campaign naming them finds them cached), nothing is
 * installed, the outcome `downloaded` is reported.
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
  const next = { ...rec, cursor, progress: rec.progress + 1 };
  if (cursor < items.length) return { event: 'next', record: next };
  // A download-only campaign (campaign.ts): the verified images stay on disk, nothing is installed.
  if (requireBundle(rec).campaign.downloadOnly) {
    return { event: 'held', record: withOutcome(next, 'downloaded', { code: 'DOWNLOAD_ONLY', reason: 'downloaded and verified; not installed (download-only campaign)' }) };
  }
  return { event: 'done', record: next };
};

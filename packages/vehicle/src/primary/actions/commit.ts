/**
 * commit: one ECU per step, its pending bank becomes 'good' (CONVENTIONS.md §9: good only after
 * all writes and a successful boot). Entering this state is the bundle's commit point: after a
 * crash the commit is finished, not undone. The old banks stay good, so if an ECU fell back in
 * the meantime the whole bundle can still be rolled back.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EcuError } from '../../errors.js';
import type { Action } from '../context.js';
import { linkOf, requireBundle, withOutcome } from '../context.js';

export const commit: Action = async (ctx, rec) => {
  const items = requireBundle(rec).items;
  const item = items[rec.cursor]!;
  try {
    await linkOf(ctx, item.ecuSerial).confirm();
  } catch (err) {
    if (err instanceof EcuError) return { event: 'failed', record: withOutcome(rec, 'rolled-back', { error: err }) };
    throw err;
  }
  const releaseCounters = item.image.releaseCounter === undefined ? rec.releaseCounters : { ...rec.releaseCounters, [item.ecuSerial]: item.image.releaseCounter };
  const cursor = rec.cursor + 1;
  const next = { ...rec, cursor, progress: rec.progress + 1, releaseCounters };
  if (cursor < items.length) return { event: 'next', record: next };
  // Committed everywhere: the downloaded images are no longer needed.
  for (const i of items) await rm(join(ctx.dir, i.file), { force: true });
  return { event: 'done', record: withOutcome({ ...next, bundleAttempts: null }, 'success') };
};

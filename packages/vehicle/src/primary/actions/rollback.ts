/**
 * rollback: one ECU per step, every ECU of the bundle goes back to (or stays on) its previous
 * image: a pending or newly committed bank is left for the previous good bank, a written but
 * never activated bank is discarded (UN R156 §7.2: restore the previous version when an update
 * fails or is interrupted; STANDARDS.md §2 partial bundle installation attack). An ECU that
 * cannot go back sends the machine to `stuck`.
 */
import { ReflashError } from '@reflash/metadata';
import { sameImage } from '../../digest.js';
import type { Action } from '../context.js';
import { linkOf, requireBundle, withOutcome } from '../context.js';

export const rollback: Action = async (ctx, rec) => {
  const bundle = requireBundle(rec);
  let r = rec;
  if (r.cursor === 0 && r.outcome === null) {
    r = withOutcome(r, 'rolled-back', { code: 'INTERRUPTED', reason: 'the installation was interrupted (restart or power loss) before it was committed' });
  }
  const item = bundle.items[r.cursor]!;
  try {
    const boot = await linkOf(ctx, item.ecuSerial).rollback(item.image);
    if (item.previous !== null && (boot.image === null || !sameImage(boot.image, item.previous) || !boot.healthy)) {
      return { event: 'failed', record: withOutcome(r, 'stuck', { code: 'ROLLBACK_FAILED', reason: `ECU ${item.ecuSerial} is not back on ${item.previous.filepath}` }) };
    }
  } catch (err) {
    if (err instanceof ReflashError) return { event: 'failed', record: withOutcome(r, 'stuck', { error: err }) };
    throw err;
  }
  const cursor = r.cursor + 1;
  const next = { ...r, cursor, progress: r.progress + 1 };
  if (cursor < bundle.items.length) return { event: 'next', record: next };
  const count = rec.bundleAttempts?.key === bundle.key ? rec.bundleAttempts.count + 1 : 1;
  return { event: 'done', record: { ...next, bundleAttempts: { key: bundle.key, count } } };
};

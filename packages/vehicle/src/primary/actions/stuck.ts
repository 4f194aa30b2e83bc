/**
 * stuck: the safe state after loop detection or a failed rollback. Every ECU of the bundle is
 * asked once more to go back to its previous image (failures are listed in the report, not
 * hidden), and the bundle is blocked until the Director assigns something else; then the
 * report state sends the outcome `stuck`.
 */
import { ReflashError } from '@reflash/metadata';
import type { Action } from '../context.js';
import { linkOf, withOutcome } from '../context.js';

export const stuck: Action = async (ctx, rec) => {
  const problems: string[] = [];
  for (const item of rec.bundle?.items ?? []) {
    try {
      await linkOf(ctx, item.ecuSerial).rollback(item.image);
    } catch (err) {
      if (!(err instanceof ReflashError)) throw err;
      problems.push(`${item.ecuSerial}: ${err.code}`);
    }
  }
  const reason = [rec.outcome?.reason ?? 'stuck', ...(problems.length === 0 ? [] : [`rollback failed on ${problems.join(', ')}`])].join('; ');
  const blocked = rec.bundle === null ? rec.bundleAttempts : { key: rec.bundle.key, count: ctx.config.maxBundleAttempts };
  return { event: 'done', record: withOutcome({ ...rec, bundleAttempts: blocked }, 'stuck', { code: rec.outcome?.code ?? 'STUCK', reason }) };
};

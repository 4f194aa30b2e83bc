/**
 * preconditions / recheck: UN R156 §7.2, the vehicle is safe to update (primary/preconditions.ts).
 * Checked before asking for consent, and re-checked right before execution. When not met: wait
 * (bounded exponential backoff) and emit `unmet` (the table re-enters the state); never execute.
 * After `preconditionWait.maxAttempts` checks: `timeout`.
 */
import { backoffDelay } from '../backoff.js';
import type { Action } from '../context.js';
import { requireBundle, withOutcome } from '../context.js';
import { checkPreconditions, readPreconditions } from '../preconditions.js';

export const waitForPreconditions: Action = async (ctx, rec) => {
  // The campaign's requirements on top of the vehicle's floor (preconditions.ts SAFETY_FLOOR).
  const check = checkPreconditions(await readPreconditions(ctx.signals), requireBundle(rec).campaign);
  if (check.met) return { event: 'met', record: { ...rec, waits: 0 } };
  const waits = rec.waits + 1;
  const policy = ctx.config.preconditionWait;
  ctx.log(`${rec.state}: not safe to update (${check.unmet.join('; ')}), check ${waits} of ${policy.maxAttempts}`);
  if (waits >= policy.maxAttempts) {
    return { event: 'timeout', record: withOutcome(rec, 'preconditions-timeout', { code: 'PRECONDITIONS_UNMET', reason: check.unmet.join('; ') }) };
  }
  await ctx.sleep(backoffDelay(policy, waits - 1));
  return { event: 'unmet', record: { ...rec, waits } };
};

/**
 * preconditions / recheck: UN R156 §7.2, the vehicle is safe to update (primary/preconditions.ts).
 * Checked before asking for consent, and re-checked right before execution. When not met: emit
 * `unmet` (the table re-enters the state, the server is told the vehicle waits), and the next
 * check comes after a bounded exponential backoff; never execute. After
 * `preconditionWait.maxAttempts` checks: `timeout`.
 */
import { backoffDelay } from '../backoff.js';
import type { Action } from '../context.js';
import { requireBundle, withOutcome } from '../context.js';
import { checkPreconditions, readPreconditions } from '../preconditions.js';

export const waitForPreconditions: Action = async (ctx, rec) => {
  const policy = ctx.config.preconditionWait;
  // Waiting after an unmet check (also when resumed after a power loss while waiting).
  if (rec.waits > 0) await ctx.sleep(backoffDelay(policy, rec.waits - 1));
  // The campaign's requirements on top of the vehicle's floor (preconditions.ts SAFETY_FLOOR).
  const check = checkPreconditions(await readPreconditions(ctx.signals), requireBundle(rec).campaign);
  if (check.met) return { event: 'met', record: { ...rec, waits: 0 } };
  const waits = rec.waits + 1;
  ctx.log(`${rec.state}: not safe to update (${check.unmet.join('; ')}), check ${waits} of ${policy.maxAttempts}`);
  if (waits >= policy.maxAttempts) {
    return { event: 'timeout', record: withOutcome(rec, 'preconditions-timeout', { code: 'PRECONDITIONS_UNMET', reason: check.unmet.join('; ') }) };
  }
  return { event: 'unmet', record: { ...rec, waits } };
};

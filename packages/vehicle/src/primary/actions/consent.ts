/**
 * consent: UN R156 §7.2 user approval, after telling the user the purpose, the expected duration
 * and what will not work meanwhile (from the campaign, primary/campaign.ts). A decline is
 * recorded and reported, and nothing is installed. A forced campaign informs instead of asking.
 */
import type { Action } from '../context.js';
import { requireBundle, withOutcome } from '../context.js';
import type { ConsentRequest } from '../ports.js';

export const consent: Action = async (ctx, rec) => {
  const c = requireBundle(rec).campaign;
  const request: ConsentRequest = { purpose: c.purpose, expectedDurationSeconds: c.expectedDurationSeconds, unavailableFunctions: c.unavailableFunctions };
  if (c.forced) {
    await ctx.hmi.notify?.({ kind: 'forced-update', request });
    return { event: 'accepted', record: { ...rec, consent: 'forced' } };
  }
  const answer = await ctx.hmi.requestConsent(request);
  if (answer === 'accepted') return { event: 'accepted', record: { ...rec, consent: 'accepted' } };
  return { event: 'declined', record: withOutcome({ ...rec, consent: 'declined' }, 'declined', { code: 'CONSENT_DECLINED', reason: 'the driver declined the update' }) };
};

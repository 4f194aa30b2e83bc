/** The background campaign tick: every CAMPAIGN_TICK_MS, one process at a time (db/lock.ts). */
import type { ServerContext } from '../context.js';
import { withLock } from '../db/lock.js';
import { tickCampaigns } from './tick.js';

export const CAMPAIGN_TICK_MS = 15_000;

/** Start the job; returns its stop function. */
export function startCampaignJob(ctx: ServerContext, intervalMs = CAMPAIGN_TICK_MS): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    withLock(ctx.db, 'campaigns-tick', () => tickCampaigns(ctx))
      .catch((err: unknown) => ctx.log.error({ err }, 'campaign tick failed'))
      .finally(() => { running = false; });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

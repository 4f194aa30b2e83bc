/**
 * report: the cycle's result to the server (STANDARDS.md §1 step 8; UN R156 §7.2 inform the user
 * after the update). Reports not delivered stay in the outbox (bounded) and go with the next one;
 * a report re-sent after a crash carries the same cycle id.
 */
import { DownloadError } from '@reflash/metadata';
import { withRetry } from '../backoff.js';
import type { Action, ActionContext } from '../context.js';
import type { EcuResult, UpdateReport } from '../ports.js';
import type { PrimaryRecord } from '../record.js';

export const MAX_OUTBOX = 16;

export function buildReport(ctx: ActionContext, rec: PrimaryRecord): UpdateReport {
  const o = rec.outcome ?? { outcome: 'no-update' as const };
  const status: EcuResult['status'] = o.outcome === 'success' ? 'installed' : o.outcome === 'rolled-back' || o.outcome === 'stuck' ? 'rolled-back' : 'not-installed';
  const dtv = rec.directorTargetsVersion ?? rec.bundle?.directorTargetsVersion;
  const campaignId = rec.bundle?.campaign.id;
  return {
    vin: ctx.vin,
    primaryEcuSerial: ctx.primaryEcuSerial,
    cycleId: rec.cycle?.id ?? 'none',
    time: new Date(rec.cycle?.referenceTime ?? 0).toISOString(),
    outcome: o.outcome,
    ...(o.code === undefined ? {} : { code: o.code }),
    ...(o.reason === undefined ? {} : { reason: o.reason }),
    ...(dtv === undefined || dtv === null ? {} : { directorTargetsVersion: dtv }),
    ...(campaignId === undefined ? {} : { campaignId }),
    ...(rec.consent === null ? {} : { consent: rec.consent }),
    ecus: (rec.bundle?.items ?? []).map((i) => ({ ecuSerial: i.ecuSerial, filepath: i.image.filepath, status })),
    attacks: rec.attacks,
  };
}

export const report: Action = async (ctx, rec) => {
  const mine = buildReport(ctx, rec);
  const outbox = [...rec.outbox.filter((r) => r.cycleId !== mine.cycleId), mine].slice(-MAX_OUTBOX);
  let r: PrimaryRecord = { ...rec, outbox };
  // In order; what is delivered leaves the persisted outbox before the next one is sent.
  while (r.outbox.length > 0) {
    const next = r.outbox[0]!;
    try {
      await withRetry(ctx.config.networkRetry, ctx.sleep, (e) => e instanceof DownloadError, () => ctx.backend.report(next));
    } catch (err) {
      if (!(err instanceof DownloadError)) throw err;
      ctx.log(`report ${next.cycleId} not delivered (${err.code}); kept for the next cycle`);
      break;
    }
    r = { ...r, outbox: r.outbox.slice(1) };
    if (r.outbox.length > 0) await ctx.save(r);
  }
  const o = rec.outcome;
  if (o !== null) await ctx.hmi.notify?.({ kind: 'result', outcome: o.outcome, ...(o.reason === undefined ? {} : { reason: o.reason }) });
  return { event: r.outbox.length === 0 ? 'sent' : 'failed', record: r };
};

/**
 * checkin: every ECU's signed version report (fresh counter, attestation, attacks detected),
 * the vehicle version manifest signed by the Primary (Uptane 2.1 §5.4.2.1), sent to the server
 * (STANDARDS.md §1 steps 2-3). Network errors are retried with bounded backoff.
 */
import { DownloadError, Metadata, signVehicleManifest } from '@reflash/metadata';
import type { MetadataStore } from '@reflash/verify';
import type { EcuVersionReport } from '@reflash/metadata';
import { withRetry } from '../backoff.js';
import type { Action } from '../context.js';
import { withOutcome } from '../context.js';
import type { ManifestAnswer } from '../ports.js';
import { keepReceipt } from '../receipts.js';

/** The version of the trusted root in `store` (undefined if none or unreadable: verify will say). */
async function trustedRootVersion(store: MetadataStore): Promise<number | undefined> {
  const bytes = await store.load('root');
  if (bytes === undefined) return undefined;
  try {
    return Metadata.fromBytes(bytes, 'root').signed.version;
  } catch {
    return undefined;
  }
}

export const checkin: Action = async (ctx, rec) => {
  const reports: EcuVersionReport[] = [];
  for (const link of ctx.links) reports.push(await link.versionReport(rec.nonce === null ? {} : { nonce: rec.nonce }));
  const manifest = signVehicleManifest(ctx.vin, ctx.primaryEcuSerial, reports, ctx.signer);
  let answer: ManifestAnswer;
  try {
    // The answer may carry the Director metadata (verified next, in `verify`, as if fetched).
    const directorRootVersion = await trustedRootVersion(ctx.directorStore);
    const opts = directorRootVersion === undefined ? {} : { directorRootVersion };
    answer = await withRetry(ctx.config.networkRetry, ctx.sleep, (e) => e instanceof DownloadError, () => ctx.backend.sendManifest(manifest, opts));
  } catch (err) {
    if (err instanceof DownloadError) return { event: 'error', record: withOutcome(rec, 'offline', { error: err }) };
    throw err;
  }
  // Delivered: the attacks these reports carried are now known to the Director.
  for (const r of reports) await ctx.links.find((l) => l.serial === r.signed.ecuSerial)!.acknowledgeReport(r.signed.reportCounter);
  // TCG audit and accountability: the Primary keeps the receipts of its update results.
  for (const r of answer.receipts ?? []) await keepReceipt(ctx.dir, r);
  return { event: 'sent', record: { ...rec, nonce: answer.nonce ?? null, directorTargetsVersion: answer.directorTargetsVersion ?? null } };
};

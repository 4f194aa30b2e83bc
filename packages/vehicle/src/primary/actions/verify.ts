/**
 * verify: Uptane 2.1 §5.4.4.2 full verification of the Director and the Image repository
 * (@reflash/verify fullVerification, with the cycle's reference time and the release counters
 * of what each ECU runs), then the bundle: every ECU whose Director target differs from what it
 * runs. A repository error (bad signature, expiry, rollback, mix-and-match, an image the Image
 * repository does not have, endless metadata...) is an attack: recorded and reported.
 */
import { createHash } from 'node:crypto';
import { DownloadError, DownloadLengthError, RepositoryError } from '@reflash/metadata';
import { Updater, fullVerification } from '@reflash/verify';
import type { VerifiedTarget } from '@reflash/verify';
import { sameImage } from '../../digest.js';
import { imageInfoOf } from '../../ecu/verification.js';
import { campaignOf } from '../campaign.js';
import type { Action } from '../context.js';
import { recordAttack, withOutcome } from '../context.js';
import type { EcuStatus } from '../ports.js';
import type { Bundle, BundleItem } from '../record.js';

function bundleKey(items: readonly BundleItem[]): string {
  const ids = items.map((i) => [i.ecuSerial, i.image.length, i.image.hashes['sha256'] ?? i.image.hashes['sha512'] ?? '']);
  return createHash('sha256').update(JSON.stringify(ids)).digest('hex');
}

export const verify: Action = async (ctx, rec) => {
  const referenceTime = rec.cycle!.referenceTime;
  const statuses = new Map<string, EcuStatus>();
  for (const l of ctx.links) statuses.set(l.serial, await l.status());
  const counters = new Map<string, number>();
  for (const [serial, st] of statuses) {
    const rc = Math.max(st.running.image?.releaseCounter ?? -1, rec.releaseCounters[serial] ?? -1);
    if (rc >= 0) counters.set(serial, rc);
  }
  let targets: readonly VerifiedTarget[];
  let directorTargetsVersion: number;
  try {
    ({ targets, directorTargetsVersion } = await fullVerification({
      director: new Updater({ metadataBaseUrl: ctx.backend.directorBaseUrl, fetcher: ctx.backend.directorFetcher, store: ctx.directorStore, referenceTime }),
      image: new Updater({ metadataBaseUrl: ctx.backend.imageBaseUrl, fetcher: ctx.backend.imageFetcher, store: ctx.imageStore, referenceTime }),
      ecus: new Map(ctx.links.map((l) => [l.serial, l.hardwareId])),
      installedReleaseCounters: counters,
    }));
  } catch (err) {
    // Endless data is the server's fault, like a bad signature: an attack.
    if (err instanceof RepositoryError || err instanceof DownloadLengthError) {
      return { event: 'rejected', record: withOutcome(await recordAttack(ctx, rec, err), 'rejected', { error: err }) };
    }
    if (err instanceof DownloadError) return { event: 'error', record: withOutcome(rec, 'offline', { error: err }) };
    throw err;
  }
  const items: BundleItem[] = [];
  for (const t of targets) {
    const running = statuses.get(t.ecuSerial)!.running.image;
    const image = imageInfoOf(t.image, t.releaseCounter);
    if (running !== null && sameImage(running, image)) continue;
    const name = image.hashes['sha256'] ?? image.hashes['sha512']!;
    items.push({ ecuSerial: t.ecuSerial, hardwareId: t.hardwareId, image, previous: running, file: `images/${name}.img` });
  }
  if (items.length === 0) return { event: 'noUpdates', record: withOutcome({ ...rec, directorTargetsVersion }, 'no-update') };
  // The Primary's own ECU is activated last (its reset interrupts the others' installation).
  const order = (serial: string): number => (serial === ctx.primaryEcuSerial ? ctx.links.length : ctx.links.findIndex((l) => l.serial === serial));
  items.sort((a, b) => order(a.ecuSerial) - order(b.ecuSerial));
  const customs = items.map((i) => targets.find((t) => t.ecuSerial === i.ecuSerial)!.target.custom);
  const bundle: Bundle = { key: bundleKey(items), directorTargetsVersion, items, campaign: campaignOf(customs, ctx.config.minBatteryFloorPercent) };
  const next = { ...rec, bundle, directorTargetsVersion };
  if (rec.bundleAttempts?.key === bundle.key && rec.bundleAttempts.count >= ctx.config.maxBundleAttempts) {
    return { event: 'blocked', record: withOutcome(next, 'blocked', { code: 'BUNDLE_BLOCKED', reason: `this bundle failed ${rec.bundleAttempts.count} times; waiting for a new assignment` }) };
  }
  return { event: 'updates', record: next };
};

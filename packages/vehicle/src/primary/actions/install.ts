/**
 * install: one ECU per step: switch its boot selection to the written bank ('pending', boot
 * attempts counted) and reset it (STANDARDS.md §3: A/B swap). An ECU that does not come up
 * healthy on its new image (its bootloader fell back after maxBootAttempts) fails the bundle.
 */
import { sameImage } from '../../digest.js';
import { EcuError } from '../../errors.js';
import type { Action } from '../context.js';
import { linkOf, requireBundle, withOutcome } from '../context.js';

export const install: Action = async (ctx, rec) => {
  const items = requireBundle(rec).items;
  const item = items[rec.cursor]!;
  const link = linkOf(ctx, item.ecuSerial);
  try {
    await link.activate();
    const boot = await link.reboot();
    if (!boot.healthy || boot.image === null || !sameImage(boot.image, item.image)) {
      const why = boot.fellBack ? 'its bootloader fell back to the previous bank' : 'it is not healthy';
      return { event: 'failed', record: withOutcome(rec, 'rolled-back', { code: 'ECU_BOOT_FAILED', reason: `ECU ${item.ecuSerial} did not start ${item.image.filepath}: ${why}` }) };
    }
  } catch (err) {
    if (err instanceof EcuError) return { event: 'failed', record: withOutcome(rec, 'rolled-back', { error: err }) };
    throw err;
  }
  const cursor = rec.cursor + 1;
  return { event: cursor < items.length ? 'next' : 'done', record: { ...rec, cursor, progress: rec.progress + 1 } };
};

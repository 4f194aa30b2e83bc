/**
 * Offer an update only to compatible vehicles (UN R156 7.1.2.3): the compatibility report is
 * computed first from each vehicle's last known configuration; only compatible vehicles get
 * assignments, the others are listed and left alone.
 */
import type { ServerContext } from '../context.js';
import { createAssignments } from '../services/assignments.js';
import { checkCompatibility } from './compatibility.js';
import type { CompatibilityReport } from './compatibility.js';
import type { UpdatePackage } from './types.js';

export interface OfferResult extends CompatibilityReport {
  /** assignments created (one per ECU of a compatible vehicle with a package hardware id) */
  readonly assigned: number;
}

export async function offerUpdate(ctx: ServerContext, vins: readonly string[], pkg: UpdatePackage, by: string): Promise<OfferResult> {
  const report = await checkCompatibility(ctx.db.kysely, vins, pkg);
  if (report.compatible.length === 0) return { ...report, assigned: 0 };
  const { created } = await createAssignments(ctx, report.compatible, pkg.images, by);
  return { ...report, assigned: created };
}

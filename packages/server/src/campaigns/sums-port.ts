/**
 * The seam to the R156 software-update-management half (src/sums/): compatibility of an update
 * package with each vehicle's last known configuration (R156 7.1.1.4: checked before release;
 * incompatible vehicles are never offered it) and whether it touches type-approved systems
 * (7.1.1.5: then a technical service approves it), and which vehicles run a given RXSWIN (the
 * RXSWIN target filter, 7.1.1.b/d). Campaign code calls only this interface.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { checkCompatibility } from '../sums/compatibility.js';
import { impactOf } from '../sums/impact.js';
import { rxswinCondition } from '../sums/registry.js';
import type { RxswinCondition, RxswinSelector } from '../sums/registry.js';
import type { UpdatePackage } from '../sums/types.js';

type Q = Kysely<Database> | Transaction<Database>;

export interface Compatibility {
  readonly compatible: string[];
  readonly incompatible: Array<{ vin: string; reason: string }>;
}

export interface Impact {
  readonly touchesTypeApproved: boolean;
  readonly rxswins: string[];
}

export interface SumsPort {
  checkCompatibility(q: Q, vins: readonly string[], pkg: UpdatePackage): Promise<Compatibility>;
  impactOf(q: Q, pkg: UpdatePackage): Promise<Impact>;
  /** The target-filter condition "current RXSWIN set includes one of these" (UN R156 7.1.1.b/d). */
  rxswinCondition(q: Q, selectors: readonly RxswinSelector[]): Promise<RxswinCondition>;
}

const SUMS: SumsPort = { checkCompatibility, impactOf, rxswinCondition };

export function sumsPort(): SumsPort {
  return SUMS;
}

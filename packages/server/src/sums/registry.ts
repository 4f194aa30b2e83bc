/**
 * The RXSWIN registry (UN R156 7.1.1.b/c, §5 of STANDARDS.md): per vehicle type (model) and
 * regulation, which software set defines each RXSWIN. A vehicle's RXSWIN under a regulation is
 * derived from its installed software (last known configuration): the definition whose every
 * {hardwareId, filename} is installed on an ECU of that hardware id; 'unknown' if none matches.
 */
import { sql } from 'kysely';
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Q } from './dialect.js';

export const UNKNOWN = 'unknown';

export interface SoftwareItem {
  readonly hardwareId: string;
  readonly filename: string;
}

export interface RxswinDefinition {
  readonly id: number;
  readonly model: string;
  readonly regulation: string;
  readonly rxswin: string;
  readonly software: SoftwareItem[];
}

/** What an ECU runs, as attested in its last report. */
export interface InstalledSoftware {
  readonly serial: string;
  readonly hardwareId: string;
  readonly filename: string | null;
  readonly length: number | null;
  readonly sha256: string | null;
}

export interface DerivedRxswin {
  readonly regulation: string;
  /** the RXSWIN, or 'unknown' when the installed software matches no registered definition */
  readonly rxswin: string;
}

export function sortSoftware(items: readonly SoftwareItem[]): SoftwareItem[] {
  return [...items].map((s) => ({ hardwareId: s.hardwareId, filename: s.filename }))
    .sort((a, b) => (a.hardwareId === b.hardwareId ? (a.filename < b.filename ? -1 : 1) : a.hardwareId < b.hardwareId ? -1 : 1));
}

export async function definitions(q: Q, model?: string): Promise<RxswinDefinition[]> {
  let sel = q.selectFrom('sums_rxswins').select(['id', 'model', 'regulation', 'rxswin', 'software']);
  if (model !== undefined) sel = sel.where('model', '=', model);
  const rows = await sel.orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, model: r.model, regulation: r.regulation, rxswin: r.rxswin, software: JSON.parse(r.software) as SoftwareItem[] }));
}

/** The RXSWIN per regulation registered for the model; the newest definition wins when several match. */
export function deriveRxswins(defs: readonly RxswinDefinition[], installed: readonly InstalledSoftware[]): DerivedRxswin[] {
  const runs = new Set(installed.filter((e) => e.filename !== null).map((e) => `${e.hardwareId}\n${e.filename}`));
  const byRegulation = new Map<string, string>();
  for (const d of defs) {
    if (!byRegulation.has(d.regulation)) byRegulation.set(d.regulation, UNKNOWN);
    if (d.software.length > 0 && d.software.every((s) => runs.has(`${s.hardwareId}\n${s.filename}`))) byRegulation.set(d.regulation, d.rxswin);
  }
  return [...byRegulation.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([regulation, rxswin]) => ({ regulation, rxswin }));
}

export async function installedSoftware(q: Q, vin: string): Promise<InstalledSoftware[]> {
  const rows = await q.selectFrom('ecus').select(['serial', 'hardware_id', 'installed_filename', 'installed_length', 'installed_sha256'])
    .where('vin', '=', vin).orderBy('serial').execute();
  return rows.map((r) => ({ serial: r.serial, hardwareId: r.hardware_id, filename: r.installed_filename, length: r.installed_length, sha256: r.installed_sha256 }));
}

/**
 * One entry of a campaign's RXSWIN target filter: vehicles whose CURRENT RXSWIN set (derived as
 * above from the last known configuration, UN R156 7.1.1.b/d) includes an RXSWIN under
 * `regulation` (any known one when `rxswin` is absent), or exactly `rxswin` (under any
 * regulation when `regulation` is absent). At least one of the two is given.
 */
export interface RxswinSelector {
  readonly regulation?: string;
  readonly rxswin?: string;
}

function selects(s: RxswinSelector, d: RxswinDefinition): boolean {
  return (s.regulation === undefined || s.regulation === d.regulation) && (s.rxswin === undefined || s.rxswin === d.rxswin);
}

export interface RxswinCondition {
  /** selectors that no registered definition can satisfy (the caller refuses them) */
  readonly unmatched: RxswinSelector[];
  /** the SQL condition over `vehicles` (correlated on vehicles.vin and vehicles.model) */
  readonly where: (eb: ExpressionBuilder<Database, 'vehicles'>) => Expression<SqlBool>;
}

/**
 * The set-based form of `deriveRxswins` as a condition on a `vehicles` row, both dialects: the
 * vehicle's RXSWIN under (model, regulation) is definition d when every {hardwareId, filename}
 * of d is installed on an ECU of that hardware id AND no newer definition of the same model and
 * regulation also matches (the newest wins, as in `deriveRxswins`). The vehicle is selected
 * when, for some selector, the definition that is current for it satisfies the selector.
 * The registry is small (one row per type-approved RXSWIN), so the condition is built from it.
 */
export async function rxswinCondition(q: Q, selectors: readonly RxswinSelector[]): Promise<RxswinCondition> {
  const defs = await definitions(q);
  const unmatched = selectors.filter((s) => !defs.some((d) => selects(s, d)));
  const chosen = defs.filter((d) => selectors.some((s) => selects(s, d)));
  const where = (eb: ExpressionBuilder<Database, 'vehicles'>): Expression<SqlBool> => {
    const installs = (d: RxswinDefinition): Expression<SqlBool> => eb.and(d.software.map((s) => eb.exists(
      eb.selectFrom('ecus').select('ecus.serial').whereRef('ecus.vin', '=', 'vehicles.vin')
        .where('ecus.hardware_id', '=', s.hardwareId).where('ecus.installed_filename', '=', s.filename),
    )));
    if (chosen.length === 0) return sql<SqlBool>`1 = 0`;
    return eb.or(chosen.map((d) => {
      const newer = defs.filter((x) => x.model === d.model && x.regulation === d.regulation && x.id > d.id);
      return eb.and([eb('vehicles.model', '=', d.model), installs(d), ...newer.map((x) => eb.not(installs(x)))]);
    }));
  };
  return { unmatched, where };
}

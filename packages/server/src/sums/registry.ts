/**
 * The RXSWIN registry (UN R156 7.1.1.b/c, §5 of STANDARDS.md): per vehicle type (model) and
 * regulation, which software set defines each RXSWIN. A vehicle's RXSWIN under a regulation is
 * derived from its installed software (last known configuration): the definition whose every
 * {hardwareId, filename} is installed on an ECU of that hardware id; 'unknown' if none matches.
 */
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

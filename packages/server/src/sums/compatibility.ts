/**
 * Compatibility of an update package with each target vehicle's LAST KNOWN CONFIGURATION
 * (UN R156 7.1.1.d / 7.1.2.3: checked before the update is offered). Per package (once):
 * every image is catalogued or signed in the current Image repository for the hardware id it
 * is offered to. Per vehicle (one set-based query, joins and aggregates, no per-vehicle loop):
 * - it exists and has an ECU with each hardware id of the package;
 * - every interdependency "image A needs part P >= version" is met either by the package
 *   itself or by an image the vehicle runs (as attested: file name AND sha256 match the
 *   catalogue) on an ECU the package does not replace.
 */
import { readUptaneCustom } from '@reflash/metadata';
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import { ApiError } from '../errors.js';
import { ImageRepoView } from '../services/image-targets.js';
import { isPostgres, vinTable, withWorkMem } from './dialect.js';
import type { Q } from './dialect.js';
import type { UpdatePackage } from './types.js';

export interface CompatibilityReport {
  compatible: string[];
  incompatible: Array<{ vin: string; reason: string }>;
}

/** A dependency the package does not satisfy by itself: each vehicle must. */
interface OpenDependency {
  readonly image: string;
  readonly partNumber: string;
  readonly minVersion: string;
  /** catalogued images of that part at that version or later: (file name, sha256) */
  readonly satisfiedBy: ReadonlyArray<readonly [string, string]>;
}

interface PackagePlan {
  /** package-level reason why no vehicle can take it, if any */
  readonly refusal?: string;
  readonly hardwareIds: readonly string[];
  readonly open: readonly OpenDependency[];
}

/** Where each image's compatible hardware comes from: the catalogue, else the signed Image repository. */
async function compatibleHardware(q: Q, filenames: readonly string[]): Promise<Map<string, { hardwareIds: readonly string[]; partNumber?: string; versionKey?: string }>> {
  const out = new Map<string, { hardwareIds: readonly string[]; partNumber?: string; versionKey?: string }>();
  if (filenames.length === 0) return out;
  const rows = await q.selectFrom('sums_software').select(['filename', 'hardware_ids', 'part_number', 'version_key']).where('filename', 'in', [...filenames]).execute();
  for (const r of rows) out.set(r.filename, { hardwareIds: JSON.parse(r.hardware_ids) as string[], partNumber: r.part_number, versionKey: r.version_key });
  const missing = filenames.filter((f) => !out.has(f));
  if (missing.length > 0) {
    let view: ImageRepoView | undefined;
    try {
      view = await ImageRepoView.load(q);
    } catch (err) {
      // Nothing signed yet: the missing images have no compatible hardware (reported per image).
      if (!(err instanceof ApiError && err.code === 'ASSIGNMENT_INVALID')) throw err;
      view = undefined;
    }
    for (const f of missing) {
      const found = await view?.find(f);
      if (found !== undefined) out.set(f, { hardwareIds: readUptaneCustom(found.target).hardwareIds ?? [] });
    }
  }
  return out;
}

async function plan(q: Q, pkg: UpdatePackage): Promise<PackagePlan> {
  const entries = Object.entries(pkg.images);
  const hardwareIds = entries.map(([hw]) => hw).sort();
  if (entries.length === 0) return { refusal: 'the package names no image', hardwareIds, open: [] };
  const hw = await compatibleHardware(q, [...new Set(entries.map(([, f]) => f))]);
  for (const [hardwareId, filename] of entries) {
    const c = hw.get(filename);
    if (c === undefined) return { refusal: `image ${filename} is neither catalogued nor in the current Image repository`, hardwareIds, open: [] };
    if (!c.hardwareIds.includes(hardwareId)) return { refusal: `image ${filename} is not compatible with hardware id ${hardwareId} (it is for ${c.hardwareIds.join(', ') || 'no hardware'})`, hardwareIds, open: [] };
  }
  const deps = await q.selectFrom('sums_dependencies').select(['filename', 'requires_part_number', 'min_version', 'min_version_key'])
    .where('filename', 'in', entries.map(([, f]) => f)).orderBy('id').execute();
  const open: OpenDependency[] = [];
  for (const d of deps) {
    // Met by the package itself: an image of that part at that version or later.
    const byPackage = entries.some(([, f]) => {
      const c = hw.get(f);
      return c?.partNumber === d.requires_part_number && c.versionKey !== undefined && c.versionKey >= d.min_version_key;
    });
    if (byPackage) continue;
    const satisfiedBy = (await q.selectFrom('sums_software').select(['filename', 'sha256'])
      .where('part_number', '=', d.requires_part_number).where('version_key', '>=', d.min_version_key).execute()).map((r) => [r.filename, r.sha256] as const);
    open.push({ image: d.filename, partNumber: d.requires_part_number, minVersion: d.min_version, satisfiedBy });
  }
  return { hardwareIds, open };
}

function flagCols(p: PackagePlan): RawBuilder<unknown> {
  const cols: Array<RawBuilder<unknown>> = [sql`count(e.serial) as ${sql.ref('n')}`];
  p.hardwareIds.forEach((hw, i) => cols.push(sql`max(case when e.hardware_id = ${hw} then 1 else 0 end) as ${sql.ref(`h${i}`)}`));
  const replaced = sql.join(p.hardwareIds.map((hw) => sql`${hw}`));
  p.open.forEach((d, i) => {
    // An ECU the package does not replace runs a satisfying image, as attested (file name and sha256).
    const runs = d.satisfiedBy.length === 0 ? sql`false` : sql`(e.installed_filename, e.installed_sha256) in (${sql.join(d.satisfiedBy.map(([f, h]) => sql`(${f}, ${h})`))})`;
    cols.push(sql`max(case when e.hardware_id not in (${replaced}) and ${runs} then 1 else 0 end) as ${sql.ref(`d${i}`)}`);
  });
  return sql.join(cols);
}

/** One row per VIN with its flags; every registered vehicle has at least one ECU (n = 0: unknown VIN). */
function flagRows(q: Q, source: { vins: readonly string[] } | { models: readonly string[] | undefined }, p: PackagePlan): RawBuilder<Record<string, unknown>> {
  if ('vins' in source) {
    return sql<Record<string, unknown>>`select t.vin as vin, ${flagCols(p)} from (${vinTable(q, source.vins)}) t left join ecus e on e.vin = t.vin group by t.vin`;
  }
  const where = source.models === undefined || source.models.length === 0 ? sql`` : sql`where v.model in (${sql.join(source.models.map((m) => sql`${m}`))})`;
  return sql<Record<string, unknown>>`select v.vin as vin, ${flagCols(p)} from vehicles v join ecus e on e.vin = v.vin ${where} group by v.vin`;
}

/** Evaluate the package over the VINs of `source`. */
async function evaluate(q: Q, source: { vins: readonly string[] } | { models: readonly string[] | undefined }, p: PackagePlan): Promise<CompatibilityReport> {
  const res = await flagRows(q, source, p).execute(q);
  const compatible: string[] = [];
  const incompatible: Array<{ vin: string; reason: string }> = [];
  for (const r of res.rows) {
    const vin = r['vin'] as string;
    if (Number(r['n']) === 0) {
      incompatible.push({ vin, reason: 'no such vehicle' });
      continue;
    }
    const reasons: string[] = [];
    p.hardwareIds.forEach((hw, i) => { if (Number(r[`h${i}`]) !== 1) reasons.push(`no ECU with hardware id ${hw}`); });
    p.open.forEach((d, i) => { if (Number(r[`d${i}`]) !== 1) reasons.push(`image ${d.image} needs ${d.partNumber} >= ${d.minVersion}, which the vehicle does not run and the package does not bring`); });
    if (reasons.length === 0) compatible.push(vin);
    else incompatible.push({ vin, reason: reasons.join('; ') });
  }
  return { compatible, incompatible };
}

/**
 * VINs per query. PostgreSQL: all at once (one array parameter; one hash join over ecus, where
 * chunks would each scan it). SQLite: chunks (json_each + index lookups per VIN).
 */
const SQLITE_CHUNK = 200_000;

/** The compatibility report for `vins` (duplicates counted once). Vehicles that are not compatible must never be offered the package. */
export async function checkCompatibility(q: Q, vins: readonly string[], pkg: UpdatePackage): Promise<CompatibilityReport> {
  const unique = [...new Set(vins)].sort();
  const p = await plan(q, pkg);
  if (p.refusal !== undefined) return { compatible: [], incompatible: unique.map((vin) => ({ vin, reason: p.refusal! })) };
  const out: CompatibilityReport = { compatible: [], incompatible: [] };
  const chunk = isPostgres(q) ? Math.max(1, unique.length) : SQLITE_CHUNK;
  for (let i = 0; i < unique.length; i += chunk) {
    const part = await withWorkMem(q, (t) => evaluate(t, { vins: unique.slice(i, i + chunk) }, p));
    for (const v of part.compatible) out.compatible.push(v);
    for (const v of part.incompatible) out.incompatible.push(v);
  }
  out.compatible.sort();
  out.incompatible.sort((a, b) => (a.vin < b.vin ? -1 : a.vin > b.vin ? 1 : 0));
  return out;
}

/** Target filter: vehicles of these models (all vehicles when none is given). */
export interface VehicleFilter {
  readonly models?: readonly string[];
}

/** The compatibility report for every vehicle the filter selects, in one query. */
export async function checkCompatibilityByFilter(q: Q, f: VehicleFilter, pkg: UpdatePackage): Promise<CompatibilityReport> {
  const p = await plan(q, pkg);
  if (p.refusal !== undefined) {
    let sel = q.selectFrom('vehicles').select('vin');
    if (f.models !== undefined && f.models.length > 0) sel = sel.where('model', 'in', [...f.models]);
    return { compatible: [], incompatible: (await sel.orderBy('vin').execute()).map((r) => ({ vin: r.vin, reason: p.refusal! })) };
  }
  return withWorkMem(q, (t) => evaluate(t, { models: f.models }, p));
}

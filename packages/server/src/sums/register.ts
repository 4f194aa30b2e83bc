/**
 * The auditable register per RXSWIN (UN R156 7.1.1.g): for every vehicle update, per regulation
 * concerned, the RXSWIN and the software before and after with the hashes and report counters
 * the ECUs attested. Fed by check-in after its transaction commits (`recordRxswinTransitions`);
 * a change of a vehicle's RXSWIN is also appended to the accountability log (rxswin-change, with
 * `rxswin` = the regulation and `from`/`to` the RXSWINs; `from` null when it was unknown).
 * Rows are never updated; removal only through `purgeRegister` after the retention period.
 */
import type { ServerContext } from '../context.js';
import { auditEvents } from '../audit/events.js';
import type { VehicleUpdateResultEvent } from '../audit/events.js';
import { ApiError } from '../errors.js';
import type { Q } from './dialect.js';
import { UNKNOWN, definitions, deriveRxswins } from './registry.js';
import type { InstalledSoftware } from './registry.js';

/** What the register keeps per ECU. */
export interface AttestedSoftware {
  readonly serial: string;
  readonly hardwareId: string;
  readonly filename: string | null;
  readonly length: number | null;
  readonly sha256: string | null;
  /** the ECU report counter of the report that attested it (null: not known) */
  readonly reportCounter: number | null;
}

export interface RegisterRow {
  readonly id: number;
  readonly vin: string;
  readonly model: string;
  readonly regulation: string;
  readonly rxswinBefore: string;
  readonly rxswinAfter: string;
  readonly softwareBefore: AttestedSoftware[];
  readonly softwareAfter: AttestedSoftware[];
  readonly reportCounter: number;
  readonly recordedAt: number;
}

type Result = Omit<VehicleUpdateResultEvent, 'type'>;

/** Called by check-in after it committed, with the update results it collected. */
export async function recordRxswinTransitions(ctx: ServerContext, results: readonly Result[]): Promise<void> {
  const byVin = new Map<string, Result[]>();
  for (const r of results) {
    if (r.status !== 'installed') continue;
    const list = byVin.get(r.vin) ?? [];
    list.push(r);
    byVin.set(r.vin, list);
  }
  for (const [vin, updates] of byVin) await recordVehicle(ctx, vin, updates);
}

async function recordVehicle(ctx: ServerContext, vin: string, updates: readonly Result[]): Promise<void> {
  const q = ctx.db.kysely;
  const vehicle = await q.selectFrom('vehicles').select('model').where('vin', '=', vin).executeTakeFirst();
  if (vehicle === undefined) return;
  const defs = await definitions(q, vehicle.model);
  if (defs.length === 0) return;
  const ecus = await q.selectFrom('ecus').select(['serial', 'hardware_id', 'installed_filename', 'installed_length', 'installed_sha256', 'last_counter'])
    .where('vin', '=', vin).orderBy('serial').execute();
  const updated = new Map(updates.map((u) => [u.ecuSerial, u]));
  const afterSw: AttestedSoftware[] = ecus.map((e) => ({
    serial: e.serial, hardwareId: e.hardware_id, filename: e.installed_filename, length: e.installed_length, sha256: e.installed_sha256, reportCounter: e.last_counter,
  }));
  const beforeSw: AttestedSoftware[] = afterSw.map((e) => {
    const u = updated.get(e.serial);
    if (u === undefined) return e;
    // The previous report's counter is not kept per image: the register names the one that attested the change.
    return { serial: e.serial, hardwareId: e.hardwareId, filename: u.from?.filename ?? null, length: u.from?.length ?? null, sha256: u.from?.sha256 ?? null, reportCounter: null };
  });
  const installed = (sw: readonly AttestedSoftware[]): InstalledSoftware[] => sw.map((s) => ({ serial: s.serial, hardwareId: s.hardwareId, filename: s.filename, length: s.length, sha256: s.sha256 }));
  const before = new Map(deriveRxswins(defs, installed(beforeSw)).map((d) => [d.regulation, d.rxswin]));
  const after = deriveRxswins(defs, installed(afterSw));
  const touchedHw = new Set(ecus.filter((e) => updated.has(e.serial)).map((e) => e.hardware_id));
  const concerned = new Set(defs.filter((d) => d.software.some((s) => touchedHw.has(s.hardwareId))).map((d) => d.regulation));
  const counter = Math.max(0, ...ecus.filter((e) => updated.has(e.serial)).map((e) => e.last_counter ?? 0));
  const now = ctx.now();
  const rows = after
    .filter((a) => concerned.has(a.regulation) || before.get(a.regulation) !== a.rxswin)
    .map((a) => ({
      vin, model: vehicle.model, regulation: a.regulation, rxswin_before: before.get(a.regulation) ?? UNKNOWN, rxswin_after: a.rxswin,
      software_before: JSON.stringify(beforeSw), software_after: JSON.stringify(afterSw), report_counter: counter, recorded_at: now,
    }));
  if (rows.length === 0) return;
  await q.insertInto('sums_register').values(rows).execute();
  for (const r of rows) {
    if (r.rxswin_before === r.rxswin_after) continue;
    await ctx.audit.append(auditEvents.rxswinChange({
      rxswin: r.regulation, from: r.rxswin_before === UNKNOWN ? null : r.rxswin_before, to: r.rxswin_after,
      vehicleType: r.model, vin, by: 'vehicle-report', reason: `software update attested by the vehicle (report counter ${counter})`, time: now,
    }));
  }
}

export interface RegisterFilter {
  readonly rxswin?: string;
  readonly model?: string;
  readonly vin?: string;
  /** recorded_at >= from (ms) */
  readonly from?: number;
  /** recorded_at < to (ms) */
  readonly to?: number;
  readonly limit?: number;
  readonly afterId?: number;
}

export async function readRegister(q: Q, f: RegisterFilter): Promise<RegisterRow[]> {
  let sel = q.selectFrom('sums_register').selectAll();
  if (f.rxswin !== undefined) {
    const x = f.rxswin;
    sel = sel.where((eb) => eb.or([eb('rxswin_before', '=', x), eb('rxswin_after', '=', x)]));
  }
  if (f.model !== undefined) sel = sel.where('model', '=', f.model);
  if (f.vin !== undefined) sel = sel.where('vin', '=', f.vin);
  if (f.from !== undefined) sel = sel.where('recorded_at', '>=', f.from);
  if (f.to !== undefined) sel = sel.where('recorded_at', '<', f.to);
  if (f.afterId !== undefined) sel = sel.where('id', '>', f.afterId);
  sel = sel.orderBy('id');
  if (f.limit !== undefined) sel = sel.limit(f.limit);
  return (await sel.execute()).map((r) => ({
    id: r.id, vin: r.vin, model: r.model, regulation: r.regulation, rxswinBefore: r.rxswin_before, rxswinAfter: r.rxswin_after,
    softwareBefore: JSON.parse(r.software_before) as AttestedSoftware[], softwareAfter: JSON.parse(r.software_after) as AttestedSoftware[],
    reportCounter: r.report_counter, recordedAt: r.recorded_at,
  }));
}

const YEAR_MS = 365.25 * 86_400_000;

/**
 * Remove register rows recorded before `before` (ms). Refuses (RETENTION_NOT_ELAPSED) when
 * `before` is later than now minus the configured retention: nothing younger than the
 * retention period is ever removed. There is no route for this; it is an operator task.
 */
export async function purgeRegister(ctx: ServerContext, before: number): Promise<number> {
  const limit = ctx.now() - ctx.config.retentionYears * YEAR_MS;
  if (before > limit) {
    throw new ApiError('RETENTION_NOT_ELAPSED', `records are kept ${ctx.config.retentionYears} years: only records before ${new Date(limit).toISOString()} may be removed`);
  }
  const res = await ctx.db.kysely.deleteFrom('sums_register').where('recorded_at', '<', before).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/**
 * Export of the register per RXSWIN for an approval authority (R156 7.1): JSON or CSV, selected
 * by vehicle type, time range or RXSWIN. Every export is appended to the accountability log
 * (record-export: kind, number of records, SHA-256 of exactly the bytes handed over, who).
 */
import { createHash } from 'node:crypto';
import type { ServerContext } from '../context.js';
import { auditEvents } from '../audit/events.js';
import { ApiError } from '../errors.js';
import { readRegister } from './register.js';
import type { AttestedSoftware, RegisterFilter, RegisterRow } from './register.js';

export const EXPORT_KIND = 'rxswin-register';
/** Largest export in records: narrow the filter beyond that. */
export const MAX_EXPORT_RECORDS = 500_000;

export interface ExportResult {
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly records: number;
  readonly sha256: string;
  /** index of the record-export entry in the accountability log */
  readonly logIndex: number;
}

function csvField(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function softwareText(sw: readonly AttestedSoftware[]): string {
  return sw.map((s) => [s.serial, s.hardwareId, s.filename ?? '', s.length ?? '', s.sha256 ?? '', s.reportCounter ?? ''].join(':')).join(';');
}

export const CSV_COLUMNS = ['id', 'vin', 'model', 'regulation', 'rxswin_before', 'rxswin_after', 'recorded_at', 'report_counter', 'software_before', 'software_after'] as const;

/** RFC 4180 CSV; software cells list `serial:hardwareId:filename:length:sha256:reportCounter` joined by `;`. */
export function toCsv(rows: readonly RegisterRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push([r.id, r.vin, r.model, r.regulation, r.rxswinBefore, r.rxswinAfter, new Date(r.recordedAt).toISOString(), r.reportCounter, softwareText(r.softwareBefore), softwareText(r.softwareAfter)].map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function toJson(rows: readonly RegisterRow[], filter: RegisterFilter, generatedAt: number): string {
  return `${JSON.stringify({
    kind: EXPORT_KIND,
    generatedAt: new Date(generatedAt).toISOString(),
    filter: {
      ...(filter.model === undefined ? {} : { model: filter.model }),
      ...(filter.rxswin === undefined ? {} : { rxswin: filter.rxswin }),
      ...(filter.from === undefined ? {} : { from: new Date(filter.from).toISOString() }),
      ...(filter.to === undefined ? {} : { to: new Date(filter.to).toISOString() }),
    },
    records: rows.map((r) => ({ ...r, recordedAt: new Date(r.recordedAt).toISOString() })),
  }, null, 2)}\n`;
}

export async function exportRegister(ctx: ServerContext, format: 'json' | 'csv', filter: RegisterFilter, by: string): Promise<ExportResult> {
  const rows = await readRegister(ctx.db.kysely, { ...filter, limit: MAX_EXPORT_RECORDS + 1 });
  if (rows.length > MAX_EXPORT_RECORDS) throw new ApiError('SUMS_INVALID', `more than ${MAX_EXPORT_RECORDS} records match: narrow the filter (model, from, to, rxswin)`);
  const text = format === 'csv' ? toCsv(rows) : toJson(rows, filter, ctx.now());
  const bytes = Buffer.from(text, 'utf8');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  // Logged before the bytes are handed over: an export that is not logged is not sent.
  const { index } = await ctx.audit.append(auditEvents.recordExport({ kind: `${EXPORT_KIND}.${format}`, records: rows.length, sha256, by }));
  return { bytes, contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8', records: rows.length, sha256, logIndex: index };
}

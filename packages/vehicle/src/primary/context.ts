/** What every state action gets (the Primary's ports, stores and configuration) and returns. */
import { ReflashError, UsageError } from '@reflash/metadata';
import type { Signer } from '@reflash/metadata';
import type { VehicleConfig } from '../config.js';
import type { FileMetadataStore } from '../io/fs-store.js';
import type { Sleep } from './backoff.js';
import type { Backend, EcuLink, Hmi, Outcome, VehicleSignals } from './ports.js';
import type { OutcomeInfo, PrimaryRecord } from './record.js';
import type { Event } from './table.js';

export interface ActionContext {
  readonly dir: string;
  readonly vin: string;
  readonly primaryEcuSerial: string;
  /** the Primary ECU's key: signs the vehicle version manifest (Uptane 2.1 §5.4.2.1.1) */
  readonly signer: Signer;
  /** every ECU the Primary updates, its own included */
  readonly links: readonly EcuLink[];
  readonly backend: Backend;
  readonly signals: VehicleSignals;
  readonly hmi: Hmi;
  /** the vehicle's time source; read once per cycle (CONVENTIONS.md §4) */
  readonly clock: () => number;
  readonly sleep: Sleep;
  readonly config: VehicleConfig;
  readonly directorStore: FileMetadataStore;
  readonly imageStore: FileMetadataStore;
  /** Persist the record before a further side effect inside a state. */
  readonly save: (r: PrimaryRecord) => Promise<void>;
  readonly log: (line: string) => void;
}

export interface ActionResult {
  readonly event: Event;
  readonly record: PrimaryRecord;
}

export type Action = (ctx: ActionContext, rec: PrimaryRecord) => Promise<ActionResult>;

export function linkOf(ctx: ActionContext, serial: string): EcuLink {
  const l = ctx.links.find((x) => x.serial === serial);
  if (l === undefined) throw new UsageError(`no ECU ${serial} in this vehicle`);
  return l;
}

export function primaryLink(ctx: ActionContext): EcuLink {
  return linkOf(ctx, ctx.primaryEcuSerial);
}

/** Set how the cycle ends (code and reason from an error when given). */
export function withOutcome(rec: PrimaryRecord, outcome: Outcome, info: { code?: string; reason?: string; error?: unknown } = {}): PrimaryRecord {
  const err = info.error;
  const code = info.code ?? (err instanceof ReflashError ? err.code : undefined);
  const reason = info.reason ?? (err instanceof Error ? err.message : undefined);
  const o: OutcomeInfo = { outcome, ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) };
  return { ...rec, outcome: o };
}

/** "CODE: message", as ECU version reports carry attacks (Uptane 2.1 §5.4.2.1.2 attacks_detected). */
export function attackText(err: ReflashError): string {
  return `${err.code}: ${err.message}`;
}

/** Record an attack the Primary detected: in this cycle's report and in its ECU's next report. */
export async function recordAttack(ctx: ActionContext, rec: PrimaryRecord, err: ReflashError): Promise<PrimaryRecord> {
  const text = attackText(err);
  await primaryLink(ctx).recordAttack(text);
  ctx.log(`attack detected: ${text}`);
  return { ...rec, attacks: [...rec.attacks, text] };
}

export function requireBundle(rec: PrimaryRecord): NonNullable<PrimaryRecord['bundle']> {
  if (rec.bundle === null) throw new UsageError(`state ${rec.state} needs a bundle`);
  return rec.bundle;
}

/**
 * What the accountability log records: one typed event per kind named in the issue, built with
 * the `auditEvents` constructors (which validate their input) and turned into the public entry
 * by `encodeEntry`: canonical JSON (OLPC, the project's `canonicalize`), version `v: 1`, the
 * time as an ISO 8601 UTC string, and the VIN replaced by its salted hash (`vinHash`; see
 * vin-hash.ts). Entries are public: nothing else personal goes in (operators are named by a
 * pseudonymous id such as `token:<id>`, never by name).
 */
import { canonicalBytes } from '@reflash/metadata';
import { MAX_ENTRY_BYTES } from '@reflash/log/limits';

/** An image named by its hashes (hex). `filename` is optional (a factory image may have none). */
export interface ImageRef {
  readonly filename?: string;
  readonly length?: number;
  readonly sha256: string;
  readonly sha512?: string;
}

interface Base {
  /** ms since the epoch; default: the server clock at append time */
  readonly time?: number;
}

/** A targets role (top-level or delegated) of the Image repository now lists an image. */
export interface ImagePublishedEvent extends Base {
  readonly type: 'image-published';
  readonly filename: string;
  readonly length: number;
  readonly hashes: { readonly sha256: string; readonly sha512?: string };
  readonly hardwareIds: readonly string[];
  /** the signed targets role and its version */
  readonly role: string;
  readonly version: number;
  /** key ids whose signatures on that role version verified */
  readonly signerKeyIds: readonly string[];
  readonly by: string;
}

/** Keys of an Image-repository or Director role changed (a new root, or online keys rotated). */
export interface KeyRotationEvent extends Base {
  readonly type: 'key-rotation';
  readonly repo: 'image' | 'director';
  readonly role: string;
  /** the root version that made the change, if any */
  readonly rootVersion?: number;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly threshold?: number;
  readonly by: string;
}

export const CAMPAIGN_STATES = ['approved', 'started', 'paused', 'resumed', 'cancelled', 'completed'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

export interface CampaignTransitionEvent extends Base {
  readonly type: 'campaign';
  readonly campaignId: string;
  readonly state: CampaignState;
  readonly by: string;
  readonly reason?: string;
}

/** One ECU's update result as its vehicle reported it. The VIN is hashed in the entry. */
export interface VehicleUpdateResultEvent extends Base {
  readonly type: 'vehicle-update-result';
  readonly vin: string;
  readonly ecuSerial: string;
  readonly hardwareId?: string;
  /** installed before (null: unknown or first install) */
  readonly from: ImageRef | null;
  readonly to: ImageRef;
  readonly status: 'installed' | 'failed';
  readonly reason?: string;
  /** the ECU's signed version report (attestation), as JSON, verbatim */
  readonly attestation: unknown;
  readonly campaignId?: string;
  readonly assignmentId?: number;
}

/** An RXSWIN (UN R156 software identification number) changed for a vehicle type or vehicle. */
export interface RxswinChangeEvent extends Base {
  readonly type: 'rxswin-change';
  readonly rxswin: string;
  readonly from: string | null;
  readonly to: string;
  readonly vehicleType?: string;
  /** hashed in the entry */
  readonly vin?: string;
  readonly by: string;
  readonly reason?: string;
}

/** Records were exported (e.g. for an approval authority): what, how many, and the file's hash. */
export interface RecordExportEvent extends Base {
  readonly type: 'record-export';
  readonly kind: string;
  readonly records: number;
  readonly sha256: string;
  /** hashed in the entry */
  readonly vin?: string;
  readonly by: string;
}

export type AuditEvent = ImagePublishedEvent | KeyRotationEvent | CampaignTransitionEvent | VehicleUpdateResultEvent | RxswinChangeEvent | RecordExportEvent;
export type AuditEventType = AuditEvent['type'];

/** Programmer misuse: an event that does not have the documented shape. */
export class AuditEventError extends Error {
  readonly code = 'AUDIT_BAD_EVENT';
}

function fail(what: string, msg: string): never {
  throw new AuditEventError(`${what}: ${msg}`);
}

function str(what: string, v: unknown, max = 1024): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(what, `must be a non-empty string of at most ${max} characters`);
  return v;
}

function uint(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(what, 'must be a non-negative integer');
  return v;
}

function hex(what: string, v: unknown, bytes: number): string {
  if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(v)) fail(what, `must be ${bytes * 2} lowercase hex digits`);
  return v;
}

function strs(what: string, v: unknown): string[] {
  if (!Array.isArray(v)) fail(what, 'must be an array of strings');
  return v.map((s, i) => str(`${what}[${i}]`, s));
}

function opt<T>(v: T | undefined, check: (v: T) => unknown): void {
  if (v !== undefined) check(v);
}

function imageRef(what: string, r: unknown): ImageRef {
  if (typeof r !== 'object' || r === null) fail(what, 'must be an object');
  const o = r as ImageRef;
  hex(`${what}.sha256`, o.sha256, 32);
  opt(o.sha512, (v) => hex(`${what}.sha512`, v, 64));
  opt(o.filename, (v) => str(`${what}.filename`, v));
  opt(o.length, (v) => uint(`${what}.length`, v));
  return o;
}

function base(e: Base, what: string): void {
  opt(e.time, (v) => uint(`${what}.time`, v));
}

/** Typed constructors: each validates its input and returns the event (throws AuditEventError). */
export const auditEvents = {
  imagePublished(e: Omit<ImagePublishedEvent, 'type'>): ImagePublishedEvent {
    const w = 'imagePublished';
    base(e, w);
    str(`${w}.filename`, e.filename);
    uint(`${w}.length`, e.length);
    hex(`${w}.hashes.sha256`, e.hashes.sha256, 32);
    opt(e.hashes.sha512, (v) => hex(`${w}.hashes.sha512`, v, 64));
    strs(`${w}.hardwareIds`, e.hardwareIds);
    str(`${w}.role`, e.role);
    uint(`${w}.version`, e.version);
    strs(`${w}.signerKeyIds`, e.signerKeyIds);
    str(`${w}.by`, e.by);
    return { type: 'image-published', ...e };
  },
  keyRotation(e: Omit<KeyRotationEvent, 'type'>): KeyRotationEvent {
    const w = 'keyRotation';
    base(e, w);
    if (e.repo !== 'image' && e.repo !== 'director') fail(`${w}.repo`, 'must be "image" or "director"');
    str(`${w}.role`, e.role);
    opt(e.rootVersion, (v) => uint(`${w}.rootVersion`, v));
    strs(`${w}.added`, e.added);
    strs(`${w}.removed`, e.removed);
    opt(e.threshold, (v) => uint(`${w}.threshold`, v));
    str(`${w}.by`, e.by);
    return { type: 'key-rotation', ...e };
  },
  campaignTransition(e: Omit<CampaignTransitionEvent, 'type'>): CampaignTransitionEvent {
    const w = 'campaignTransition';
    base(e, w);
    str(`${w}.campaignId`, e.campaignId);
    if (!(CAMPAIGN_STATES as readonly string[]).includes(e.state)) fail(`${w}.state`, `must be one of ${CAMPAIGN_STATES.join(', ')}`);
    str(`${w}.by`, e.by);
    opt(e.reason, (v) => str(`${w}.reason`, v, 4096));
    return { type: 'campaign', ...e };
  },
  vehicleUpdateResult(e: Omit<VehicleUpdateResultEvent, 'type'>): VehicleUpdateResultEvent {
    const w = 'vehicleUpdateResult';
    base(e, w);
    str(`${w}.vin`, e.vin, 64);
    str(`${w}.ecuSerial`, e.ecuSerial);
    opt(e.hardwareId, (v) => str(`${w}.hardwareId`, v));
    if (e.from !== null) imageRef(`${w}.from`, e.from);
    imageRef(`${w}.to`, e.to);
    if (e.status !== 'installed' && e.status !== 'failed') fail(`${w}.status`, 'must be "installed" or "failed"');
    opt(e.reason, (v) => str(`${w}.reason`, v, 4096));
    if (e.attestation === undefined) fail(`${w}.attestation`, 'is required (the ECU\'s signed report)');
    opt(e.campaignId, (v) => str(`${w}.campaignId`, v));
    opt(e.assignmentId, (v) => uint(`${w}.assignmentId`, v));
    return { type: 'vehicle-update-result', ...e };
  },
  rxswinChange(e: Omit<RxswinChangeEvent, 'type'>): RxswinChangeEvent {
    const w = 'rxswinChange';
    base(e, w);
    str(`${w}.rxswin`, e.rxswin);
    if (e.from !== null) str(`${w}.from`, e.from);
    str(`${w}.to`, e.to);
    opt(e.vehicleType, (v) => str(`${w}.vehicleType`, v));
    opt(e.vin, (v) => str(`${w}.vin`, v, 64));
    str(`${w}.by`, e.by);
    opt(e.reason, (v) => str(`${w}.reason`, v, 4096));
    return { type: 'rxswin-change', ...e };
  },
  recordExport(e: Omit<RecordExportEvent, 'type'>): RecordExportEvent {
    const w = 'recordExport';
    base(e, w);
    str(`${w}.kind`, e.kind);
    uint(`${w}.records`, e.records);
    hex(`${w}.sha256`, e.sha256, 32);
    opt(e.vin, (v) => str(`${w}.vin`, v, 64));
    str(`${w}.by`, e.by);
    return { type: 'record-export', ...e };
  },
} as const;

/** Version of the entry format; bumped if a field changes meaning. */
export const ENTRY_VERSION = 1;

/**
 * The public entry bytes for an event: canonical JSON with `v`, `type`, `time` (ISO 8601 UTC)
 * and the event's fields, `vin` replaced by `vinHash` (computed by the caller's salted hash).
 * Throws AuditEventError if the entry would exceed 65,535 bytes (the tlog-tiles entry limit).
 */
export function encodeEntry(event: AuditEvent, opts: { now: number; vinHash: (vin: string) => string }): Uint8Array {
  const { time, ...fields } = event as AuditEvent & { vin?: string };
  const out: Record<string, unknown> = { ...fields, v: ENTRY_VERSION, time: new Date(time ?? opts.now).toISOString() };
  if (typeof fields.vin === 'string') {
    delete out['vin'];
    out['vinHash'] = opts.vinHash(fields.vin);
  }
  let bytes: Uint8Array;
  try {
    bytes = canonicalBytes(out);
  } catch (err) {
    throw new AuditEventError(`${event.type}: not representable as canonical JSON: ${(err as Error).message}`, { cause: err });
  }
  if (bytes.length > MAX_ENTRY_BYTES) throw new AuditEventError(`${event.type}: entry of ${bytes.length} bytes exceeds ${MAX_ENTRY_BYTES}`);
  return bytes;
}

/**
 * SUMS records (UN R156 7.1.1): the software catalogue (every image with part number, version,
 * hashes and compatible hardware), interdependencies, the RXSWIN registry and impact records.
 * Records are append-only through the API: there is no route that deletes or rewrites one.
 */
import { readUptaneCustom } from '@reflash/metadata';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { ImageRepoView } from '../services/image-targets.js';
import { isUniqueViolation } from '../services/vehicle-lock.js';
import type { Q } from './dialect.js';
import { impactOf, packageKey } from './impact.js';
import { definitions, sortSoftware } from './registry.js';
import type { RxswinDefinition, SoftwareItem } from './registry.js';
import type { UpdatePackage } from './types.js';
import { versionKey } from './version.js';

export interface SoftwareInput {
  readonly filename: string;
  readonly partNumber: string;
  readonly version: string;
  /** required when the image is not (yet) in the current signed Image repository */
  readonly hardwareIds?: readonly string[];
}

export interface SoftwareRecord {
  readonly filename: string;
  readonly partNumber: string;
  readonly version: string;
  readonly length: number;
  readonly hashes: { readonly sha256: string; readonly sha512: string };
  readonly hardwareIds: string[];
  readonly createdBy: string;
  readonly createdAt: number;
}

async function signedHardwareIds(q: Q, filename: string): Promise<readonly string[] | undefined> {
  try {
    const found = await (await ImageRepoView.load(q)).find(filename);
    return found === undefined ? undefined : readUptaneCustom(found.target).hardwareIds ?? [];
  } catch (err) {
    if (err instanceof ApiError && err.code === 'ASSIGNMENT_INVALID') return undefined;
    throw err;
  }
}

/** Catalogue an uploaded image. Hashes come from the upload; hardware from the signed targets when listed there. */
export async function registerSoftware(ctx: ServerContext, input: SoftwareInput, by: string): Promise<SoftwareRecord> {
  const q = ctx.db.kysely;
  const img = await q.selectFrom('images').select(['length', 'sha256', 'sha512']).where('filename', '=', input.filename).executeTakeFirst();
  if (img === undefined) throw new ApiError('IMAGE_NOT_FOUND', `image ${input.filename} was not uploaded`);
  const signed = await signedHardwareIds(q, input.filename);
  let hardwareIds: readonly string[];
  if (signed !== undefined) {
    if (input.hardwareIds !== undefined && [...input.hardwareIds].sort().join('\n') !== [...signed].sort().join('\n')) {
      throw new ApiError('SUMS_INVALID', `image ${input.filename} is signed for hardware ${signed.join(', ')}, not ${input.hardwareIds.join(', ')}`);
    }
    hardwareIds = signed;
  } else {
    if (input.hardwareIds === undefined || input.hardwareIds.length === 0) throw new ApiError('SUMS_INVALID', `image ${input.filename} is not in the signed Image repository yet: name its hardwareIds`);
    hardwareIds = input.hardwareIds;
  }
  const row = {
    filename: input.filename, part_number: input.partNumber, version: input.version, version_key: versionKey(input.version),
    length: img.length, sha256: img.sha256, sha512: img.sha512, hardware_ids: JSON.stringify([...new Set(hardwareIds)].sort()), created_by: by, created_at: ctx.now(),
  };
  const existing = await q.selectFrom('sums_software').selectAll().where('filename', '=', input.filename).executeTakeFirst();
  if (existing !== undefined) {
    const same = existing.part_number === row.part_number && existing.version === row.version && existing.sha256 === row.sha256 && existing.hardware_ids === row.hardware_ids;
    if (!same) throw new ApiError('SUMS_CONFLICT', `image ${input.filename} is already catalogued as ${existing.part_number} ${existing.version}`);
    return toSoftware(existing);
  }
  try {
    await q.insertInto('sums_software').values(row).execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ApiError('SUMS_CONFLICT', `image ${input.filename} was catalogued concurrently`, undefined, { cause: err });
    throw err;
  }
  return toSoftware(row);
}

function toSoftware(r: { filename: string; part_number: string; version: string; length: number; sha256: string; sha512: string; hardware_ids: string; created_by: string; created_at: number }): SoftwareRecord {
  return {
    filename: r.filename, partNumber: r.part_number, version: r.version, length: r.length, hashes: { sha256: r.sha256, sha512: r.sha512 },
    hardwareIds: JSON.parse(r.hardware_ids) as string[], createdBy: r.created_by, createdAt: r.created_at,
  };
}

export async function listSoftware(q: Q, f: { partNumber?: string; limit: number; after?: string }): Promise<SoftwareRecord[]> {
  let sel = q.selectFrom('sums_software').selectAll();
  if (f.partNumber !== undefined) sel = sel.where('part_number', '=', f.partNumber);
  if (f.after !== undefined) sel = sel.where('filename', '>', f.after);
  return (await sel.orderBy('filename').limit(f.limit).execute()).map(toSoftware);
}

export interface DependencyInput {
  readonly filename: string;
  readonly requires: { readonly partNumber: string; readonly minVersion: string };
}

export interface DependencyRecord extends DependencyInput {
  readonly id: number;
  readonly createdBy: string;
  readonly createdAt: number;
}

export async function addDependency(ctx: ServerContext, input: DependencyInput, by: string): Promise<DependencyRecord> {
  const q = ctx.db.kysely;
  if (await q.selectFrom('sums_software').select('filename').where('filename', '=', input.filename).executeTakeFirst() === undefined) {
    throw new ApiError('SUMS_INVALID', `image ${input.filename} is not in the software catalogue`);
  }
  const now = ctx.now();
  const row = await q.insertInto('sums_dependencies').values({
    filename: input.filename, requires_part_number: input.requires.partNumber, min_version: input.requires.minVersion,
    min_version_key: versionKey(input.requires.minVersion), created_by: by, created_at: now,
  }).returning('id').executeTakeFirstOrThrow();
  return { id: row.id, ...input, createdBy: by, createdAt: now };
}

export async function listDependencies(q: Q, filename?: string): Promise<DependencyRecord[]> {
  let sel = q.selectFrom('sums_dependencies').selectAll();
  if (filename !== undefined) sel = sel.where('filename', '=', filename);
  return (await sel.orderBy('id').execute()).map((r) => ({
    id: r.id, filename: r.filename, requires: { partNumber: r.requires_part_number, minVersion: r.min_version }, createdBy: r.created_by, createdAt: r.created_at,
  }));
}

export interface RxswinInput {
  readonly model: string;
  readonly regulation: string;
  readonly rxswin: string;
  readonly software: SoftwareItem[];
}

export async function registerRxswin(ctx: ServerContext, input: RxswinInput, by: string): Promise<RxswinDefinition> {
  const q = ctx.db.kysely;
  const software = sortSoftware(input.software);
  if (software.length === 0) throw new ApiError('SUMS_INVALID', 'an RXSWIN is defined by at least one software item');
  if (new Set(software.map((s) => s.hardwareId)).size !== software.length) throw new ApiError('SUMS_INVALID', 'an RXSWIN names one image per hardware id');
  const existing = await q.selectFrom('sums_rxswins').select(['id', 'software']).where('model', '=', input.model).where('regulation', '=', input.regulation).where('rxswin', '=', input.rxswin).executeTakeFirst();
  const text = JSON.stringify(software);
  if (existing !== undefined) {
    if (existing.software !== text) throw new ApiError('SUMS_CONFLICT', `RXSWIN ${input.rxswin} of ${input.model} under ${input.regulation} is already defined by other software`);
    return { id: existing.id, model: input.model, regulation: input.regulation, rxswin: input.rxswin, software };
  }
  const row = await q.insertInto('sums_rxswins').values({ model: input.model, regulation: input.regulation, rxswin: input.rxswin, software: text, created_by: by, created_at: ctx.now() })
    .returning('id').executeTakeFirstOrThrow();
  return { id: row.id, model: input.model, regulation: input.regulation, rxswin: input.rxswin, software };
}

export async function listRxswins(q: Q, model?: string): Promise<RxswinDefinition[]> {
  return definitions(q, model);
}

export interface ImpactInput {
  readonly package: UpdatePackage;
  readonly touchesTypeApproved?: boolean;
  readonly rxswins?: readonly string[];
  readonly approvalRef?: string;
  readonly notes?: string;
}

export interface ImpactRecord {
  readonly id: number;
  readonly package: UpdatePackage;
  readonly touchesTypeApproved: boolean;
  readonly rxswins: string[];
  readonly approvalRef: string | null;
  readonly notes: string | null;
  readonly createdBy: string;
  readonly createdAt: number;
}

/** Record the impact assessment of a package: declared facts merged with what the registry derives. */
export async function recordImpact(ctx: ServerContext, input: ImpactInput, by: string): Promise<ImpactRecord> {
  const q = ctx.db.kysely;
  const derived = await impactOf(q, input.package);
  const touches = derived.touchesTypeApproved || input.touchesTypeApproved === true;
  if (touches && (input.approvalRef === undefined || input.approvalRef === '')) {
    throw new ApiError('SUMS_INVALID', 'the update touches a type-approved system: an approvalRef (technical service approval) is required');
  }
  const rxswins = [...new Set([...derived.rxswins, ...(input.rxswins ?? [])])].sort();
  const now = ctx.now();
  const row = await q.insertInto('sums_impacts').values({
    package: packageKey(input.package), touches_type_approved: touches ? 1 : 0, rxswins: JSON.stringify(rxswins),
    approval_ref: input.approvalRef ?? null, notes: input.notes ?? null, created_by: by, created_at: now,
  }).returning('id').executeTakeFirstOrThrow();
  return { id: row.id, package: input.package, touchesTypeApproved: touches, rxswins, approvalRef: input.approvalRef ?? null, notes: input.notes ?? null, createdBy: by, createdAt: now };
}

export async function listImpacts(q: Q, pkg?: UpdatePackage): Promise<ImpactRecord[]> {
  let sel = q.selectFrom('sums_impacts').selectAll();
  if (pkg !== undefined) sel = sel.where('package', '=', packageKey(pkg));
  return (await sel.orderBy('id').execute()).map((r) => ({
    id: r.id, package: { images: JSON.parse(r.package) as Record<string, string> }, touchesTypeApproved: r.touches_type_approved === 1,
    rxswins: JSON.parse(r.rxswins) as string[], approvalRef: r.approval_ref, notes: r.notes, createdBy: r.created_by, createdAt: r.created_at,
  }));
}

/**
 * Uploaded images: bytes in the content-addressed blob store (streamed, hashed while stored),
 * one row per file name in `images`. A name is bound to one content forever: uploading the same
 * bytes again is a no-op, other bytes under the name are refused.
 */
import type { Readable } from 'node:stream';
import type { TargetFile } from '@reflash/metadata';
import type { ServerContext } from '../context.js';
import type { Db } from '../db/connect.js';
import { withLock } from '../db/lock.js';
import { ApiError } from '../errors.js';

export const MAX_IMAGE_NAME_BYTES = 512;
/** Serialises the name check, the row insert and the removal of unreferenced blobs. */
const IMAGES_LOCK = 'images';

export interface ImageInfo {
  readonly filename: string;
  readonly length: number;
  readonly hashes: { readonly sha256: string; readonly sha512: string };
  readonly uploadedBy: string;
  readonly uploadedAt: string;
}

interface ImageRow {
  filename: string;
  length: number;
  sha256: string;
  sha512: string;
  blob_key: string;
  uploaded_by: string;
  created_at: number;
}

export function toInfo(r: ImageRow): ImageInfo {
  return { filename: r.filename, length: Number(r.length), hashes: { sha256: r.sha256, sha512: r.sha512 }, uploadedBy: r.uploaded_by, uploadedAt: new Date(Number(r.created_at)).toISOString() };
}

/**
 * Why `name` cannot be an image file name, or undefined if it can: relative, '/'-separated,
 * no '..', no empty segment, no backslash, no control characters, at most 512 bytes (UTF-8).
 */
export function imageNameProblem(name: string): string | undefined {
  if (name === '') return 'the image name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_IMAGE_NAME_BYTES) return `the image name is longer than ${MAX_IMAGE_NAME_BYTES} bytes`;
  if (name.startsWith('/')) return 'the image name must not start with "/"';
  if (name.includes('\\')) return 'the image name must not contain a backslash';
  if (name.includes('..')) return 'the image name must not contain ".."';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the image name must not contain control characters';
  if (name.split('/').some((s) => s === '' || s === '.')) return 'the image name must not contain empty or "." path segments';
  return undefined;
}

export async function getImage(db: Db, filename: string): Promise<ImageRow | undefined> {
  return db.kysely.selectFrom('images').selectAll().where('filename', '=', filename).executeTakeFirst();
}

export async function listImages(db: Db, limit: number, after?: string): Promise<ImageInfo[]> {
  let q = db.kysely.selectFrom('images').selectAll().orderBy('filename').limit(limit);
  if (after !== undefined) q = q.where('filename', '>', after);
  return (await q.execute()).map(toInfo);
}

export interface UploadResult {
  readonly created: boolean;
  readonly image: ImageInfo;
}

/**
 * Store an upload of exactly `declaredLength` bytes under `filename`. The blob store checks the
 * length and the optional declared SHA-256 and leaves nothing behind on failure.
 */
export async function storeImage(ctx: ServerContext, filename: string, body: Readable, declaredLength: number, expectedSha256: string | undefined, uploadedBy: string): Promise<UploadResult> {
  // Refuse early (before reading the body) when the header already tells the content differs.
  const existing = await getImage(ctx.db, filename);
  if (existing !== undefined && expectedSha256 !== undefined && existing.sha256 !== expectedSha256.toLowerCase()) {
    throw new ApiError('IMAGE_EXISTS', `${filename} already exists with sha256 ${existing.sha256}`, { filename, sha256: existing.sha256 });
  }
  const blob = await ctx.blobs.put(body, declaredLength, expectedSha256);
  return withLock(ctx.db, IMAGES_LOCK, async () => {
    const row = await getImage(ctx.db, filename);
    if (row !== undefined) {
      if (row.sha256 === blob.sha256 && Number(row.length) === blob.length) return { created: false, image: toInfo(row) };
      const refs = await ctx.db.kysely.selectFrom('images').select('filename').where('blob_key', '=', blob.key).limit(1).executeTakeFirst();
      if (refs === undefined) await ctx.blobs.remove(blob.key);
      throw new ApiError('IMAGE_EXISTS', `${filename} already exists with sha256 ${row.sha256}`, { filename, sha256: row.sha256 });
    }
    // A concurrent refused upload of the same bytes may have removed the blob before this row
    // referenced it: then the upload has to be repeated.
    if ((await ctx.blobs.size(blob.key)) !== blob.length) throw new ApiError('UPLOAD_INCOMPLETE', 'the stored bytes were removed by a concurrent upload; repeat the upload');
    const values: ImageRow = { filename, length: blob.length, sha256: blob.sha256, sha512: blob.sha512, blob_key: blob.key, uploaded_by: uploadedBy, created_at: ctx.now() };
    await ctx.db.kysely.insertInto('images').values(values).execute();
    return { created: true, image: toInfo(values) };
  });
}

export interface MissingImage {
  readonly path: string;
  readonly reason: string;
}

/** Targets whose bytes were not uploaded with the same length and sha256 (and sha512 when listed). */
export async function missingImages(db: Db, targets: Iterable<TargetFile>): Promise<MissingImage[]> {
  const list = [...targets];
  const missing: MissingImage[] = [];
  const BATCH = 500;
  for (let i = 0; i < list.length; i += BATCH) {
    const chunk = list.slice(i, i + BATCH);
    const rows = await db.kysely.selectFrom('images').select(['filename', 'length', 'sha256', 'sha512'])
      .where('filename', 'in', chunk.map((t) => t.path)).execute();
    const byName = new Map(rows.map((r) => [r.filename, r]));
    for (const t of chunk) {
      const r = byName.get(t.path);
      const sha256 = t.hashes['sha256']?.toLowerCase();
      const sha512 = t.hashes['sha512']?.toLowerCase();
      if (r === undefined) missing.push({ path: t.path, reason: 'not uploaded' });
      else if (sha256 === undefined && sha512 === undefined) missing.push({ path: t.path, reason: 'lists neither a sha256 nor a sha512 hash' });
      else if (Number(r.length) !== t.length) missing.push({ path: t.path, reason: `length ${t.length} differs from the uploaded ${r.length}` });
      else if (sha256 !== undefined && sha256 !== r.sha256) missing.push({ path: t.path, reason: 'sha256 differs from the uploaded bytes' });
      else if (sha512 !== undefined && sha512 !== r.sha512) missing.push({ path: t.path, reason: 'sha512 differs from the uploaded bytes' });
    }
  }
  return missing;
}

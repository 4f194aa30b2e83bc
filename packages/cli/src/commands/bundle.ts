/**
 * `reflash vehicle export-bundle <VIN> --out DIR` (operator): an offline update bundle for one
 * vehicle (@reflash/vehicle BundleBackend reads it): the vehicle's Director metadata (root chain,
 * timestamp, snapshot, targets; GET /api/v1/vehicles/{vin}/director/{file}), the Image
 * repository's public metadata (root chain, timestamp, snapshot and every role it lists,
 * delegations included) and the images the Director assigns, streamed to disk with their length
 * and SHA-256 checked. Nothing in the bundle is trusted by the vehicle: it runs the same full
 * verification as online. The bundle holds what is current now; Director timestamps expire
 * (one day by default), so export shortly before the workshop visit.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Metadata, UsageError } from '@reflash/metadata';
import { BUNDLE_FORMAT, BUNDLE_MANIFEST } from '@reflash/vehicle';
import type { BundleImage, BundleManifest } from '@reflash/vehicle';
import { AdminClient, encodePath, resolveToken } from '../client/admin.js';
import { ApiClientError } from '../client/errors.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, positiveInt } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';

const MAX_METADATA = 64 * 1024 * 1024;
const MAX_ROOTS = 256;

export interface ExportOptions {
  readonly serverUrl: string;
  readonly token: string | undefined;
  readonly vin: string;
  readonly out: string;
  readonly timeoutMs?: number;
}

/** Root chain, timestamp, snapshot and what the snapshot lists, from `get(file)`. */
async function repository(get: (file: string) => Promise<Uint8Array>, dir: string, only?: (role: string) => boolean): Promise<{ files: string[]; targets: Uint8Array }> {
  const files: string[] = [];
  const save = async (name: string, bytes: Uint8Array): Promise<void> => {
    await writeFile(join(dir, name), bytes);
    files.push(name);
  };
  const latest = Metadata.fromBytes(await get('root.json'), 'root').signed.version;
  if (latest > MAX_ROOTS) throw new UsageError(`root version ${latest}: more than ${MAX_ROOTS} roots`);
  for (let v = 1; v <= latest; v++) await save(`${v}.root.json`, await get(`${v}.root.json`));
  const ts = await get('timestamp.json');
  await save('timestamp.json', ts);
  const snapName = `${Metadata.fromBytes(ts, 'timestamp').signed.snapshotMeta.version}.snapshot.json`;
  const snap = await get(snapName);
  await save(snapName, snap);
  let targets: Uint8Array | undefined;
  for (const [name, meta] of Metadata.fromBytes(snap, 'snapshot').signed.meta) {
    const role = name.slice(0, -'.json'.length);
    if (only !== undefined && !only(role)) continue;
    const file = `${meta.version}.${encodeURIComponent(role)}.json`;
    const bytes = await get(file);
    await save(file, bytes);
    if (role === 'targets') targets = bytes;
  }
  if (targets === undefined) throw new UsageError('the snapshot lists no targets.json');
  return { files, targets };
}

export async function exportBundle(o: ExportOptions, out: Output): Promise<BundleManifest> {
  const client = new AdminClient({ baseUrl: o.serverUrl, token: o.token, ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) });
  await rm(o.out, { recursive: true, force: true });
  for (const d of ['director', 'image', 'images']) await mkdir(join(o.out, d), { recursive: true });
  const vinPath = `/api/v1/vehicles/${encodePath(o.vin)}/director/`;
  const director = await repository((f) => client.getBytes(`${vinPath}${f}`, MAX_METADATA), join(o.out, 'director'), (r) => r === 'targets');
  const image = await repository((f) => client.getBytes(`/repo/image/${f}`, MAX_METADATA), join(o.out, 'image'));
  const images: BundleImage[] = [];
  for (const t of Metadata.fromBytes(director.targets, 'targets').signed.targets.values()) {
    const sha256 = t.hashes['sha256'];
    if (sha256 === undefined) throw new UsageError(`${t.path}: the Director names no sha256`);
    const file = `images/${sha256}`;
    if (!images.some((i) => i.file === file)) await downloadImage(client.baseUrl, o.token, t.path, t.length, sha256, join(o.out, file));
    images.push({ filepath: t.path, length: t.length, hashes: { ...t.hashes }, file });
    out.note(`${t.path}: ${t.length} bytes`);
  }
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT, vin: o.vin, created: new Date().toISOString(), server: client.baseUrl,
    director: director.files, image: image.files, images,
  };
  await writeFile(join(o.out, BUNDLE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  out.out(`bundle for ${o.vin} written to ${o.out}: ${director.files.length} Director and ${image.files.length} Image-repository file(s), ${images.length} image(s)`);
  return manifest;
}

/** Stream an image to `dest`, refusing more than `length` bytes or other bytes than `sha256`. */
async function downloadImage(baseUrl: string, token: string | undefined, path: string, length: number, sha256: string, dest: string): Promise<void> {
  const res = await fetch(`${baseUrl}/repo/image/targets/${encodePath(path)}`, {
    headers: { 'accept-encoding': 'identity', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, redirect: 'error',
  });
  if (res.status !== 200 || res.body === null) throw new ApiClientError('IMAGE_DOWNLOAD_FAILED', res.status, `GET /repo/image/targets/${path}: HTTP ${res.status}`);
  const h = createHash('sha256');
  const ws = createWriteStream(dest);
  let n = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += chunk.byteLength;
      if (n > length) throw new UsageError(`${path}: more than the ${length} bytes the Director names`);
      h.update(chunk);
      if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
    }
  } finally {
    await new Promise<void>((resolve, reject) => ws.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  if (n !== length || h.digest('hex') !== sha256) throw new UsageError(`${path}: the bytes are not the image the Director names`);
}

export function registerBundle(program: Command): void {
  const vehicle = program.commands.find((c) => c.name() === 'vehicle');
  if (vehicle === undefined) throw new Error('register the vehicle command first');
  const cmd = vehicle.command('export-bundle')
    .argument('<vin>', 'the vehicle')
    .requiredOption('--out <dir>', 'bundle folder (replaced)')
    .description('offline update: write the vehicle\'s Director metadata, the Image-repository metadata and the assigned images into a folder');
  addServerOptions(cmd).action(async (vin: string, o: ServerOptions & { out: string }) => {
    const server = o.server ?? process.env['REFLASH_SERVER'];
    if (server === undefined || server === '') throw new UsageError('no server: pass --server URL or set REFLASH_SERVER');
    await exportBundle({
      serverUrl: server, token: await resolveToken({ token: o.token, tokenFile: o.tokenFile }, process.env), vin, out: o.out,
      timeoutMs: positiveInt('--timeout', o.timeout, 30_000),
    }, CONSOLE);
  });
}

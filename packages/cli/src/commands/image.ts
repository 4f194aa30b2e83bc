/**
 * `reflash image add FILE --name PATH`: upload image bytes to the server. The file is read
 * twice, streaming, never held in memory: first to compute its length, SHA-256 and SHA-512
 * (the SHA-256 goes in `x-reflash-sha256` so the server can refuse a corrupted upload), then to
 * send it with `Content-Length`. A file that changes between the passes is refused.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError, parseJSON } from '@reflash/metadata';
import type { AdminClient } from '../client/admin.js';
import { encodePath } from '../client/admin.js';
import { ApiClientError } from '../client/errors.js';
import { parseImageInfo } from '../client/image-repo-api.js';
import type { ImageInfo } from '../client/image-repo-api.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';
import { progressBar } from '../client/progress.js';

export interface FileDigest {
  readonly length: number;
  readonly sha256: string;
  readonly sha512: string;
}

/** Length and hashes of a file, in one streaming pass. */
export async function digestFile(path: string, onBytes?: (n: number) => void): Promise<FileDigest> {
  const h256 = createHash('sha256');
  const h512 = createHash('sha512');
  let length = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    h256.update(chunk);
    h512.update(chunk);
    length += chunk.byteLength;
    onBytes?.(chunk.byteLength);
  }
  return { length, sha256: h256.digest('hex'), sha512: h512.digest('hex') };
}

/** Image file names as the Image repository uses them: relative, no empty, "." or ".." parts. */
export function checkImageName(name: string): string {
  if (name === '' || name.startsWith('/') || name.split('/').some((p) => p === '' || p === '.' || p === '..') || /[\\\0]/.test(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)}: use a relative path like ecu/brakes-2.1.bin`);
  }
  return name;
}

/** The second pass: the bytes as sent, checked against the first pass. */
async function* sameBytes(path: string, want: FileDigest): AsyncGenerator<Uint8Array> {
  const h = createHash('sha256');
  let length = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    length += chunk.byteLength;
    if (length > want.length) throw new UsageError(`${path} grew while it was uploaded`);
    h.update(chunk);
    yield chunk;
  }
  if (length !== want.length || h.digest('hex') !== want.sha256) throw new UsageError(`${path} changed while it was uploaded`);
}

export async function addImage(client: AdminClient, file: string, name: string, out: Output, stderr: NodeJS.WriteStream = process.stderr): Promise<ImageInfo> {
  checkImageName(name);
  const st = await stat(file);
  if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
  const hashing = progressBar('hashing  ', st.size, stderr);
  let digest: FileDigest;
  try {
    digest = await digestFile(file, (n) => hashing.increment(n));
  } finally {
    hashing.stop();
  }
  const sending = progressBar('uploading', digest.length, stderr);
  const path = `/api/v1/images/${encodePath(name)}`;
  let res;
  try {
    res = await client.send('PUT', path, {
      body: sameBytes(file, digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(digest.length), 'x-reflash-sha256': digest.sha256 },
      onSent: (n) => sending.increment(n),
    });
  } finally {
    sending.stop();
  }
  // The server's view of what it stored must be what was sent.
  const info = res.body.byteLength === 0
    ? { filename: name, ...digest }
    : parseImageInfo(parseJSON(res.body, `PUT ${path}`), name);
  if (info.length !== digest.length || info.sha256 !== digest.sha256 || info.sha512 !== digest.sha512) {
    throw new ApiClientError('BAD_RESPONSE', res.status, `the server stored ${info.length} bytes with other hashes than the ${digest.length} sent`);
  }
  out.out(`${name}: ${digest.length} bytes${res.status === 200 ? ' (already uploaded)' : ''}`);
  out.out(`  sha256 ${digest.sha256}`);
  out.out(`  sha512 ${digest.sha512}`);
  return info;
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('image bytes on the server');
  const add = image.command('add')
    .argument('<file>', 'the image file')
    .requiredOption('--name <path>', 'file name in the Image repository, e.g. ecu/brakes-2.1.bin')
    .description('upload an image (streamed, with its SHA-256); prints its length and hashes');
  addServerOptions(add).action(async (file: string, o: ServerOptions & { name: string }) => {
    await addImage(await adminClientFrom(o, process.env), file, o.name, CONSOLE);
  });
  const show = image.command('show').argument('<path>').description('length and hashes of an uploaded image');
  addServerOptions(show).action(async (name: string, o: ServerOptions) => {
    const client = await adminClientFrom(o, process.env);
    CONSOLE.out(JSON.stringify(await client.get(`/api/v1/images/${encodePath(name)}`), null, 2));
  });
  const list = image.command('list').description('uploaded images');
  addServerOptions(list).action(async (o: ServerOptions) => {
    const client = await adminClientFrom(o, process.env);
    CONSOLE.out(JSON.stringify(await client.get('/api/v1/images'), null, 2));
  });
}

/**
 * `reflash sums ...`: software-update management records (UN R156 7.1) on the server: the
 * software catalogue, a vehicle's RXSWINs, compatibility reports, the register per RXSWIN and
 * exports for an approval authority (written to a file, with the SHA-256 the server logged).
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '@reflash/metadata';
import type { AdminClient } from '../client/admin.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom, collect } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';

/** `hw=file` pairs into a package. */
export function parseImages(pairs: readonly string[]): { images: Record<string, string> } {
  const images: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0 || i === p.length - 1) throw new UsageError(`--image must be HARDWARE_ID=FILENAME, got "${p}"`);
    images[p.slice(0, i)] = p.slice(i + 1);
  }
  if (Object.keys(images).length === 0) throw new UsageError('name at least one --image HARDWARE_ID=FILENAME');
  return { images };
}

export interface ExportOptions {
  readonly format: 'json' | 'csv';
  readonly model?: string | undefined;
  readonly rxswin?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

export async function exportCommand(client: AdminClient, o: ExportOptions, file: string, out: Output): Promise<{ sha256: string; bytes: number }> {
  const q = new URLSearchParams({ format: o.format });
  for (const k of ['model', 'rxswin', 'from', 'to'] as const) if (o[k] !== undefined) q.set(k, o[k]);
  const res = await client.send('GET', `/api/v1/sums/export?${q.toString()}`, { headers: { accept: o.format === 'csv' ? 'text/csv' : 'application/json' } });
  const sha256 = createHash('sha256').update(res.body).digest('hex');
  const logged = res.headers.get('x-reflash-export-sha256');
  if (logged !== sha256) throw new UsageError(`the export's SHA-256 ${sha256} differs from the one the server logged (${logged ?? 'none'})`);
  await writeFile(file, res.body);
  out.out(`${file}: ${res.body.byteLength} bytes, sha256 ${sha256} (accountability log entry ${res.headers.get('x-reflash-log-index') ?? '?'})`);
  return { sha256, bytes: res.body.byteLength };
}

export function registerSums(program: Command): void {
  const sums = program.command('sums').description('software-update management records (UN R156 7.1)');
  const pretty = (v: unknown): void => CONSOLE.out(JSON.stringify(v, null, 2));

  const add = sums.command('catalogue')
    .argument('<filename>', 'an uploaded image (Image-repository file name)')
    .requiredOption('--part-number <p>', 'part number')
    .requiredOption('--version <v>', 'dotted numeric version')
    .option('--hardware-id <id>', 'compatible hardware (only for images not yet signed; repeatable)', collect)
    .description('add an image to the software catalogue');
  addServerOptions(add).action(async (filename: string, o: ServerOptions & { partNumber: string; version: string; hardwareId?: string[] }) => {
    pretty(await (await adminClientFrom(o, process.env)).json('POST', '/api/v1/sums/software', {
      filename, partNumber: o.partNumber, version: o.version, ...(o.hardwareId === undefined ? {} : { hardwareIds: o.hardwareId }),
    }));
  });

  const list = sums.command('software').option('--part-number <p>').description('list the software catalogue');
  addServerOptions(list).action(async (o: ServerOptions & { partNumber?: string }) => {
    pretty(await (await adminClientFrom(o, process.env)).get(`/api/v1/sums/software${o.partNumber === undefined ? '' : `?partNumber=${encodeURIComponent(o.partNumber)}`}`));
  });

  const rx = sums.command('rxswin').argument('<vin>').description("a vehicle's RXSWINs derived from its last known configuration");
  addServerOptions(rx).action(async (vin: string, o: ServerOptions) => {
    pretty(await (await adminClientFrom(o, process.env)).get(`/api/v1/vehicles/${encodeURIComponent(vin)}/rxswin`));
  });

  const reg = sums.command('register').argument('<rxswin>').description('the register of an RXSWIN (software before and after each update)');
  addServerOptions(reg).action(async (rxswin: string, o: ServerOptions) => {
    pretty(await (await adminClientFrom(o, process.env)).get(`/api/v1/rxswin/${encodeURIComponent(rxswin)}/register?limit=1000`));
  });

  const compat = sums.command('compatibility')
    .option('--image <hw=file>', 'package image (repeatable)', collect)
    .option('--vin <vin>', 'target vehicle (repeatable)', collect)
    .option('--model <model>', 'target vehicle type (repeatable)', collect)
    .description("compatibility of a package with the targets' last known configuration");
  addServerOptions(compat).action(async (o: ServerOptions & { image?: string[]; vin?: string[]; model?: string[] }) => {
    if ((o.vin === undefined) === (o.model === undefined)) throw new UsageError('give --vin or --model (not both)');
    pretty(await (await adminClientFrom(o, process.env)).json('POST', '/api/v1/sums/compatibility', {
      package: parseImages(o.image ?? []), ...(o.vin === undefined ? { filter: { models: o.model } } : { vins: o.vin }),
    }));
  });

  const exp = sums.command('export')
    .requiredOption('--out <file>', 'where to write the export')
    .option('--format <f>', 'json | csv', 'json')
    .option('--model <m>').option('--rxswin <r>').option('--from <iso>').option('--to <iso>')
    .description('export the register per RXSWIN for an approval authority (auditor; logged with its SHA-256)');
  addServerOptions(exp).action(async (o: ServerOptions & { out: string; format: string; model?: string; rxswin?: string; from?: string; to?: string }) => {
    if (o.format !== 'json' && o.format !== 'csv') throw new UsageError('--format must be json or csv');
    await exportCommand(await adminClientFrom(o, process.env), { format: o.format, model: o.model, rxswin: o.rxswin, from: o.from, to: o.to }, o.out, CONSOLE);
  });
}

/** `reflash assign --vin VIN... --image HWID=PATH...`: pending assignments for vehicles' ECUs. */
import type { Command } from 'commander';
import { UsageError } from '@reflash/metadata';
import type { AdminClient } from '../client/admin.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom, collect } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';

/** `HWID=PATH` pairs to `{hardwareId: filename}`; a hardware id only once. */
export function parseImageAssignments(specs: readonly string[]): Record<string, string> {
  const pairs: Array<[string, string]> = [];
  for (const s of specs) {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) throw new UsageError(`--image ${JSON.stringify(s)}: expected HWID=PATH`);
    const hw = s.slice(0, eq);
    if (pairs.some(([h]) => h === hw)) throw new UsageError(`--image: hardware id ${hw} given twice`);
    pairs.push([hw, s.slice(eq + 1)]);
  }
  if (pairs.length === 0) throw new UsageError('give at least one --image HWID=PATH');
  return Object.fromEntries(pairs);
}

export async function assignCommand(client: AdminClient, vins: readonly string[], images: Record<string, string>, out: Output): Promise<unknown> {
  if (vins.length === 0) throw new UsageError('give at least one --vin');
  const res = await client.json('POST', '/api/v1/assignments', { vins, images });
  out.out(JSON.stringify(res, null, 2));
  return res;
}

export function registerAssign(program: Command): void {
  const assign = program.command('assign')
    .description('assign images (by ECU hardware id) to vehicles; the Director names them at the next check-in')
    .requiredOption('--vin <vin>', 'a vehicle (repeatable)', collect)
    .requiredOption('--image <hwid=path>', 'HWID=PATH: the image for ECUs with this hardware id (repeatable)', collect);
  addServerOptions(assign).action(async (o: ServerOptions & { vin: string[]; image: string[] }) => {
    await assignCommand(await adminClientFrom(o, process.env), o.vin, parseImageAssignments(o.image), CONSOLE);
  });
}

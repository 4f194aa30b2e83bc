/**
 * Options shared by the commands that talk to a server: --server (or REFLASH_SERVER), --token /
 * --token-file (or REFLASH_TOKEN), --timeout.
 */
import type { Command } from 'commander';
import { UsageError } from '@reflash/metadata';
import { AdminClient, resolveToken } from './admin.js';

export interface ServerOptions {
  readonly server?: string | undefined;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly timeout?: string | undefined;
}

export function addServerOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'server base URL (default: $REFLASH_SERVER)')
    .option('--token <token>', 'API token (default: --token-file, then $REFLASH_TOKEN)')
    .option('--token-file <file>', 'file holding the API token')
    .option('--timeout <ms>', 'give up when a request makes no progress for this long', '30000');
}

export function positiveInt(what: string, v: string | undefined, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`${what} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new UsageError(`${what} must be a positive whole number, got "${v}"`);
  return Number(v);
}

export async function adminClientFrom(o: ServerOptions, env: Readonly<Record<string, string | undefined>>): Promise<AdminClient> {
  const server = o.server ?? env['REFLASH_SERVER'];
  if (server === undefined || server === '') throw new UsageError('no server: pass --server URL or set REFLASH_SERVER');
  const token = await resolveToken({ token: o.token, tokenFile: o.tokenFile }, env);
  return new AdminClient({ baseUrl: server, token, timeoutMs: positiveInt('--timeout', o.timeout, 30_000) });
}

/** Collect a repeatable option into an array (commander argParser). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

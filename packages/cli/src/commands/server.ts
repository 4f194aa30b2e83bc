/**
 * `reflash server`: run the OTA server. Configuration: defaults, then --config FILE, then
 * REFLASH_* environment variables, then these flags (packages/server/src/config.ts). Stops
 * gracefully on SIGTERM/SIGINT (exit 0). Imported lazily by bin/reflash.ts, so the other
 * commands do not load the server's dependencies.
 */
import { loadConfig, startServer } from '@reflash/server';
import type { Config, RunningServer } from '@reflash/server';

export interface ServerCliOptions {
  readonly dataDir?: string;
  readonly port?: string;
  readonly host?: string;
  readonly database?: string;
  readonly config?: string;
  readonly logLevel?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

/** Only the flags given: a flag left out must not hide the config file or the environment. */
export function serverFlags(o: ServerCliOptions): Partial<Record<keyof Config, unknown>> {
  const flags: Partial<Record<keyof Config, unknown>> = {};
  if (o.dataDir !== undefined) flags.dataDir = o.dataDir;
  if (o.port !== undefined) flags.port = o.port;
  if (o.host !== undefined) flags.host = o.host;
  if (o.database !== undefined) flags.database = o.database;
  if (o.logLevel !== undefined) flags.logLevel = o.logLevel;
  if (o.tlsCert !== undefined) flags.tlsCert = o.tlsCert;
  if (o.tlsKey !== undefined) flags.tlsKey = o.tlsKey;
  return flags;
}

export async function serverCommand(o: ServerCliOptions, env: Record<string, string | undefined> = process.env): Promise<RunningServer> {
  const config = loadConfig({ file: o.config, env, flags: serverFlags(o) });
  return startServer(config, { env, handleSignals: true });
}

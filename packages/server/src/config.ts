/**
 * Server configuration: defaults, then a JSON config file, then REFLASH_* environment
 * variables, then command-line flags. Validated with one TypeBox schema; errors name the field.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { Value } from 'typebox/value';

export const ConfigSchema = Type.Object({
  dataDir: Type.String({ minLength: 1, description: 'folder for the SQLite file, blobs and server keys' }),
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** `postgres://...` or empty for SQLite under dataDir */
  database: Type.String(),
  /** folder for image blobs; default <dataDir>/blobs */
  blobDir: Type.String(),
  logLevel: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')]),
  /** TLS certificate and key (PEM files); both or neither */
  tlsCert: Type.String(),
  tlsKey: Type.String(),
  /** largest JSON body (metadata, manifests) in bytes */
  bodyLimit: Type.Integer({ minimum: 1024 }),
  /** largest image upload in bytes */
  maxImageSize: Type.Integer({ minimum: 1 }),
  /** Director metadata lifetime (Uptane: short), ms */
  directorExpiryMs: Type.Integer({ minimum: 60_000 }),
  /** Image-repository timestamp lifetime, ms; re-signed when less than half remains */
  timestampExpiryMs: Type.Integer({ minimum: 60_000 }),
  snapshotExpiryMs: Type.Integer({ minimum: 60_000 }),
  /** accepted clock skew of signed vehicle requests, ms */
  requestSkewMs: Type.Integer({ minimum: 1000 }),
  /**
   * SQLite durability: 'group' (default) fsyncs the WAL off the event loop, once for all
   * commits made before it, and no answer is sent before (survives power loss); 'full' fsyncs
   * inside every commit (the same guarantee, slower); 'normal' (WAL) survives a killed process
   * but may lose the last commits on power loss. db/connect.ts.
   */
  sqliteSynchronous: Type.Union([Type.Literal('group'), Type.Literal('full'), Type.Literal('normal')]),
  /** PostgreSQL pool size */
  /** at least 3: cross-process locks (image repository, log sequencing) hold a connection while a transaction uses another */
  poolSize: Type.Integer({ minimum: 3, maximum: 200 }),
  /** accountability log origin (checkpoint first line and note key name), e.g. `fleet.example/log`; fixed at first start */
  logOrigin: Type.String({ pattern: '^[^\\s+]{1,255}$' }),
  /** accountability log: how often the background integrator signs a new checkpoint when entries are pending, ms */
  logIntegrateIntervalMs: Type.Integer({ minimum: 10, maximum: 3_600_000 }),
  /** SUMS records (R156 7.1) are kept at least this many years; nothing younger is ever purged */
  retentionYears: Type.Integer({ minimum: 1, maximum: 100 }),
}, { additionalProperties: false });

export type Config = Static<typeof ConfigSchema>;

const DAY = 86_400_000;

export function defaults(dataDir = './data'): Config {
  return {
    dataDir,
    host: '127.0.0.1',
    port: 8080,
    database: '',
    blobDir: '',
    logLevel: 'info',
    tlsCert: '',
    tlsKey: '',
    bodyLimit: 16 * 1024 * 1024,
    maxImageSize: 4 * 1024 * 1024 * 1024,
    directorExpiryMs: DAY,
    timestampExpiryMs: DAY,
    snapshotExpiryMs: 7 * DAY,
    requestSkewMs: 300_000,
    poolSize: 10,
    sqliteSynchronous: 'group',
    logOrigin: 'reflash/log',
    logIntegrateIntervalMs: 500,
    retentionYears: 10,
  };
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

const ENV: Record<string, keyof Config> = {
  REFLASH_DATA_DIR: 'dataDir',
  REFLASH_HOST: 'host',
  REFLASH_PORT: 'port',
  REFLASH_DATABASE: 'database',
  REFLASH_BLOB_DIR: 'blobDir',
  REFLASH_LOG_LEVEL: 'logLevel',
  REFLASH_SQLITE_SYNCHRONOUS: 'sqliteSynchronous',
  REFLASH_TLS_CERT: 'tlsCert',
  REFLASH_TLS_KEY: 'tlsKey',
  REFLASH_LOG_ORIGIN: 'logOrigin',
  REFLASH_RETENTION_YEARS: 'retentionYears',
};

const NUMERIC = new Set<keyof Config>(['port', 'bodyLimit', 'maxImageSize', 'directorExpiryMs', 'timestampExpiryMs', 'snapshotExpiryMs', 'requestSkewMs', 'poolSize', 'logIntegrateIntervalMs', 'retentionYears']);

function coerce(key: keyof Config, v: unknown, source: string): unknown {
  if (NUMERIC.has(key) && typeof v === 'string') {
    if (!/^\d+$/.test(v)) throw new ConfigError(`${source}: ${key} must be a whole number, got "${v}"`);
    return Number(v);
  }
  return v;
}

/** Merge sources (later wins), validate, resolve paths. */
export function loadConfig(opts: { file?: string | undefined; env?: Record<string, string | undefined>; flags?: Partial<Record<keyof Config, unknown>> } = {}): Config {
  const merged: Record<string, unknown> = { ...defaults() };
  if (opts.file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(opts.file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${opts.file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config file ${opts.file}: expected a JSON object`);
    for (const [k, v] of Object.entries(parsed)) merged[k] = coerce(k as keyof Config, v, `config file ${opts.file}`);
  }
  for (const [name, key] of Object.entries(ENV)) {
    const v = opts.env?.[name];
    if (v !== undefined && v !== '') merged[key] = coerce(key, v, `environment ${name}`);
  }
  for (const [k, v] of Object.entries(opts.flags ?? {})) if (v !== undefined) merged[k] = coerce(k as keyof Config, v, `flag --${k}`);
  if (!Value.Check(ConfigSchema, merged)) {
    const first = [...Value.Errors(ConfigSchema, merged)][0];
    const path = first?.instancePath ?? '';
    throw new ConfigError(`invalid configuration${path === '' ? '' : ` at ${path}`}: ${first?.message ?? 'unknown error'}`);
  }
  const c = merged;
  c.dataDir = resolve(c.dataDir);
  if (c.blobDir === '') c.blobDir = join(c.dataDir, 'blobs');
  if ((c.tlsCert === '') !== (c.tlsKey === '')) throw new ConfigError('tlsCert and tlsKey must be given together');
  return c;
}

export function databaseUrl(c: Config): string {
  return c.database === '' ? `sqlite:${join(c.dataDir, 'reflash.db')}` : c.database;
}

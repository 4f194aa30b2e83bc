/**
 * Test harness: an in-process app (inject) on a fresh database, for each dialect.
 * - SQLite: a file in a temporary data directory.
 * - PostgreSQL: a fresh database per harness on REFLASH_TEST_PG (default
 *   postgres://postgres@127.0.0.1:5432/test, trust auth), dropped on close. When PostgreSQL is
 *   unreachable the PostgreSQL variants are skipped with a message, unless
 *   REFLASH_TEST_PG_REQUIRED=1 (set by .ci/run), where they fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import type { App } from '../../src/app.js';
import { defaults } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import type { ServerContext } from '../../src/context.js';
import { createContext } from '../../src/server.js';
import { initialise } from '../../src/services/init.js';
import { createToken } from '../../src/plugins/auth.js';
import type { Role } from '../../src/plugins/auth.js';

export type DialectName = 'sqlite' | 'postgres';
export const PG_ADMIN_URL = process.env['REFLASH_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const PG_REQUIRED = process.env['REFLASH_TEST_PG_REQUIRED'] === '1';

let pgReachable: Promise<boolean> | undefined;
export function pgAvailable(): Promise<boolean> {
  pgReachable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('select 1');
      return true;
    } catch {
      // Unreachable: the PostgreSQL variants are skipped (or fail when required).
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return pgReachable;
}

/** A fresh PostgreSQL database; returns its URL and a drop function. */
export async function freshPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `reflash_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface Harness {
  readonly dialect: DialectName;
  readonly app: App;
  readonly ctx: ServerContext;
  readonly dataDir: string;
  /** settable clock (ms) */
  clock: { now: number };
  /** a token per role */
  readonly tokens: Record<Role, string>;
  auth(role: Role): { authorization: string };
  close(): Promise<void>;
}

export const T0 = Date.parse('2026-11-21T12:00:00Z');

export async function makeHarness(dialect: DialectName, overrides: Partial<Config> = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'reflash-test-'));
  let dropPg: (() => Promise<void>) | undefined;
  let database = '';
  if (dialect === 'postgres') {
    const fresh = await freshPgDatabase();
    database = fresh.url;
    dropPg = fresh.drop;
  }
  const config: Config = { ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), database, logLevel: 'silent', poolSize: 5, ...overrides };
  const clock = { now: T0 };
  const ctx = await createContext(config, { env: { REFLASH_MASTER_KEY: 'test-master-key-0123456789abcdef0123456789' }, now: () => clock.now, logger: pino({ level: 'silent' }) });
  await initialise(ctx);
  const app = await buildApp(ctx);
  const tokens = {} as Record<Role, string>;
  for (const r of ['admin', 'release-manager', 'operator', 'auditor'] as const) tokens[r] = (await createToken(ctx, `test ${r}`, r)).token;
  return {
    dialect, app, ctx, dataDir, clock, tokens,
    auth: (role) => ({ authorization: `Bearer ${tokens[role]}` }),
    close: async () => {
      await app.close();
      await ctx.audit.close();
      await ctx.db.close();
      if (dropPg !== undefined) await dropPg();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Run a suite once per dialect: `forEachDialect('image repo', (dialect) => { it(...) })`.
 * PostgreSQL variants skip with a clear message when PostgreSQL is unreachable, unless required.
 */
export function forEachDialect(name: string, body: (dialect: DialectName) => void): void {
  describe(`${name} [sqlite]`, () => body('sqlite'));
  describe(`${name} [postgres]`, async () => {
    if (!(await pgAvailable())) {
      if (PG_REQUIRED) throw new Error(`PostgreSQL is required (REFLASH_TEST_PG_REQUIRED=1) but ${PG_ADMIN_URL} is unreachable`);
      describe('PostgreSQL unreachable', { skip: `PostgreSQL not reachable at ${PG_ADMIN_URL}: PostgreSQL tests skipped` }, () => undefined);
      return;
    }
    body('postgres');
  });
}

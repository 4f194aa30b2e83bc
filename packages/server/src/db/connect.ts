/**
 * One query layer for both databases (Kysely): SQLite through better-sqlite3 (the embedded
 * default: one file under the data directory, WAL, synchronous=FULL so an acknowledged commit
 * survives power loss) and PostgreSQL through pg. Migrations run on open.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';
import type { Dialect } from './migrations.js';

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly dialect: Dialect;
  close(): Promise<void>;
}

// PostgreSQL int8 (bigint) columns hold milliseconds and lengths: safe integers, read as numbers.
pg.types.setTypeParser(20, (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${v} is not a safe integer`);
  return n;
});

/**
 * Kysely prepares a new better-sqlite3 statement for every query; preparing costs more than
 * running most of ours. Statements are reusable, so they are cached by SQL text (bounded: SQL
 * with a variable number of parameters makes distinct texts).
 */
function cachedStatements(sqlite: BetterSqlite3.Database): { prepare: (sql: string) => BetterSqlite3.Statement; close: () => void } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql: string): BetterSqlite3.Statement {
      let st = cache.get(sql);
      if (st === undefined) {
        st = sqlite.prepare(sql);
        if (cache.size >= 1000) cache.clear();
        cache.set(sql, st);
      }
      return st;
    },
    close(): void {
      cache.clear();
      sqlite.close();
    },
  };
}

export interface OpenOptions {
  /** `sqlite:/path/file.db`, a plain path, or `postgres://...` */
  readonly url: string;
  /** PostgreSQL pool size */
  readonly poolSize?: number;
  /** SQLite: 'full' (default, power-loss durable) or 'normal' (process-crash durable) */
  readonly sqliteSynchronous?: 'full' | 'normal';
  /** told about errors on idle pooled connections (logged by the server) */
  readonly onPoolError?: (err: Error) => void;
}

export function dialectOf(url: string): Dialect {
  return url.startsWith('postgres://') || url.startsWith('postgresql://') ? 'postgres' : 'sqlite';
}

export async function openDb(opts: OpenOptions): Promise<Db> {
  const dialect = dialectOf(opts.url);
  let kysely: Kysely<Database>;
  if (dialect === 'postgres') {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    // An idle client's connection can be closed by the server (restart, admin command): pg
    // reports it on the pool; without a listener the process would crash. The pool replaces
    // the client on next use, and queries in flight fail with their own error.
    pool.on('error', (err) => {
      opts.onPoolError?.(err);
    });
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    const file = opts.url.startsWith('sqlite:') ? opts.url.slice('sqlite:'.length) : opts.url;
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const sqlite = new BetterSqlite3(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`synchronous = ${opts.sqliteSynchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachedStatements(sqlite) }) });
  }
  const migrator = new Migrator({ db: kysely, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined || failed !== undefined) {
    await kysely.destroy();
    throw new Error(`database migration failed${failed === undefined ? '' : ` at ${failed.migrationName}`}`, { cause: error });
  }
  return { kysely, dialect, close: () => kysely.destroy() };
}

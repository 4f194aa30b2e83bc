/**
 * One query layer for both databases (Kysely): SQLite through better-sqlite3 (the embedded
 * default: one file under the data directory, WAL) and PostgreSQL through pg. Migrations run on
 * open.
 *
 * Durability of SQLite commits, `sqliteSynchronous`:
 * - 'group' (default): WAL with synchronous=NORMAL, so a commit does not fsync in the event loop,
 *   and `durable()` fsyncs the WAL file in libuv's thread pool, one fsync shared by every commit
 *   made before it started (group commit). The server awaits `durable()` before sending ANY
 *   response (app.ts onSend), so nothing a client saw can be lost on power loss: the same
 *   guarantee as FULL. (With NORMAL, SQLite itself syncs the WAL before each checkpoint, the
 *   database file after it, and the WAL header when the WAL is reused; fsyncing the WAL file
 *   after a commit is exactly what FULL does at the commit.)
 * - 'full': synchronous=FULL, an fsync inside every commit (blocks the event loop).
 * - 'normal': synchronous=NORMAL without the fsync: survives a killed process, not power loss.
 */
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
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
  /** true when a write may not be durable yet (SQLite 'group' before its fsync) */
  readonly undurable: boolean;
  /** Resolves once every write made so far is durable (PostgreSQL and SQLite 'full'/'normal': at once). */
  durable(): Promise<void>;
  close(): Promise<void>;
}

export type SqliteSynchronous = 'group' | 'full' | 'normal';

/**
 * SQL texts of prepared queries (db/prepared.ts registers them when it compiles one): on
 * PostgreSQL they run as named prepared statements, parsed and planned once per connection
 * instead of on every call. Only fixed-shape statements compiled after the migrations are here.
 */
const namedStatements = new Map<string, string>();
export function registerPreparedStatement(sql: string): void {
  if (!namedStatements.has(sql)) namedStatements.set(sql, `rf_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`);
}

/** The pool Kysely uses: its clients send registered statements by name (pg's prepared statements). */
function withNamedStatements(pool: pg.Pool): pg.Pool {
  const connect = async (): Promise<pg.PoolClient> => {
    const client = await pool.connect();
    const query = client.query.bind(client) as (text: unknown, values?: unknown[]) => Promise<pg.QueryResult>;
    return new Proxy(client, {
      get(target, prop, receiver): unknown {
        if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
        return (text: unknown, values?: unknown[]) => {
          const name = typeof text === 'string' ? namedStatements.get(text) : undefined;
          return name === undefined ? query(text, values) : query({ name, text, values });
        };
      },
    });
  };
  return new Proxy(pool, {
    get(target, prop, receiver): unknown {
      return prop === 'connect' ? connect : Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

/**
 * Group fsync of a SQLite WAL file: `writeSeq` counts write statements (bumped as they are
 * prepared, i.e. just before they run); a sync records the count when it starts and makes
 * everything up to there durable. Callers waiting meanwhile share the next sync.
 */
class WalSync {
  writeSeq = 0;
  #syncedSeq = 0;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  constructor(readonly walPath: string) {}

  get undurable(): boolean {
    return this.writeSeq > this.#syncedSeq;
  }

  durable(): Promise<void> {
    if (!this.undurable) return Promise.resolve();
    const target = this.writeSeq;
    if (this.#running === undefined) return this.#start();
    // A sync is running; it may have started before our writes: chain exactly one more.
    this.#next ??= this.#running.catch(() => undefined).then(() => {
      this.#next = undefined;
      return this.#syncedSeq >= target ? undefined : this.#start();
    });
    return this.#next;
  }

  #start(): Promise<void> {
    const upTo = this.writeSeq;
    const run = (async () => {
      let fh;
      try {
        fh = await open(this.walPath, 'r');
      } catch (err) {
        // No WAL file: the last connection checkpointed it into the database file, synced.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    })().then(() => {
      if (upTo > this.#syncedSeq) this.#syncedSeq = upTo;
    }).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }
}

const READ_ONLY = /^\s*select\b/i;

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
function cachedStatements(sqlite: BetterSqlite3.Database, wal: WalSync | undefined): { prepare: (sql: string) => BetterSqlite3.Statement; close: () => void } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql: string): BetterSqlite3.Statement {
      // Kysely prepares every statement right before running it: count the writes.
      if (wal !== undefined && !READ_ONLY.test(sql)) wal.writeSeq += 1;
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
  /** SQLite durability (see the header): 'group' (default), 'full' or 'normal' */
  readonly sqliteSynchronous?: SqliteSynchronous;
  /** told about errors on idle pooled connections (logged by the server) */
  readonly onPoolError?: (err: Error) => void;
}

export function dialectOf(url: string): Dialect {
  return url.startsWith('postgres://') || url.startsWith('postgresql://') ? 'postgres' : 'sqlite';
}

export async function openDb(opts: OpenOptions): Promise<Db> {
  const dialect = dialectOf(opts.url);
  let kysely: Kysely<Database>;
  let wal: WalSync | undefined;
  if (dialect === 'postgres') {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    // An idle client's connection can be closed by the server (restart, admin command): pg
    // reports it on the pool; without a listener the process would crash. The pool replaces
    // the client on next use, and queries in flight fail with their own error.
    pool.on('error', (err) => {
      opts.onPoolError?.(err);
    });
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) });
  } else {
    const file = opts.url.startsWith('sqlite:') ? opts.url.slice('sqlite:'.length) : opts.url;
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const sqlite = new BetterSqlite3(file);
    sqlite.pragma('journal_mode = WAL');
    const mode = opts.sqliteSynchronous ?? 'group';
    sqlite.pragma(`synchronous = ${mode === 'full' ? 'FULL' : 'NORMAL'}`);
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    if (mode === 'group' && file !== ':memory:') wal = new WalSync(`${file}-wal`);
    kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachedStatements(sqlite, wal) }) });
  }
  const migrator = new Migrator({ db: kysely, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined || failed !== undefined) {
    await kysely.destroy();
    throw new Error(`database migration failed${failed === undefined ? '' : ` at ${failed.migrationName}`}`, { cause: error });
  }
  const w = wal;
  return {
    kysely,
    dialect,
    get undurable() {
      return w?.undurable ?? false;
    },
    durable: () => w?.durable() ?? Promise.resolve(),
    close: async () => {
      // Closing the last connection checkpoints the WAL into the database file (synced).
      await w?.durable();
      await kysely.destroy();
    },
  };
}

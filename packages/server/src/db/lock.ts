/**
 * Mutual exclusion across server processes for background jobs and sequencing: a PostgreSQL
 * advisory lock held on one pooled connection for the duration of `fn`; with SQLite (one
 * process owns the file) an in-process queue per name.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from './connect.js';

const local = new Map<string, Promise<unknown>>();

function lockId(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigInt64BE(0);
}

export async function withLock<T>(db: Db, name: string, fn: () => Promise<T>): Promise<T> {
  // In-process queue first (both dialects): fewer round trips, and required for SQLite.
  const prev = local.get(name) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => { release = r; });
  const chained = prev.then(() => mine);
  local.set(name, chained);
  await prev.catch(() => undefined);
  try {
    if (db.dialect !== 'postgres') return await fn();
    const id = lockId(name).toString();
    return await db.kysely.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${id}::bigint)`.execute(conn);
      try {
        return await fn();
      } finally {
        await sql`select pg_advisory_unlock(${id}::bigint)`.execute(conn);
      }
    });
  } finally {
    release();
    if (local.get(name) === chained) local.delete(name);
  }
}

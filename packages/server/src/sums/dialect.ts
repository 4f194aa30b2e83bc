/** Which SQL dialect a Kysely instance or transaction speaks (set-based queries differ slightly). */
import { PostgresAdapter, sql } from 'kysely';
import type { Kysely, RawBuilder, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

export type Q = Kysely<Database> | Transaction<Database>;

export function isPostgres(q: Q): boolean {
  return q.getExecutor().adapter instanceof PostgresAdapter;
}

/** A one-column table `(vin)` of the given VINs, bound as ONE parameter (works for a million). */
export function vinTable(q: Q, vins: readonly string[]): RawBuilder<unknown> {
  return isPostgres(q)
    ? sql`select unnest(${[...vins]}::text[]) as vin`
    : sql`select value as vin from json_each(${JSON.stringify(vins)})`;
}

/**
 * PostgreSQL: run `fn` with a larger work_mem (SET LOCAL, so in a transaction: the caller's when
 * `q` is one, where it then lasts until that transaction ends) so the hash join and the grouping
 * of a million-vehicle evaluation stay in memory instead of spilling to disk (2x faster).
 */
export async function withWorkMem<T>(q: Q, fn: (q: Q) => Promise<T>, workMem = '256MB'): Promise<T> {
  if (!isPostgres(q)) return fn(q);
  const run = async (trx: Q): Promise<T> => {
    await sql`select set_config('work_mem', ${workMem}, true)`.execute(trx);
    return fn(trx);
  };
  return q.isTransaction ? run(q) : q.transaction().execute(run);
}

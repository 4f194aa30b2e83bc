/**
 * Prepared queries for hot paths (a vehicle check-in runs a dozen statements): Kysely builds,
 * freezes and compiles a query's operation tree on every call, which costs more than SQLite
 * takes to run most of ours. A prepared query is built once per dialect with placeholder values
 * and compiled (per Kysely instance: its adapter tells the dialect); each run substitutes the arguments into the compiled parameter list and
 * executes it through the same Kysely instance or transaction (same driver, same connection
 * rules, same result shape). Only queries whose shape does not depend on the arguments qualify
 * (no IN lists of varying length). On PostgreSQL they also run as named prepared statements
 * (db/connect.ts), planned once per connection.
 *
 *   const vehicle = prepared<{ vin: string }>()((db, p) => db.selectFrom('vehicles').selectAll().where('vin', '=', p.vin));
 *   const row = await vehicle.first(trx, { vin });
 */
import { PostgresAdapter } from 'kysely';
import type { Compilable, CompiledQuery, Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { Dialect } from './migrations.js';
import { registerPreparedStatement } from './connect.js';

/** A placeholder for argument `name`; built into the query as a value, replaced at run time. */
class Param {
  constructor(readonly name: string) {}
}

type Query = Kysely<Database> | Transaction<Database>;

export interface Prepared<A, R> {
  /** every row */
  all(q: Query, args: A): Promise<R[]>;
  /** the first row, or undefined */
  first(q: Query, args: A): Promise<R | undefined>;
  /** run a write; the number of rows it changed */
  run(q: Query, args: A): Promise<number>;
}

/**
 * `prepared<Args>()(build)`: `build` receives the database, one placeholder per argument (typed
 * as the argument) and the dialect, and returns the query. Each placeholder must appear exactly once as a
 * value (checked at the first compilation).
 */
export function prepared<A extends Record<string, unknown>>() {
  return <R>(build: (db: Kysely<Database>, p: A, dialect: Dialect) => Compilable<R>): Prepared<A, R> => {
    const compiled = new WeakMap<object, { query: CompiledQuery<R>; slots: ReadonlyArray<string | undefined> }>();
    const placeholders = new Proxy({}, { get: (_t, name) => new Param(String(name)) }) as A;

    function compile(q: Query): { query: CompiledQuery<R>; slots: ReadonlyArray<string | undefined> } {
      const adapter = q.getExecutor().adapter;
      let c = compiled.get(adapter);
      if (c === undefined) {
        const query = build(q, placeholders, adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite').compile();
        const slots = query.parameters.map((v) => (v instanceof Param ? v.name : undefined));
        const names = slots.filter((s): s is string => s !== undefined);
        if (new Set(names).size !== names.length) throw new Error(`prepared query uses an argument twice: ${query.sql}`);
        c = { query, slots };
        compiled.set(adapter, c);
        registerPreparedStatement(query.sql);
      }
      return c;
    }

    async function execute(q: Query, args: A): Promise<{ rows: R[]; changed: number }> {
      const c = compile(q);
      const parameters = c.slots.map((name, i) => {
        if (name === undefined) return c.query.parameters[i];
        if (!(name in args)) throw new Error(`prepared query: no value for ${name}`);
        return args[name];
      });
      const res = await q.executeQuery<R>({ ...c.query, parameters });
      return { rows: res.rows, changed: Number(res.numAffectedRows ?? 0n) };
    }

    return {
      all: async (q, args) => (await execute(q, args)).rows,
      first: async (q, args) => (await execute(q, args)).rows[0],
      run: async (q, args) => (await execute(q, args)).changed,
    };
  };
}

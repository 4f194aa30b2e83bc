/**
 * Per-vehicle serialisation: every write that touches one vehicle's state (ECU counters,
 * assignments, its Director metadata versions) runs in one database transaction that holds the
 * vehicle's row lock, so concurrent check-ins, assignments and metadata refreshes (in this
 * process or another one on the same PostgreSQL database) never lose or duplicate a version.
 *
 * - PostgreSQL: `select ... from vehicles where vin = $1 for update` inside the transaction; the
 *   other statements run at READ COMMITTED, so after the lock they see every committed write.
 * - SQLite: one connection per process, guarded by Kysely's connection mutex for the whole
 *   transaction: transactions are exclusive (a SQLite file is owned by one server process).
 *
 * Inside `fn` use only the transaction handle: on SQLite a query through the shared Kysely
 * instance would wait for the connection the transaction holds, for ever.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Database, VehicleTable } from '../db/schema.js';
import { ApiError } from '../errors.js';
import { prepared } from '../db/prepared.js';

export type Tx = Transaction<Database> | Kysely<Database>;
export type VehicleRow = Selectable<VehicleTable>;

const lockVehicle = prepared<{ vin: string }>()((db, p, dialect) => {
  const q = db.selectFrom('vehicles').selectAll().where('vin', '=', p.vin);
  return dialect === 'postgres' ? q.forUpdate() : q;
});

/** Run `fn` in a transaction holding the row lock of vehicle `vin` (404 VEHICLE_NOT_FOUND if none). */
export async function withVehicleLock<T>(db: Db, vin: string, fn: (trx: Transaction<Database>, vehicle: VehicleRow) => Promise<T>): Promise<T> {
  return db.kysely.transaction().execute(async (trx) => {
    const vehicle = await lockVehicle.first(trx, { vin });
    if (vehicle === undefined) throw new ApiError('VEHICLE_NOT_FOUND', `no vehicle ${vin}`);
    return fn(trx, vehicle);
  });
}

const touchVehicle = prepared<{ vin: string; at: number }>()((db, p) => db.updateTable('vehicles')
  .set((eb) => ({ last_seen_at: p.at, manifest_count: eb('manifest_count', '+', 1) }))
  .where('vin', '=', p.vin).returningAll());

/**
 * withVehicleLock for a check-in: the lock is taken by the update that records it (last seen
 * now, one more manifest), one statement instead of two; `vehicle` is the row after it. The
 * update is undone with everything else when `fn` fails.
 */
export async function withVehicleCheckIn<T>(db: Db, vin: string, at: number, fn: (trx: Transaction<Database>, vehicle: VehicleRow) => Promise<T>): Promise<T> {
  return db.kysely.transaction().execute(async (trx) => {
    const vehicle = await touchVehicle.first(trx, { vin, at });
    if (vehicle === undefined) throw new ApiError('VEHICLE_NOT_FOUND', `no vehicle ${vin}`);
    return fn(trx, vehicle);
  });
}

/** A unique or primary-key violation (a concurrent insert of the same key), in either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

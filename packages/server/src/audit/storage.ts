/**
 * The accountability log's tables (migration 0005) for SQLite and PostgreSQL:
 * - log_leaves (idx, entry, leaf_hash, appended_at): an entry's index is assigned when it is
 *   appended, in the committing transaction, under a database lock (sequencing through the
 *   database: contiguous indexes, also with several server processes);
 * - log_nodes (level, idx, hash): the complete-subtree hashes (level 0 = leaf hashes) the
 *   integrator stores, exactly those CompactRange.append reports, so a proof or root reads
 *   O(log n) rows and a tile reads one range of one level;
 * - log_checkpoints (size, root, note, cosignatures): every signed checkpoint.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import { LogStorageError } from '@reflash/log';
import type { HashReader, NodeId, StoredNode } from '@reflash/log';
import type { Db } from '../db/connect.js';
import type { Database } from '../db/schema.js';

export type Query = Kysely<Database> | Transaction<Database>;

export interface StoredLeaf {
  readonly index: number;
  readonly entry: Uint8Array;
  readonly leafHash: Uint8Array;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly root: Uint8Array;
  /** the signed note as signed by the log */
  readonly note: string;
  /** witness cosignature lines, '' if none */
  readonly cosignatures: string;
  readonly createdAt: number;
}

/** Rows per multi-row INSERT (4 columns: well below SQLite's and PostgreSQL's parameter limits). */
const INSERT_CHUNK = 1000;
/** Node ids per read query. */
const READ_CHUNK = 200;

const APPEND_LOCK = createHash('sha256').update('reflash:audit-log:append').digest().readBigInt64BE(0).toString();

function bytes(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A private copy as a plain Uint8Array (drivers hand out Buffers, possibly pooled). */
function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function key(level: number, index: number): string {
  return `${level}:${index}`;
}

export class LogStorage {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Appends entries with consecutive indexes in one transaction; returns the first index. The
   * index is final and the entry durable once this resolves (PostgreSQL commit; SQLite commit
   * and then Db.durable(), the WAL fsync shared with other commits). PostgreSQL: a transaction-scoped advisory lock orders appenders of all processes,
   * and the primary key on idx refuses a duplicate index whatever happens.
   */
  async appendLeaves(entries: readonly { entry: Uint8Array; leafHash: Uint8Array }[], at: number): Promise<number> {
    const first = await this.db.kysely.transaction().execute(async (trx) => {
      if (this.db.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${APPEND_LOCK}::bigint)`.execute(trx);
      const first = await this.appendedSize(trx);
      for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
        const rows = entries.slice(i, i + INSERT_CHUNK).map((e, j) => ({ idx: first + i + j, entry: bytes(e.entry), leaf_hash: bytes(e.leafHash), appended_at: at }));
        await trx.insertInto('log_leaves').values(rows).execute();
      }
      return first;
    });
    await this.db.durable();
    return first;
  }

  /** Number of appended entries (integrated or not): max(idx) + 1. */
  async appendedSize(q: Query = this.db.kysely): Promise<number> {
    const row = await q.selectFrom('log_leaves').select((eb) => eb.fn.max('idx').as('m')).executeTakeFirst();
    const m = row?.m as number | string | null | undefined;
    return m === null || m === undefined ? 0 : Number(m) + 1;
  }

  /** Leaves [begin, end) in index order (fewer if not all exist). */
  async readLeaves(begin: number, end: number, q: Query = this.db.kysely): Promise<StoredLeaf[]> {
    if (end <= begin) return [];
    const rows = await q.selectFrom('log_leaves').select(['idx', 'entry', 'leaf_hash'])
      .where('idx', '>=', begin).where('idx', '<', end).orderBy('idx').execute();
    return rows.map((r) => ({ index: Number(r.idx), entry: copy(r.entry), leafHash: copy(r.leaf_hash) }));
  }

  /** Entry bytes [begin, end), which must all exist (for entry bundles). */
  async readEntries(begin: number, end: number): Promise<Uint8Array[]> {
    const rows = await this.db.kysely.selectFrom('log_leaves').select(['idx', 'entry'])
      .where('idx', '>=', begin).where('idx', '<', end).orderBy('idx').execute();
    if (rows.length !== end - begin) throw new LogStorageError('LOG_STORAGE_BAD_READ', `entries [${begin}, ${end}) are not all stored`);
    return rows.map((r) => r.entry);
  }

  async leafIndex(leafHash: Uint8Array): Promise<number | undefined> {
    const row = await this.db.kysely.selectFrom('log_leaves').select('idx').where('leaf_hash', '=', bytes(leafHash)).orderBy('idx').limit(1).executeTakeFirst();
    return row === undefined ? undefined : Number(row.idx);
  }

  /** A HashReader over log_nodes; a missing node is a LogStorageError. */
  nodeReader(q: Query = this.db.kysely): HashReader {
    return { readNodes: (ids) => this.readNodes(ids, q) };
  }

  async readNodes(ids: readonly NodeId[], q: Query = this.db.kysely): Promise<Uint8Array[]> {
    const found = new Map<string, Uint8Array>();
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const part = ids.slice(i, i + READ_CHUNK);
      const rows = await q.selectFrom('log_nodes').select(['level', 'idx', 'hash'])
        .where((eb) => eb.or(part.map((id) => eb.and([eb('level', '=', id.level), eb('idx', '=', id.index)]))))
        .execute();
      for (const r of rows) found.set(key(r.level, Number(r.idx)), copy(r.hash));
    }
    return ids.map((id) => {
      const h = found.get(key(id.level, id.index));
      if (h === undefined) throw new LogStorageError('LOG_STORAGE_BAD_READ', `log node (${id.level}, ${id.index}) is not stored`);
      return h;
    });
  }

  /** Hashes of nodes (level, begin) .. (level, end - 1), which must all exist. */
  async readNodeRange(level: number, begin: number, end: number, q: Query = this.db.kysely): Promise<Uint8Array[]> {
    if (end <= begin) return [];
    const rows = await q.selectFrom('log_nodes').select(['idx', 'hash'])
      .where('level', '=', level).where('idx', '>=', begin).where('idx', '<', end).orderBy('idx').execute();
    if (rows.length !== end - begin) throw new LogStorageError('LOG_STORAGE_BAD_READ', `log nodes (${level}, ${begin}..${end - 1}) are not all stored`);
    return rows.map((r) => copy(r.hash));
  }

  async hasNode(level: number, index: number, q: Query = this.db.kysely): Promise<boolean> {
    return (await q.selectFrom('log_nodes').select('level').where('level', '=', level).where('idx', '=', index).executeTakeFirst()) !== undefined;
  }

  async insertNodes(nodes: readonly StoredNode[], q: Query): Promise<void> {
    for (let i = 0; i < nodes.length; i += INSERT_CHUNK) {
      const rows = nodes.slice(i, i + INSERT_CHUNK).map((n) => ({ level: n.id.level, idx: n.id.index, hash: bytes(n.hash) }));
      await q.insertInto('log_nodes').values(rows).execute();
    }
  }

  async latestCheckpoint(q: Query = this.db.kysely): Promise<StoredCheckpoint | undefined> {
    const row = await q.selectFrom('log_checkpoints').selectAll().orderBy('size', 'desc').limit(1).executeTakeFirst();
    return row === undefined ? undefined : checkpointOf(row);
  }

  async checkpointAt(size: number): Promise<StoredCheckpoint | undefined> {
    const row = await this.db.kysely.selectFrom('log_checkpoints').selectAll().where('size', '=', size).executeTakeFirst();
    return row === undefined ? undefined : checkpointOf(row);
  }

  /** The smallest signed checkpoint with size > index (the first that contains leaf index). */
  async firstCheckpointAbove(index: number): Promise<StoredCheckpoint | undefined> {
    const row = await this.db.kysely.selectFrom('log_checkpoints').selectAll().where('size', '>', index).orderBy('size').limit(1).executeTakeFirst();
    return row === undefined ? undefined : checkpointOf(row);
  }

  async insertCheckpoint(cp: Omit<StoredCheckpoint, 'cosignatures'>, q: Query): Promise<void> {
    await q.insertInto('log_checkpoints').values({ size: cp.size, root: bytes(cp.root), note: cp.note, cosignatures: '', created_at: cp.createdAt }).execute();
  }

  /** Replaces the cosignature lines of the checkpoint of `size`. */
  async setCosignatures(size: number, lines: string): Promise<void> {
    await this.db.kysely.updateTable('log_checkpoints').set({ cosignatures: lines }).where('size', '=', size).execute();
  }
}

function checkpointOf(r: { size: number; root: Buffer; note: string; cosignatures: string; created_at: number }): StoredCheckpoint {
  return { size: Number(r.size), root: copy(r.root), note: r.note, cosignatures: r.cosignatures, createdAt: Number(r.created_at) };
}

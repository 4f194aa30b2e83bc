/**
 * db/prepared.ts: a query compiled once per database and run with new arguments gives the same
 * rows and changes as the Kysely query built each time, on both dialects, in and out of
 * transactions; misuse is refused.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../src/db/connect.js';
import type { Db } from '../src/db/connect.js';
import { prepared } from '../src/db/prepared.js';
import { forEachDialect, freshPgDatabase } from './support/harness.js';

const byKey = prepared<{ keyId: string }>()((db, p) => db.selectFrom('request_nonces').select(['nonce', 'expires_at']).where('key_id', '=', p.keyId).orderBy('nonce'));
const insert = prepared<{ keyId: string; nonce: string; expiresAt: number }>()((db, p) => db.insertInto('request_nonces')
  .values({ key_id: p.keyId, nonce: p.nonce, expires_at: p.expiresAt })
  .onConflict((oc) => oc.columns(['key_id', 'nonce']).doNothing()));
// A constant in the query stays a constant: only the placeholders are replaced.
const expiresBefore = prepared<{ at: number }>()((db, p) => db.updateTable('request_nonces').set({ expires_at: 0 }).where('expires_at', '<', p.at).where('key_id', '!=', 'keep'));

forEachDialect('prepared queries', (dialect) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  before(async () => {
    if (dialect === 'postgres') {
      const pg = await freshPgDatabase();
      db = await openDb({ url: pg.url, poolSize: 3 });
      cleanup = async () => { await db.close(); await pg.drop(); };
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'reflash-prepared-'));
      db = await openDb({ url: join(dir, 'db.sqlite') });
      cleanup = async () => { await db.close(); rmSync(dir, { recursive: true, force: true }); };
    }
  });
  after(async () => { await cleanup(); });

  it('substitutes the arguments of each run (rows and change counts as Kysely gives them)', async () => {
    assert.equal(await insert.run(db.kysely, { keyId: 'k1', nonce: 'n1', expiresAt: 10 }), 1);
    assert.equal(await insert.run(db.kysely, { keyId: 'k1', nonce: 'n2', expiresAt: 20 }), 1);
    assert.equal(await insert.run(db.kysely, { keyId: 'k2', nonce: 'n1', expiresAt: 30 }), 1);
    // on conflict do nothing: 0 rows changed (the replay check of recordVehicleNonce relies on it)
    assert.equal(await insert.run(db.kysely, { keyId: 'k1', nonce: 'n1', expiresAt: 99 }), 0);
    assert.deepEqual(await byKey.all(db.kysely, { keyId: 'k1' }), [{ nonce: 'n1', expires_at: 10 }, { nonce: 'n2', expires_at: 20 }]);
    assert.deepEqual(await byKey.first(db.kysely, { keyId: 'k2' }), { nonce: 'n1', expires_at: 30 });
    assert.equal(await byKey.first(db.kysely, { keyId: 'nobody' }), undefined);
    const built = await db.kysely.selectFrom('request_nonces').select(['nonce', 'expires_at']).where('key_id', '=', 'k1').orderBy('nonce').execute();
    assert.deepEqual(await byKey.all(db.kysely, { keyId: 'k1' }), built);
  });

  it('runs inside a transaction, and a rollback undoes it', async () => {
    await assert.rejects(db.kysely.transaction().execute(async (trx) => {
      assert.equal(await insert.run(trx, { keyId: 'tx', nonce: 'a', expiresAt: 1 }), 1);
      assert.equal((await byKey.all(trx, { keyId: 'tx' })).length, 1);
      throw new Error('roll back');
    }), /roll back/);
    assert.deepEqual(await byKey.all(db.kysely, { keyId: 'tx' }), []);
  });

  it('keeps constants of the query and replaces only the placeholders', async () => {
    await insert.run(db.kysely, { keyId: 'keep', nonce: 'x', expiresAt: 5 });
    const changed = await expiresBefore.run(db.kysely, { at: 25 });
    assert.equal(changed, 2); // k1/n1 (10), k1/n2 (20); not k2 (30), not 'keep'
    assert.deepEqual((await byKey.first(db.kysely, { keyId: 'keep' }))?.expires_at, 5);
  });

  it('refuses an argument used twice and a missing argument', async () => {
    const twice = prepared<{ k: string }>()((d, p) => d.selectFrom('request_nonces').selectAll().where('key_id', '=', p.k).where('nonce', '=', p.k));
    await assert.rejects(twice.all(db.kysely, { k: 'a' }), /uses an argument twice/);
    await assert.rejects(byKey.all(db.kysely, {} as { keyId: string }), /no value for keyId/);
  });
});

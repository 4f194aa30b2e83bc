/**
 * SQLite durability modes (db/connect.ts): in 'group' mode (the default) a commit is made durable
 * by an fsync of the WAL shared by every waiting caller, and the server sends no answer while a
 * commit made before it is not yet durable.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../src/db/connect.js';
import { makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';

async function withDb(mode: 'group' | 'full' | 'normal' | undefined, fn: (db: Awaited<ReturnType<typeof openDb>>, file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reflash-durable-'));
  const file = join(dir, 'db.sqlite');
  const db = await openDb({ url: file, ...(mode === undefined ? {} : { sqliteSynchronous: mode }) });
  try {
    await fn(db, file);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const write = (db: Awaited<ReturnType<typeof openDb>>, nonce: string) => db.kysely.insertInto('request_nonces').values({ key_id: 'k', nonce, expires_at: 1 }).execute();

describe('SQLite durability: group fsync of the WAL', () => {
  it('default mode is group: a write is undurable until durable() resolves', async () => {
    await withDb(undefined, async (db) => {
      await db.durable();
      assert.equal(db.undurable, false);
      await write(db, 'a');
      assert.equal(db.undurable, true, 'a commit is not durable before the WAL fsync');
      await db.durable();
      assert.equal(db.undurable, false);
      // Reads do not make anything undurable.
      await db.kysely.selectFrom('request_nonces').selectAll().execute();
      assert.equal(db.undurable, false);
    });
  });

  it('concurrent callers share syncs and every one resolves after its own writes', async () => {
    await withDb('group', async (db) => {
      const waits: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        await write(db, `n${i}`);
        waits.push(db.durable());
      }
      await Promise.all(waits);
      assert.equal(db.undurable, false);
      // A write made while a sync runs is covered by a later sync, not by the running one.
      await write(db, 'x1');
      const first = db.durable();
      await write(db, 'x2');
      const second = db.durable();
      await first;
      await second;
      assert.equal(db.undurable, false);
    });
  });

  it('full and normal modes report nothing pending (full syncs in the commit; normal never)', async () => {
    for (const mode of ['full', 'normal'] as const) {
      await withDb(mode, async (db) => {
        await write(db, 'a');
        assert.equal(db.undurable, false, mode);
        await db.durable();
      });
    }
  });

  it('the data survives close and reopen (the last connection checkpoints the WAL)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflash-durable-'));
    try {
      const file = join(dir, 'db.sqlite');
      const db = await openDb({ url: file });
      await write(db, 'kept');
      await db.close();
      const again = await openDb({ url: file });
      assert.equal((await again.kysely.selectFrom('request_nonces').select('nonce').where('nonce', '=', 'kept').execute()).length, 1);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('server: no answer before the commits it follows are durable', () => {
  let h: Harness;
  before(async () => { h = await makeHarness('sqlite'); });
  after(async () => { await h.close(); });

  it('a write request is answered only after the WAL fsync (group mode, the default)', async () => {
    assert.equal(h.ctx.config.sqliteSynchronous, 'group');
    const r = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h.auth('admin'), payload: { name: 'durable', role: 'auditor' } });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(h.ctx.db.undurable, false, 'the answer left before the token row was durable');
  });

  it('any answer waits for earlier commits, also one that wrote nothing itself', async () => {
    await h.ctx.db.kysely.insertInto('request_nonces').values({ key_id: 'bg', nonce: 'job', expires_at: 1 }).execute();
    assert.equal(h.ctx.db.undurable, true);
    const r = await h.app.inject({ url: '/healthz' });
    assert.equal(r.statusCode, 200);
    assert.equal(h.ctx.db.undurable, false);
  });
});

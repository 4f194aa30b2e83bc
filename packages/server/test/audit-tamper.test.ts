/**
 * Tamper: someone with write access to the database alters the stored log. The next
 * integration must refuse to sign a checkpoint, log an error alert with a stable code, count it
 * in reflash_log_alerts_total, and keep refusing; receipts are refused with LOG_HALTED.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { leafHash } from '@reflash/log';
import { AuditLog } from '../src/audit/service.js';
import type { AlertCode } from '../src/audit/integrity.js';
import { ApiError } from '../src/errors.js';
import { Metrics } from '../src/plugins/metrics.js';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { sampleEvent } from './audit-helpers.js';

const MASTER = 'test-master-key-0123456789abcdef0123456789';

interface Watch {
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly lines: Array<{ level: number; alert?: string; msg: string }>;
}

/** A log service on the harness database whose error log and metrics the test can read. */
async function watch(h: Harness): Promise<Watch> {
  const lines: Watch['lines'] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Watch['lines'][number]);
      cb();
    },
  });
  const metrics = new Metrics(false);
  const audit = await AuditLog.open({ db: h.ctx.db, masterKey: MASTER, origin: h.ctx.audit.origin, now: () => h.clock.now, log: pino({ level: 'warn' }, stream), metrics });
  return { audit, metrics, lines };
}

/** 40 signed entries, then one more appended (pending) so that the next integration would sign. */
async function signedLog(w: Watch): Promise<void> {
  for (let i = 0; i < 40; i++) await w.audit.append(sampleEvent(i));
  assert.equal((await w.audit.integrate()).size, 40);
  await w.audit.append(sampleEvent(40));
}

async function expectRefusal(h: Harness, w: Watch, code: AlertCode, storedSize: number): Promise<void> {
  const r = await w.audit.integrate();
  assert.equal(r.signed, false);
  assert.equal(r.alert?.code, code, r.alert?.message);
  assert.equal((await h.ctx.audit.storage.latestCheckpoint())?.size, storedSize, 'no checkpoint was signed');
  const alert = w.lines.find((l) => l.alert === code);
  assert.ok(alert !== undefined && alert.level === 50, 'an error-level alert line names the code');
  assert.match(await w.metrics.registry.metrics(), new RegExp(`reflash_log_alerts_total\\{code="${code}"\\} 1`));
  // It keeps refusing, and receipts say why.
  assert.equal((await w.audit.integrate()).alert?.code, code);
  await assert.rejects(w.audit.receipt(40), (err: unknown) => err instanceof ApiError && err.code === 'LOG_HALTED');
  assert.deepEqual((await w.audit.status()).halted?.code, code);
  await w.audit.close();
}

forEachDialect('accountability log tamper detection', (dialect) => {
  async function scenario(name: string, code: AlertCode, tamper: (h: Harness) => Promise<void>): Promise<void> {
    await it(name, async () => {
      const h = await makeHarness(dialect);
      try {
        const w = await watch(h);
        await signedLog(w);
        await tamper(h);
        await expectRefusal(h, w, code, code === 'LOG_TAMPER_ROLLBACK' ? 0 : 40);
      } finally {
        await h.close();
      }
    });
  }
  const db = (h: Harness): Harness['ctx']['db']['kysely'] => h.ctx.db.kysely;

  void scenario('altered entry bytes of an old leaf', 'LOG_TAMPER_LEAF', async (h) => {
    await db(h).updateTable('log_leaves').set({ entry: Buffer.from('{"forged":true}') }).where('idx', '=', 3).execute();
  });

  void scenario('altered stored leaf hash of an old leaf', 'LOG_TAMPER_LEAF', async (h) => {
    await db(h).updateTable('log_leaves').set({ leaf_hash: Buffer.alloc(32, 1) }).where('idx', '=', 17).execute();
  });

  void scenario('a rewritten old leaf with matching leaf hash and level-0 node (the parent no longer matches)', 'LOG_TAMPER_NODE', async (h) => {
    const forged = Buffer.from('{"forged":true}');
    const hash = Buffer.from(leafHash(forged));
    await db(h).updateTable('log_leaves').set({ entry: forged, leaf_hash: hash }).where('idx', '=', 3).execute();
    await db(h).updateTable('log_nodes').set({ hash }).where('level', '=', 0).where('idx', '=', 3).execute();
  });

  void scenario('an altered interior node', 'LOG_TAMPER_NODE', async (h) => {
    await db(h).updateTable('log_nodes').set({ hash: Buffer.alloc(32, 2) }).where('level', '=', 2).where('idx', '=', 3).execute();
  });

  void scenario('an altered node on the right edge of the signed tree', 'LOG_TAMPER_NODE', async (h) => {
    // 40 = 32 + 8: the right edge is (5, 0) and (3, 4).
    await db(h).updateTable('log_nodes').set({ hash: Buffer.alloc(32, 3) }).where('level', '=', 3).where('idx', '=', 4).execute();
  });

  void scenario('a deleted node', 'LOG_TAMPER_NODE', async (h) => {
    await db(h).deleteFrom('log_nodes').where('level', '=', 1).where('idx', '=', 5).execute();
  });

  void scenario('an altered root in the stored checkpoint', 'LOG_TAMPER_CHECKPOINT', async (h) => {
    await db(h).updateTable('log_checkpoints').set({ root: Buffer.alloc(32, 4) }).where('size', '=', 40).execute();
  });

  void scenario('a forged checkpoint note', 'LOG_TAMPER_CHECKPOINT', async (h) => {
    const cp = (await h.ctx.audit.storage.checkpointAt(40))!;
    await db(h).updateTable('log_checkpoints').set({ note: cp.note.replace('\n40\n', '\n41\n') }).where('size', '=', 40).execute();
  });

  void scenario('a deleted latest checkpoint (rollback to an older tree)', 'LOG_TAMPER_ROLLBACK', async (h) => {
    // The process that signed 40 notices it from memory.
    await db(h).deleteFrom('log_checkpoints').where('size', '=', 40).execute();
  });

  it('a deleted latest checkpoint is also noticed by a restarted process (leaves beyond it are integrated)', async () => {
    const h = await makeHarness(dialect);
    try {
      await signedLog(await watch(h));
      await db(h).deleteFrom('log_checkpoints').where('size', '=', 40).execute();
      const restarted = await watch(h);
      await expectRefusal(h, restarted, 'LOG_TAMPER_ROLLBACK', 0);
    } finally {
      await h.close();
    }
  });

  it('the scrub reaches every old leaf within one pass, also when a pass spans several checkpoints', async () => {
    const h = await makeHarness(dialect);
    try {
      const w = await watch(h);
      const small = await AuditLog.open({ db: h.ctx.db, masterKey: MASTER, origin: h.ctx.audit.origin, now: () => h.clock.now, log: pino({ level: 'silent' }), metrics: w.metrics, scrubBudget: 16 });
      for (let i = 0; i < 100; i++) await small.append(sampleEvent(i));
      assert.equal((await small.integrate()).size, 100);
      await db(h).updateTable('log_leaves').set({ entry: Buffer.from('{"forged":true}') }).where('idx', '=', 90).execute();
      let steps = 0;
      for (;;) {
        await small.append(sampleEvent(steps));
        const r = await small.integrate();
        steps++;
        if (r.alert !== undefined) {
          assert.equal(r.alert.code, 'LOG_TAMPER_LEAF');
          break;
        }
        assert.ok(steps <= Math.ceil(100 / 16) + 1, `not detected after ${steps} checkpoints`);
      }
      assert.ok(steps > 1, 'a budget of 16 needs several steps to reach leaf 90');
      await small.close();
      await w.audit.close();
    } finally {
      await h.close();
    }
  });

  void scenario('altered entry bytes of a pending (not yet signed) leaf', 'LOG_TAMPER_LEAF', async (h) => {
    await db(h).updateTable('log_leaves').set({ entry: Buffer.from('{"forged":true}') }).where('idx', '=', 40).execute();
  });
});

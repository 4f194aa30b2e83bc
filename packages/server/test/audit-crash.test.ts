/**
 * Crash: a server process is killed (SIGKILL) during a burst of appends while its integrator
 * runs. After a restart the log integrates and verifies from its stored entries, every
 * checkpoint signed before the crash is consistent with the new one, and every append the
 * killed process acknowledged is in the log with the acknowledged index and leaf hash.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { leafHash, verifyConsistency } from '@reflash/log';
import { defaults } from '../src/config.js';
import { createContext } from '../src/server.js';
import { forEachDialect, freshPgDatabase } from './support/harness.js';
import { replayStoredLog } from './audit-helpers.js';

const CHILD = new URL('./audit-crash-child.js', import.meta.url).pathname;
const ACKS_BEFORE_KILL = 3000;

/** Runs the child until it acknowledged `acks` appends, then SIGKILLs it; returns what it acknowledged. */
async function burstAndKill(dataDir: string, database: string, acks: number): Promise<Map<number, string>> {
  const child = spawn(process.execPath, [CHILD, dataDir, database], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked = new Map<number, string>();
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: child.stdout })) {
    const m = /^ack (\d+) ([0-9a-f]{64})$/.exec(line);
    if (m === null) continue;
    acked.set(Number(m[1]), m[2]!);
    if (acked.size === acks) child.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL', 'the child was killed mid-burst, not finished');
  return acked;
}

forEachDialect('accountability log crash safety', (dialect) => {
  it('SIGKILL during a burst of appends: after restart the log verifies and holds every acknowledged entry', { timeout: 120_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'reflash-crash-'));
    const pgdb = dialect === 'postgres' ? await freshPgDatabase() : undefined;
    try {
      const acked = await burstAndKill(dataDir, pgdb?.url ?? '', ACKS_BEFORE_KILL);
      assert.ok(acked.size >= ACKS_BEFORE_KILL);
      const ctx = await createContext({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), database: pgdb?.url ?? '', logLevel: 'silent' }, {
        env: { REFLASH_MASTER_KEY: 'test-master-key-0123456789abcdef0123456789' },
      });
      try {
        const before = await ctx.audit.checkpoint();
        const r = await ctx.audit.integrate();
        assert.equal(r.alert, undefined, 'no integrity alert after the crash');
        const { size, entries } = await replayStoredLog(ctx);
        assert.ok(size >= acked.size, `${size} entries signed, ${acked.size} acknowledged`);
        t.diagnostic(`acknowledged ${acked.size}; signed before the kill ${before.size}; after restart ${size}`);
        for (const [index, hash] of acked) {
          assert.ok(index < size, `acknowledged entry ${index} is in the signed tree`);
          assert.equal(Buffer.from(leafHash(entries[index]!)).toString('hex'), hash, `entry ${index} is the acknowledged one`);
        }
        // The checkpoint signed before the crash (if any) is a prefix of the one after.
        if (before.size > 0 && before.size < size) {
          const p = await ctx.audit.consistencyProof(before.size);
          const after = await ctx.audit.checkpoint();
          verifyConsistency(before.size, size, p.proof, before.root, after.root);
        }
      } finally {
        await ctx.audit.close();
        await ctx.db.close();
      }
    } finally {
      await pgdb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

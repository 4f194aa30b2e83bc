/**
 * Child process of audit-crash.test.ts: a server context (the real createContext, background
 * integrator running) that appends in a burst and prints `ack <index> <leaf hash hex>` for
 * every append the log acknowledged. The parent kills it with SIGKILL mid-burst.
 * Usage: node audit-crash-child.js <dataDir> <database url or ''>
 */
import { join } from 'node:path';
import { defaults } from '../src/config.js';
import { createContext } from '../src/server.js';
import { sampleEvent } from './audit-helpers.js';

const [dataDir, database] = process.argv.slice(2) as [string, string];
const ctx = await createContext({ ...defaults(dataDir), blobDir: join(dataDir, 'blobs'), database, logLevel: 'silent', logIntegrateIntervalMs: 20 }, {
  env: { REFLASH_MASTER_KEY: 'test-master-key-0123456789abcdef0123456789' },
});
ctx.audit.start();
process.stdout.write('ready\n');
let n = 0;
async function appender(): Promise<void> {
  for (;;) {
    const r = await ctx.audit.append(sampleEvent(n++));
    process.stdout.write(`ack ${r.index} ${r.leafHash}\n`);
  }
}
await Promise.all(Array.from({ length: 64 }, () => appender()));

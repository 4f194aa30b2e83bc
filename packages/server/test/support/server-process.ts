/**
 * Real server processes for multi-process tests (two servers on one PostgreSQL database; a
 * server killed with SIGKILL and restarted on its SQLite file).
 *
 * - Run as a script (`node dist/test/support/server-process.js --serve`): starts the compiled
 *   server (startServer, port 0, configuration from REFLASH_* variables) and prints one line
 *   `REFLASH_TEST_URL=<url>` on stdout once it listens. SIGTERM stops it gracefully.
 * - Imported: `spawnServer(env)` starts such a child and resolves with its URL.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';

const MARKER = 'REFLASH_TEST_URL=';

export interface ServerChild {
  readonly url: string;
  readonly child: ChildProcess;
  /** everything the child wrote on stderr (for failure messages) */
  readonly stderr: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now; resolves when the process has exited */
  kill(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Start a server child with these REFLASH_* variables (plus the parent's PATH etc.). */
export async function spawnServer(env: Record<string, string>, timeoutMs = 20_000): Promise<ServerChild> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [script, '--serve'], { env: { ...process.env, REFLASH_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => { err += b.toString('utf8'); });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server child did not start within ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith(MARKER));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line.slice(MARKER.length).trim());
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server child exited (${code ?? signal ?? '?'}) before listening: ${err}`));
    });
  });
  return {
    url,
    child,
    stderr: () => err,
    stop: async (graceMs = 5000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = exited(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    },
    kill: async () => {
      const done = exited(child);
      child.kill('SIGKILL');
      await done;
    },
  };
}

if (process.argv[2] === '--serve') {
  const config = loadConfig({ env: process.env, flags: { host: '127.0.0.1', port: 0 } });
  const server = await startServer(config, { env: process.env, handleSignals: true });
  process.stdout.write(`${MARKER}${server.url}\n`);
}

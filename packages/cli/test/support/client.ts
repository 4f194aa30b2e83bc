/** Run the compiled `packages/cli/bin/tuf-client` as a child process (asynchronously, so the
 * in-process test server keeps answering). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** dist/test/support/client.js -> packages/cli/bin/tuf-client */
export const TUF_CLIENT_BIN = fileURLToPath(new URL('../../../bin/tuf-client', import.meta.url));

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runClient(args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [TUF_CLIENT_BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new Error(`tuf-client did not run to completion: ${err.message}`, { cause: err }));
        return;
      }
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

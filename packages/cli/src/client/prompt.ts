/**
 * A secret read from the terminal without echo (raw mode on stdin, prompt on stderr). Only
 * when stdin is a TTY; Ctrl-C and Ctrl-D abort.
 */
import { UsageError } from '@reflash/metadata';

export function stdinIsTTY(): boolean {
  return process.stdin.isTTY === true;
}

export function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY !== true) return Promise.reject(new UsageError('cannot prompt: standard input is not a terminal'));
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err === undefined) resolve(value);
      else reject(err);
    };
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new UsageError('aborted'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

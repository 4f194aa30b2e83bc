/**
 * `tuf-client`: the tuf-conformance client-under-test CLI (CLIENT-CLI.md) over the verify
 * package's Updater. Global options come before the command, in any order. Exit code 0 only
 * on full success; any failure prints `tuf-client: <code>: <message>` to stderr and exits 1.
 */
import { Command, CommanderError } from 'commander';
import { HttpFetcher } from '../io/http-fetcher.js';
import { download, init, refresh } from './commands.js';
import type { Context } from './commands.js';
import type { GlobalOptions } from './options.js';

export interface RunIO {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  /** Reference time; defaults to Date.now() captured once at start. */
  readonly now?: number;
}

const defaultIO: RunIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function describe(err: unknown): string {
  if (err instanceof CommanderError) return `USAGE: ${err.message.replace(/^error: /, '')}`;
  if (err instanceof Error) {
    const c = (err as { code?: unknown }).code;
    const code = typeof c === 'string' ? c : err.name;
    // Node's system errors already start with their code ("ENOENT: no such file ...").
    const message = err.message.startsWith(`${code}: `) ? err.message.slice(code.length + 2) : err.message;
    const cause = err.cause instanceof Error && !message.includes(err.cause.message) ? ` (cause: ${err.cause.message})` : '';
    return `${code}: ${message}${cause}`;
  }
  return `ERROR: ${String(err)}`;
}

function program(ctx: Context, io: RunIO): Command {
  const p = new Command('tuf-client')
    .description('TUF 1.0 client for the tuf-conformance test suite')
    .option('--metadata-dir <dir>', 'directory of trusted metadata (root.json, timestamp.json, ...)')
    .option('--metadata-url <url>', 'base URL of the repository metadata')
    .option('--target-name <path>', 'target path to download (repeatable)', collect, [])
    .option('--target-base-url <url>', 'base URL of the repository targets')
    .option('--target-dir <dir>', 'directory to store verified targets in')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .helpCommand(false);
  const opts = (): GlobalOptions => p.opts<GlobalOptions>();
  p.command('init')
    .description('install the trusted root (no network request)')
    .argument('<trusted_root>', 'initial root.json')
    .action((trustedRoot: string) => init(opts(), trustedRoot));
  p.command('refresh')
    .description('update the top-level metadata (TUF 5.3-5.6)')
    .action(() => refresh(opts(), ctx));
  p.command('download')
    .description('refresh, then download and verify each --target-name (TUF 5.7)')
    .action(() => download(opts(), ctx));
  return p;
}

/** Parse `argv` (arguments only, no node/script) and run the command; returns the exit code. */
export async function run(argv: readonly string[], io: RunIO = defaultIO): Promise<number> {
  const ctx: Context = { referenceTime: io.now ?? Date.now(), fetcher: new HttpFetcher({ userAgent: 'reflash-tuf-client' }) };
  const p = program(ctx, io);
  try {
    if (argv.length === 0) throw new CommanderError(1, 'commander.missingCommand', 'a command is required: init, refresh or download');
    await p.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) return 0;
    io.stderr(`tuf-client: ${describe(err)}\n`);
    return 1;
  }
}

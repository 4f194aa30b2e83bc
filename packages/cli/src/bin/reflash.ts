/** The `reflash` command. */
import { Command, CommanderError } from 'commander';
import { runDemo } from '../commands/demo.js';
import { canonicalCommand, inspectCommand, verifyCommand } from '../commands/metadata.js';
import { registerAssign } from '../commands/assign.js';
import { registerCampaign } from '../commands/campaign.js';
import { registerImage } from '../commands/image.js';
import { registerImageRepo } from '../commands/image-repo.js';
import { registerKeys } from '../commands/keys.js';
import { registerSign } from '../commands/sign.js';
import { registerToken } from '../commands/token.js';
import { registerAudit } from '../commands/audit.js';
import { registerVehicle } from '../commands/vehicle.js';
import { registerFleet } from '../commands/fleet.js';
import { registerBundle } from '../commands/bundle.js';
import { registerInspect } from '../commands/inspect.js';
import { registerSums } from '../commands/sums.js';

const program = new Command();
program
  .name('reflash')
  .description('Reflash: secure over-the-air software updates for vehicle fleets (Uptane, UN R156, verifiable log)')
  .version('0.1.0')
  // Errors, commander's own included, leave through the one handler below (inherited by
  // every subcommand made after this point).
  .exitOverride()
  .configureOutput({ outputError: () => undefined });

program
  .command('demo')
  .description('run one Uptane update cycle in-process: Image repo, Director, 3 ECUs, full verification, a refused attack')
  .action(async () => {
    if (!(await runDemo())) process.exitCode = 1;
  });

program
  .command('canonical')
  .argument('<file>', 'a JSON file')
  .description('print the canonical JSON (OLPC/securesystemslib) of a file: the bytes TUF signs')
  .action(async (file: string) => {
    process.stdout.write(`${await canonicalCommand(file)}\n`);
  });

const metadata = program.command('metadata').description('inspect and check TUF/Uptane metadata files');
metadata
  .command('inspect')
  .argument('<file>')
  .description('parse a metadata file and summarise it')
  .action(async (file: string) => {
    for (const l of await inspectCommand(file)) console.log(l);
  });
metadata
  .command('verify')
  .argument('<file>')
  .requiredOption('--root <file>', 'trusted root metadata')
  .option('--role <name>', 'role name (default: the file\'s _type)')
  .option('--delegator <file>', 'targets metadata that delegates to this role')
  .description('check the threshold of signatures; says how many more are needed')
  .action(async (file: string, opts: { root: string; role?: string; delegator?: string }) => {
    const r = await verifyCommand(file, opts);
    for (const l of r.lines) console.log(l);
    if (!r.ok) process.exitCode = 1;
  });

program
  .command('server')
  .description('run the OTA server (Image repository, Director, inventory, device API); stops on SIGTERM/SIGINT')
  .option('--data-dir <dir>', 'data folder: SQLite file, blobs, server keys (default ./data)')
  .option('--port <n>', 'TCP port (0: any free port; default 8080)')
  .option('--host <host>', 'address to listen on (default 127.0.0.1)')
  .option('--database <url>', 'postgres://... (default: SQLite in the data folder)')
  .option('--config <file>', 'JSON configuration file')
  .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent')
  .option('--tls-cert <file>', 'TLS certificate (PEM), with --tls-key')
  .option('--tls-key <file>', 'TLS private key (PEM), with --tls-cert')
  .action(async (opts: Record<string, string>) => {
    // Loaded only here: the other commands do not need the server's dependencies.
    const { serverCommand } = await import('../commands/server.js');
    await serverCommand(opts);
  });

registerKeys(program);
registerImageRepo(program);
registerImage(program);
registerSign(program);
registerVehicle(program);
registerAssign(program);
registerCampaign(program);
registerToken(program);
registerAudit(program);
registerFleet(program);
registerBundle(program);
registerInspect(program);
registerSums(program);

/** `code` of a coded error (ReflashError, ApiClientError, ConfigError, Node's system errors). */
function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code !== '' ? code : 'ERROR';
}

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, successfully.
    if (err.exitCode !== 0) {
      process.stderr.write(`reflash: USAGE: ${err.message.replace(/^error: /, '')}\n`);
      process.exitCode = 1;
    }
  } else {
    const code = codeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    // Node's system errors already start with their code ("ENOENT: no such file ...").
    process.stderr.write(`reflash: ${code}: ${message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message}\n`);
    // A configuration the server cannot start with: exit 2 (as config tools do).
    process.exitCode = code === 'CONFIG_INVALID' ? 2 : 1;
  }
}

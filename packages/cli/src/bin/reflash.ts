/** The `reflash` command. */
import { Command } from 'commander';
import { ReflashError } from '@reflash/metadata';
import { runDemo } from '../commands/demo.js';
import { canonicalCommand, inspectCommand, verifyCommand } from '../commands/metadata.js';

const program = new Command();
program
  .name('reflash')
  .description('Reflash: secure over-the-air software updates for vehicle fleets (Uptane, UN R156, verifiable log)')
  .version('0.1.0');

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

try {
  await program.parseAsync();
} catch (err) {
  const code = err instanceof ReflashError ? err.code : 'ERROR';
  process.stderr.write(`reflash: ${code}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}

/** `reflash keys generate|list|show`: the offline key store (see keystore.ts). */
import type { Command } from 'commander';
import { SCHEMES, UsageError } from '@reflash/metadata';
import type { Scheme } from '@reflash/metadata';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { Keystore, envOrPromptPassphrase } from './keystore.js';
import type { KeyEntry, PassphraseSource } from './keystore.js';

export function keystoreDir(opt: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  const dir = opt ?? env['REFLASH_KEYSTORE'];
  if (dir === undefined || dir === '') throw new UsageError('no key store: pass --keystore DIR or set REFLASH_KEYSTORE');
  return dir;
}

export function parseScheme(s: string | undefined): Scheme {
  if (s === undefined) return 'ed25519';
  if (!(SCHEMES as readonly string[]).includes(s)) throw new UsageError(`--scheme must be one of ${SCHEMES.join(', ')}`);
  return s as Scheme;
}

export async function generateKeyCommand(opts: { keystore: string; name: string; scheme?: Scheme; test?: boolean; passphrase: PassphraseSource }, out: Output): Promise<KeyEntry> {
  const ks = new Keystore(opts.keystore);
  const entry = opts.test === true
    ? await ks.generate(opts.name, { scheme: opts.scheme ?? 'ed25519', test: true })
    : await ks.generate(opts.name, { scheme: opts.scheme ?? 'ed25519', passphrase: await opts.passphrase(opts.name, true) });
  out.out(`${entry.name} ${entry.scheme} ${entry.keyid}`);
  out.note(`wrote ${entry.publicFile} and ${entry.privateFile}${entry.test ? ' (UNENCRYPTED TEST KEY: CI, demos and simulators only)' : ' (encrypted)'}`);
  return entry;
}

function describe(e: KeyEntry): string {
  return `${e.name}\t${e.scheme}\t${e.keyid}${e.test ? '\tTEST-KEY' : ''}`;
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('the offline key store (root, targets and supplier keys)');
  keys.command('generate')
    .description('create a key pair: NAME.pub.json and NAME.key.pem (encrypted with a passphrase from $REFLASH_KEY_PASSPHRASE or a prompt)')
    .option('--keystore <dir>', 'key store folder (default: $REFLASH_KEYSTORE)')
    .requiredOption('--name <name>', 'key name')
    .option('--scheme <scheme>', `signature scheme: ${SCHEMES.join(', ')}`, 'ed25519')
    .option('--test', 'an UNENCRYPTED test key (NAME.TEST-KEY.pem) for CI, demos and simulators')
    .action(async (o: { keystore?: string; name: string; scheme?: string; test?: boolean }) => {
      await generateKeyCommand({
        keystore: keystoreDir(o.keystore, process.env), name: o.name, scheme: parseScheme(o.scheme),
        test: o.test === true, passphrase: envOrPromptPassphrase(process.env),
      }, CONSOLE);
    });
  keys.command('list')
    .description('list the keys: name, scheme, key id')
    .option('--keystore <dir>', 'key store folder (default: $REFLASH_KEYSTORE)')
    .action(async (o: { keystore?: string }) => {
      for (const e of await new Keystore(keystoreDir(o.keystore, process.env)).list()) CONSOLE.out(describe(e));
    });
  keys.command('show')
    .argument('<name>')
    .description('show a public key (TUF key JSON and key id)')
    .option('--keystore <dir>', 'key store folder (default: $REFLASH_KEYSTORE)')
    .action(async (name: string, o: { keystore?: string }) => {
      const e = await new Keystore(keystoreDir(o.keystore, process.env)).publicKey(name);
      CONSOLE.out(JSON.stringify({ name: e.name, keyid: e.keyid, scheme: e.scheme, test: e.test, created: e.created, key: e.key.toJSON(), privateFile: e.privateFile }, null, 2));
    });
}

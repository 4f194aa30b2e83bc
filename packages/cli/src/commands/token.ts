/**
 * `reflash token create|list|revoke`: operator API tokens (admin only). A new token is printed
 * once, alone on stdout (so it can be piped into a file); the server keeps only its hash.
 */
import type { Command } from 'commander';
import { UsageError, expectObject, expectString } from '@reflash/metadata';
import type { AdminClient } from '../client/admin.js';
import { readResponse } from '../client/errors.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';

export const TOKEN_ROLES = ['admin', 'release-manager', 'operator', 'auditor'] as const;

export async function createTokenCommand(client: AdminClient, name: string, role: string, out: Output): Promise<{ id: string; token: string }> {
  if (!(TOKEN_ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${TOKEN_ROLES.join(', ')}`);
  const res = await client.json('POST', '/api/v1/tokens', { name, role });
  const t = readResponse('POST /api/v1/tokens', () => {
    const o = expectObject(res, 'response');
    return { id: expectString(o['id'], 'id'), token: expectString(o['token'], 'token') };
  });
  out.note(`token ${t.id} for ${name} (${role}); it is shown only this once:`);
  out.out(t.token);
  return t;
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('operator API tokens (admin)');
  const create = token.command('create')
    .requiredOption('--name <name>', 'who or what uses it')
    .requiredOption('--role <role>', TOKEN_ROLES.join(' | '))
    .description('create a token (printed once)');
  addServerOptions(create).action(async (o: ServerOptions & { name: string; role: string }) => {
    await createTokenCommand(await adminClientFrom(o, process.env), o.name, o.role, CONSOLE);
  });
  const list = token.command('list').description('list tokens (never their values)');
  addServerOptions(list).action(async (o: ServerOptions) => {
    CONSOLE.out(JSON.stringify(await (await adminClientFrom(o, process.env)).get('/api/v1/tokens'), null, 2));
  });
  const revoke = token.command('revoke').argument('<id>').description('revoke a token');
  addServerOptions(revoke).action(async (id: string, o: ServerOptions) => {
    await (await adminClientFrom(o, process.env)).send('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
    CONSOLE.out(`token ${id} revoked`);
  });
}

/**
 * `reflash inspect <VIN> --server URL` and `reflash inspect verify FILE --key KEY`: the signed
 * inspection statement of a vehicle (last attested configuration and RXSWINs, UN R156; a
 * c2sp.org/signed-note by the server's inspection key). Online it fetches the statement and
 * verifies it with the key given by --key (pinned) or else the key the server publishes at
 * GET /api/v1/inspect/key; offline it verifies a saved statement with --key only.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { openNote, parseVerifierKey } from '@reflash/log';
import { UsageError, expectObject, expectString } from '@reflash/metadata';
import type { AdminClient } from '../client/admin.js';
import { readResponse } from '../client/errors.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';

export const STATEMENT_HEADER = 'reflash-inspection/v1';

export interface InspectionStatement {
  readonly vin: string;
  readonly model: string;
  readonly issuedAt: string;
  readonly lastSeenAt: string | null;
  readonly ecus: ReadonlyArray<{ serial: string; hardwareId: string; filename: string | null; length: number | null; sha256: string | null; reportCounter: number | null; installedAt: string | null }>;
  readonly rxswins: ReadonlyArray<{ regulation: string; rxswin: string }>;
}

/** A malformed statement (the signature verified, the content is not a statement). */
export class InspectionFormatError extends Error {
  readonly code = 'INSPECTION_MALFORMED';
}

/**
 * Verify a signed inspection statement with a verifier key (`<name>+<hex8>+<base64>`): the
 * signature must verify (LogSignatureError otherwise) and the text be a v1 statement.
 */
export function verifyStatement(note: string, verifierKey: string): { statement: InspectionStatement; signer: string } {
  const opened = openNote(note, [parseVerifierKey(verifierKey)]);
  const lines = opened.text.split('\n');
  if (lines.length !== 3 || lines[0] !== STATEMENT_HEADER || lines[2] !== '') throw new InspectionFormatError(`not a ${STATEMENT_HEADER} statement`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(lines[1]!);
  } catch (err) {
    throw new InspectionFormatError('the statement is not JSON', { cause: err });
  }
  const o = parsed as InspectionStatement & { type?: unknown };
  if (typeof o !== 'object' || o === null || o.type !== STATEMENT_HEADER || typeof o.vin !== 'string' || !Array.isArray(o.ecus) || !Array.isArray(o.rxswins)) {
    throw new InspectionFormatError('the statement lacks type, vin, ecus or rxswins');
  }
  return { statement: o, signer: opened.verified[0]!.name };
}

export function describeStatement(s: InspectionStatement, signer: string): string[] {
  const lines = [`vehicle ${s.vin} (model ${s.model}), statement issued ${s.issuedAt}, last seen ${s.lastSeenAt ?? 'never'}`];
  for (const e of s.ecus) {
    lines.push(`  ECU ${e.serial} [${e.hardwareId}]: ${e.filename ?? '(nothing reported)'}${e.sha256 === null ? '' : ` sha256 ${e.sha256}`}${e.length === null ? '' : ` ${e.length} bytes`}${e.reportCounter === null ? '' : ` (report ${e.reportCounter})`}`);
  }
  for (const r of s.rxswins) lines.push(`  RXSWIN ${r.regulation}: ${r.rxswin}`);
  lines.push(`signature: verified (key ${signer})`);
  return lines;
}

/** --key: a verifier key, or a file that holds one. */
export async function readKey(key: string): Promise<string> {
  if (existsSync(key)) return (await readFile(key, 'utf8')).trim();
  if (!key.includes('+')) throw new UsageError(`--key: neither a file nor a verifier key (<name>+<hex8>+<base64>): ${key}`);
  return key.trim();
}

export async function inspectOnline(client: AdminClient, vin: string, opts: { key?: string | undefined; out?: string | undefined }, out: Output): Promise<InspectionStatement> {
  let key: string;
  if (opts.key !== undefined) {
    key = await readKey(opts.key);
  } else {
    const k = await client.get('/api/v1/inspect/key');
    key = readResponse('GET /api/v1/inspect/key', () => expectString(expectObject(k, 'response')['key'], 'key'));
    out.note(`verifying with the key the server publishes (${key}); pin it with --key for an independent check`);
  }
  const res = await client.get(`/api/v1/inspect/${encodeURIComponent(vin)}`);
  const note = readResponse(`GET /api/v1/inspect/${vin}`, () => expectString(expectObject(res, 'response')['note'], 'note'));
  const { statement, signer } = verifyStatement(note, key);
  if (statement.vin !== vin) throw new InspectionFormatError(`the statement is about ${statement.vin}, not ${vin}`);
  for (const l of describeStatement(statement, signer)) out.out(l);
  if (opts.out !== undefined) {
    await writeFile(opts.out, note, { mode: 0o644 });
    out.note(`signed statement saved to ${opts.out} (verify offline: reflash inspect verify ${opts.out} --key KEY)`);
  } else {
    out.out('');
    out.out(note.trimEnd());
  }
  return statement;
}

export async function inspectVerifyFile(file: string, keyArg: string, out: Output): Promise<InspectionStatement> {
  const { statement, signer } = verifyStatement(await readFile(file, 'utf8'), await readKey(keyArg));
  for (const l of describeStatement(statement, signer)) out.out(l);
  return statement;
}

export function registerInspect(program: Command): void {
  const cmd = program.command('inspect')
    .argument('<vin-or-verify>', 'a VIN, or "verify" to check a saved statement offline')
    .argument('[file]', 'with "verify": the saved statement')
    .option('--key <key>', 'inspection verifier key or a file holding it (required with "verify")')
    .option('--out <file>', 'save the signed statement to this file')
    .description("a vehicle's signed inspection statement (last attested configuration, RXSWINs), verified");
  addServerOptions(cmd).action(async (first: string, file: string | undefined, o: ServerOptions & { key?: string; out?: string }) => {
    if (first === 'verify') {
      if (file === undefined) throw new UsageError('inspect verify FILE --key KEY');
      if (o.key === undefined) throw new UsageError('inspect verify needs --key (the published inspection key)');
      await inspectVerifyFile(file, o.key, CONSOLE);
      return;
    }
    if (file !== undefined) throw new UsageError(`unexpected argument ${file}`);
    await inspectOnline(await adminClientFrom(o, process.env), first, { key: o.key, out: o.out }, CONSOLE);
  });
}

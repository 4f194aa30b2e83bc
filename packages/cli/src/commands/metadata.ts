/** `reflash metadata ...` and `reflash canonical`: inspect and check TUF/Uptane metadata files. */
import { readFile } from 'node:fs/promises';
import { Metadata, canonicalize, checkThreshold, parseJSON } from '@reflash/metadata';
import type { Root, Targets } from '@reflash/metadata';

export async function canonicalCommand(file: string): Promise<string> {
  return canonicalize(parseJSON(await readFile(file), file));
}

export async function inspectCommand(file: string): Promise<string[]> {
  const md = Metadata.fromBytes(await readFile(file));
  const s = md.signed;
  const lines = [`${s.type} v${s.version}, spec ${s.specVersion}, expires ${s.expires}, ${md.signatures.size} signature(s)`];
  if (s.type === 'targets') {
    const t = s as Targets;
    lines.push(`${t.targets.size} target(s)${t.delegations === undefined ? '' : `, delegations: ${t.delegations.roles === undefined ? `succinct ${t.delegations.succinctRoles!.numberOfBins} bins` : [...t.delegations.roles.keys()].join(', ')}`}`);
  } else if (s.type === 'root') {
    const r = s as Root;
    for (const [name, role] of r.roles) lines.push(`${name}: ${role.threshold} of ${role.keyids.length} key(s)`);
  }
  return lines;
}

/**
 * Check a role's signatures against the root (top-level roles) or a delegating targets file:
 * the non-throwing result says how many signatures are still needed.
 */
export async function verifyCommand(file: string, opts: { root: string; role?: string; delegator?: string }): Promise<{ ok: boolean; lines: string[] }> {
  const md = Metadata.fromBytes(await readFile(file));
  const root = Metadata.fromBytes(await readFile(opts.root), 'root');
  const role = opts.role ?? md.signed.type;
  let result;
  if (opts.delegator !== undefined) {
    const parent = Metadata.fromBytes(await readFile(opts.delegator), 'targets');
    const d = parent.signed.delegations;
    const r = d?.role(role);
    if (d === undefined || r === undefined) return { ok: false, lines: [`${opts.delegator} does not delegate to ${role}`] };
    result = checkThreshold(role, d.keys, r, md);
  } else {
    if (role !== 'root' && role !== 'timestamp' && role !== 'snapshot' && role !== 'targets') return { ok: false, lines: [`${role} is not a top-level role: pass --delegator`] };
    result = checkThreshold(role, root.signed.keys, root.signed.role(role), md);
  }
  const lines = [`${role}: ${result.signed.length} of ${result.threshold} required signature(s) verified`];
  if (!result.verified) lines.push(`${result.threshold - result.signed.length} more signature(s) needed`);
  if (result.invalid.length > 0) lines.push(`invalid signature(s) from: ${result.invalid.join(', ')}`);
  return { ok: result.verified, lines };
}

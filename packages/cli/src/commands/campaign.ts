/**
 * `reflash campaign create|list|show|approve|start|pause|resume|cancel|progress`: software update
 * campaigns (server routes /api/v1/campaigns, docs/SERVER-API.md "Campaigns"). `create` reads the
 * campaign definition from a JSON file; `--rxswin` / `--rxswin-under` add entries to its RXSWIN
 * target filter (UN R156 7.1.1.b/d: vehicles whose current RXSWIN set includes one of them);
 * approval must come from another operator than the creator.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '@reflash/metadata';
import type { AdminClient } from '../client/admin.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';

export const CAMPAIGN_ACTIONS = ['start', 'pause', 'resume', 'cancel'] as const;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

const ID = /^cmp-[0-9a-f]{12}$/;

function path(id: string, rest = ''): string {
  if (!ID.test(id)) throw new UsageError(`campaign id ${JSON.stringify(id)}: expected cmp-<12 hex digits>`);
  return `/api/v1/campaigns/${id}${rest}`;
}

function print(out: Output, v: unknown): unknown {
  out.out(JSON.stringify(v, null, 2));
  return v;
}

/** One entry of target.rxswins: an RXSWIN, or `{regulation, rxswin?}`. */
export type RxswinTarget = string | { regulation: string; rxswin?: string };

export interface TargetOptions {
  /** `--rxswin RXSWIN`: vehicles currently at this RXSWIN (any regulation) */
  readonly rxswin?: readonly string[];
  /** `--rxswin-under REGULATION[=RXSWIN]`: any known RXSWIN under the regulation, or exactly RXSWIN under it */
  readonly rxswinUnder?: readonly string[];
}

const NAME = /^[^\s=]{1,256}$/;

/** The RXSWIN target entries the options name (UsageError for a malformed one). */
export function rxswinTargets(o: TargetOptions): RxswinTarget[] {
  const out: RxswinTarget[] = [];
  for (const r of o.rxswin ?? []) {
    if (!NAME.test(r)) throw new UsageError(`--rxswin ${JSON.stringify(r)}: expected an RXSWIN (no spaces, no '=')`);
    out.push(r);
  }
  for (const u of o.rxswinUnder ?? []) {
    const eq = u.indexOf('=');
    const [regulation, rxswin] = eq < 0 ? [u, undefined] : [u.slice(0, eq), u.slice(eq + 1)];
    if (!NAME.test(regulation) || (rxswin !== undefined && !NAME.test(rxswin))) throw new UsageError(`--rxswin-under ${JSON.stringify(u)}: expected REGULATION or REGULATION=RXSWIN`);
    out.push(rxswin === undefined ? { regulation } : { regulation, rxswin });
  }
  return out;
}

export async function createCampaignCommand(client: AdminClient, file: string, out: Output, target: TargetOptions = {}): Promise<unknown> {
  const extra = rxswinTargets(target);
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--file ${file}: ${(err as Error).message}`);
  }
  if (extra.length > 0) {
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new UsageError(`--file ${file}: not a campaign definition (JSON object)`);
    const s = spec as Record<string, unknown>;
    const t = typeof s['target'] === 'object' && s['target'] !== null && !Array.isArray(s['target']) ? s['target'] as Record<string, unknown> : {};
    const have = Array.isArray(t['rxswins']) ? t['rxswins'] as unknown[] : [];
    spec = { ...s, target: { ...t, rxswins: [...have, ...extra] } };
  }
  return print(out, await client.json('POST', '/api/v1/campaigns', spec));
}

export async function campaignActionCommand(client: AdminClient, action: CampaignAction | 'approve', id: string, body: Record<string, string>, out: Output): Promise<unknown> {
  return print(out, await client.json('POST', path(id, `/${action}`), body));
}

export async function campaignGetCommand(client: AdminClient, id: string | undefined, what: '' | '/progress', out: Output, status?: string): Promise<unknown> {
  if (id === undefined) return print(out, await client.get(`/api/v1/campaigns${status === undefined ? '' : `?status=${encodeURIComponent(status)}`}`));
  return print(out, await client.get(path(id, what)));
}

export function registerCampaign(program: Command): void {
  const campaign = program.command('campaign').description('software update campaigns: create, approve (second person), start, pause, resume, cancel, watch');
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  const create = campaign.command('create').requiredOption('--file <campaign.json>', 'the campaign definition (JSON)')
    .option('--rxswin <rxswin>', 'target vehicles whose current RXSWIN set includes this RXSWIN (repeatable; added to target.rxswins)', collect)
    .option('--rxswin-under <regulation[=rxswin]>', 'target vehicles with a known RXSWIN under the regulation, or exactly RXSWIN under it (repeatable)', collect)
    .description('create a draft campaign');
  addServerOptions(create).action(async (o: ServerOptions & TargetOptions & { file: string }) => {
    await createCampaignCommand(await adminClientFrom(o, process.env), o.file, CONSOLE, o);
  });
  const list = campaign.command('list').option('--status <status>', 'draft | approved | running | paused | finished | cancelled').description('list campaigns');
  addServerOptions(list).action(async (o: ServerOptions & { status?: string }) => {
    await campaignGetCommand(await adminClientFrom(o, process.env), undefined, '', CONSOLE, o.status);
  });
  const show = campaign.command('show').argument('<id>').description('a campaign and its lifecycle events');
  addServerOptions(show).action(async (id: string, o: ServerOptions) => {
    await campaignGetCommand(await adminClientFrom(o, process.env), id, '', CONSOLE);
  });
  const progress = campaign.command('progress').argument('<id>').description('vehicle counts per rollout group and state, failure reasons');
  addServerOptions(progress).action(async (id: string, o: ServerOptions) => {
    await campaignGetCommand(await adminClientFrom(o, process.env), id, '/progress', CONSOLE);
  });
  const approve = campaign.command('approve').argument('<id>')
    .option('--reference <ref>', 'technical-service approval reference (required when a type-approved system is touched)')
    .description('approve a draft campaign (not by its creator)');
  addServerOptions(approve).action(async (id: string, o: ServerOptions & { reference?: string }) => {
    await campaignActionCommand(await adminClientFrom(o, process.env), 'approve', id, o.reference === undefined ? {} : { approvalReference: o.reference }, CONSOLE);
  });
  for (const action of CAMPAIGN_ACTIONS) {
    const cmd = campaign.command(action).argument('<id>').description(`${action} a campaign`);
    if (action !== 'start') cmd.option('--reason <text>', 'why (recorded with the transition)');
    addServerOptions(cmd).action(async (id: string, o: ServerOptions & { reason?: string }) => {
      await campaignActionCommand(await adminClientFrom(o, process.env), action, id, o.reason === undefined ? {} : { reason: o.reason }, CONSOLE);
    });
  }
}

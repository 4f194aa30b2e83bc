/**
 * `reflash campaign create|list|show|approve|start|pause|resume|cancel|progress`: software update
 * campaigns (server routes /api/v1/campaigns, docs/SERVER-API.md "Campaigns"). `create` reads the
 * campaign definition from a JSON file; approval must come from another operator than the creator.
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

export async function createCampaignCommand(client: AdminClient, file: string, out: Output): Promise<unknown> {
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--file ${file}: ${(err as Error).message}`);
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
  const create = campaign.command('create').requiredOption('--file <campaign.json>', 'the campaign definition (JSON)').description('create a draft campaign');
  addServerOptions(create).action(async (o: ServerOptions & { file: string }) => {
    await createCampaignCommand(await adminClientFrom(o, process.env), o.file, CONSOLE);
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

/** Reading campaigns. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { CampaignTable, Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import type { CampaignSpec, CampaignStatus } from './model.js';
import { parseSpec } from './model.js';

export type CampaignRow = Selectable<CampaignTable>;

export interface Campaign {
  readonly row: CampaignRow;
  readonly status: CampaignStatus;
  readonly spec: CampaignSpec;
}

export function toCampaign(row: CampaignRow): Campaign {
  return { row, status: row.status as CampaignStatus, spec: parseSpec(row.spec) };
}

/**
 * Parsed definitions of campaigns past draft: they never change again (only a draft may be
 * edited), so check-ins and Director regeneration need not read and parse them (a VIN-list
 * target may be megabytes). Bounded.
 */
const frozen = new Map<string, CampaignSpec>();

/** The definitions of campaigns `ids` (unknown ids left out). */
export async function loadSpecs(q: Kysely<Database> | Transaction<Database>, ids: readonly string[]): Promise<Map<string, CampaignSpec>> {
  const out = new Map<string, CampaignSpec>();
  const missing = ids.filter((id) => {
    const s = frozen.get(id);
    if (s !== undefined) out.set(id, s);
    return s === undefined;
  });
  if (missing.length === 0) return out;
  for (const r of await q.selectFrom('campaigns').select(['id', 'spec', 'status']).where('id', 'in', missing).execute()) {
    const spec = parseSpec(r.spec);
    out.set(r.id, spec);
    if (r.status !== 'draft') {
      if (frozen.size >= 1000) frozen.clear();
      frozen.set(r.id, spec);
    }
  }
  return out;
}

export async function findCampaign(q: Kysely<Database> | Transaction<Database>, id: string): Promise<Campaign | undefined> {
  const row = await q.selectFrom('campaigns').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toCampaign(row);
}

export async function getCampaign(q: Kysely<Database> | Transaction<Database>, id: string): Promise<Campaign> {
  const c = await findCampaign(q, id);
  if (c === undefined) throw new ApiError('CAMPAIGN_NOT_FOUND', `no campaign ${id}`);
  return c;
}

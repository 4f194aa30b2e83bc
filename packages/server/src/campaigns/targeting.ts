/**
 * Which vehicles a campaign targets (its filter over the inventory and last known
 * configuration), and how they are split into rollout groups. The split is fixed when the
 * campaign starts (campaign_vehicle_states rows, state 'queued').
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ServerContext } from '../context.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import { UNKNOWN } from '../sums/registry.js';
import type { RxswinCondition, RxswinSelector } from '../sums/registry.js';
import type { CampaignSpec } from './model.js';
import { sumsPort } from './sums-port.js';

const CHUNK = 500;

type RxswinTarget = NonNullable<CampaignSpec['target']['rxswins']>[number];

export function rxswinSelector(x: RxswinTarget): RxswinSelector {
  return typeof x === 'string' ? { rxswin: x } : { regulation: x.regulation, ...(x.rxswin === undefined ? {} : { rxswin: x.rxswin }) };
}

function describe(s: RxswinSelector): string {
  return s.regulation === undefined ? `RXSWIN ${s.rxswin ?? ''}` : `${s.rxswin === undefined ? 'an RXSWIN' : `RXSWIN ${s.rxswin}`} under ${s.regulation}`;
}

/**
 * The RXSWIN part of the target filter, or undefined when there is none. Refused
 * (CAMPAIGN_INVALID, 422) when an entry names what the registry does not know: a typo would
 * otherwise silently target nobody (UN R156 7.1.1.b: the registry is the reference).
 */
export async function rxswinTarget(q: Kysely<Database>, spec: CampaignSpec): Promise<RxswinCondition | undefined> {
  const list = spec.target.rxswins;
  if (list === undefined) return undefined;
  const selectors = list.map(rxswinSelector);
  // 'unknown' is what a vehicle matching no definition derives; it is not an RXSWIN.
  const bogus = selectors.find((s) => s.rxswin === UNKNOWN);
  if (bogus !== undefined) throw new ApiError('CAMPAIGN_INVALID', `target.rxswins: '${UNKNOWN}' is not an RXSWIN`);
  const cond = await sumsPort().rxswinCondition(q, selectors);
  if (cond.unmatched.length > 0) {
    throw new ApiError('CAMPAIGN_INVALID', `target.rxswins: no ${cond.unmatched.map(describe).join(', no ')} in the RXSWIN registry`, { unmatched: cond.unmatched });
  }
  return cond;
}

/** VINs matching the campaign's target filter, sorted. */
export async function targetVins(ctx: ServerContext, spec: CampaignSpec): Promise<string[]> {
  const t = spec.target;
  const rx = await rxswinTarget(ctx.db.kysely, spec);
  const hardwareIds = t.hardwareIds ?? Object.keys(spec.images);
  const query = (vins: readonly string[] | undefined): Promise<Array<{ vin: string }>> => {
    let q = ctx.db.kysely.selectFrom('vehicles').select('vehicles.vin');
    if (vins !== undefined) q = q.where('vehicles.vin', 'in', vins);
    if (t.models !== undefined) q = q.where('vehicles.model', 'in', t.models);
    if (t.modelYears !== undefined) q = q.where('vehicles.model_year', 'in', t.modelYears);
    if (t.regions !== undefined) q = q.where('vehicles.region', 'in', t.regions);
    q = q.where((eb) => eb.exists(eb.selectFrom('ecus').select('ecus.serial').whereRef('ecus.vin', '=', 'vehicles.vin').where('ecus.hardware_id', 'in', hardwareIds)));
    if (t.installed !== undefined) {
      const installed = t.installed;
      q = q.where((eb) => eb.exists(eb.selectFrom('ecus').select('ecus.serial').whereRef('ecus.vin', '=', 'vehicles.vin').where('ecus.installed_filename', 'in', installed)));
    }
    if (rx !== undefined) q = q.where(rx.where);
    return q.execute();
  };
  const out: string[] = [];
  if (t.vins === undefined) {
    for (const r of await query(undefined)) out.push(r.vin);
  } else {
    const unique = [...new Set(t.vins)];
    for (let i = 0; i < unique.length; i += CHUNK) for (const r of await query(unique.slice(i, i + CHUNK))) out.push(r.vin);
  }
  return out.sort();
}

/**
 * Split the targeted VINs into rollout groups, in order: a group with `vins` takes those of
 * them that are targeted; `count` takes that many; `percent` that share of all targeted
 * vehicles (rounded up). The others are taken in a fixed pseudo-random order (SHA-256 of campaign
 * id and VIN), so every group is a sample of the fleet. Vehicles left after the last group join it.
 */
export function splitGroups(campaignId: string, spec: CampaignSpec, vins: readonly string[]): string[][] {
  const targeted = new Set(vins);
  const explicit = new Set<string>();
  for (const g of spec.groups) for (const v of g.vins ?? []) if (targeted.has(v)) explicit.add(v);
  const order = (v: string): string => createHash('sha256').update(`${campaignId}:${v}`).digest('hex');
  const rest = vins.filter((v) => !explicit.has(v)).map((v) => [order(v), v] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, v]) => v);
  let next = 0;
  const taken = new Set<string>();
  const groups = spec.groups.map((g) => {
    if (g.vins !== undefined) {
      const mine = [...new Set(g.vins)].filter((v) => targeted.has(v) && !taken.has(v));
      for (const v of mine) taken.add(v);
      return mine;
    }
    const n = g.count ?? Math.ceil((vins.length * (g.percent ?? 100)) / 100);
    const mine = rest.slice(next, next + n);
    next += mine.length;
    return mine;
  });
  groups[groups.length - 1]!.push(...rest.slice(next));
  return groups;
}

/** Refuse a malformed group list (exactly one of percent, count, vins per group). */
export function checkGroups(spec: CampaignSpec): void {
  spec.groups.forEach((g, i) => {
    const given = [g.percent, g.count, g.vins].filter((x) => x !== undefined).length;
    if (given !== 1) throw new ApiError('CAMPAIGN_INVALID', `groups[${i}]: give exactly one of percent, count, vins`);
  });
}

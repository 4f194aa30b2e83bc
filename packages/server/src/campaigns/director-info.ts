/** The user information of campaigns, for the Director targets' custom.campaign (services/director.ts). */
import type { Tx } from '../services/vehicle-lock.js';
import type { CampaignUserInfo } from './model.js';
import { userInfoOf } from './model.js';
import { loadSpecs } from './repo.js';

export async function campaignInfos(q: Tx, ids: readonly string[]): Promise<Map<string, CampaignUserInfo>> {
  if (ids.length === 0) return new Map();
  const specs = await loadSpecs(q, ids);
  return new Map([...specs].map(([id, spec]) => [id, userInfoOf(id, spec)]));
}

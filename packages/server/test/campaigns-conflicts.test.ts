/**
 * Two updates for one ECU (UN R156 §7.1.1.4 / §7.1.2: the operator knows which update each
 * vehicle is to receive; Uptane 2.1 §5.2: one image per ECU): a second campaign never cancels
 * the first one's assignment. The vehicle is 'deferred' in the second campaign (the holder named
 * in its reason, counted in its progress) and enrolled by the tick once the first is done for it
 * (installed, or the first campaign cancelled); a paused campaign still holds its ECUs. A direct
 * assignment over a campaign's ECU is refused (ASSIGNMENT_CONFLICT); a campaign waits for a
 * pending direct assignment.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { initImageRepo, offlineKeys, publishImage } from './support/image-repo.js';
import { inProcessVehicle, installedImage } from './support/vehicle.js';
import type { SimulatedVehicle } from './support/vehicle.js';
import { tickCampaigns } from '../src/campaigns/tick.js';

const DAY = 86_400_000;
const FW2 = Buffer.from('brake controller application v2');
const FW3 = Buffer.from('brake controller application v3');
const FILE2 = 'ecu/brake-2.bin';
const FILE3 = 'ecu/brake-3.bin';

interface VehicleRow { vin: string; state: string; reason: string | null }

forEachDialect('campaign conflicts on one ECU', (dialect) => {
  let h: Harness;
  before(async () => {
    h = await makeHarness(dialect);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
    await publishImage(h, FILE2, FW2, { hardwareIds: ['hw-secondary'], releaseCounter: 2 });
    await publishImage(h, FILE3, FW3, { hardwareIds: ['hw-secondary'], releaseCounter: 3 });
  });
  after(async () => { await h.close(); });

  async function fleet(prefix: string, n: number): Promise<SimulatedVehicle[]> {
    const out: SimulatedVehicle[] = [];
    for (let i = 0; i < n; i++) {
      const v = inProcessVehicle(h, `${prefix}-${i}`);
      assert.equal((await v.provision(h.tokens.operator)).status, 201);
      out.push(v);
    }
    return out;
  }

  async function call(role: Parameters<Harness['auth']>[0], method: 'GET' | 'POST', url: string, payload?: unknown): Promise<{ status: number; body: string; json: <T>() => T }> {
    const r = await h.app.inject({ method, url, headers: h.auth(role), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    return { status: r.statusCode, body: r.body, json: <T>() => r.json<T>() };
  }

  async function running(vins: readonly string[], file: string): Promise<string> {
    const c = await call('operator', 'POST', '/api/v1/campaigns', {
      purpose: `Brake ${file}`, images: { 'hw-secondary': file }, target: { vins }, groups: [{ percent: 100 }], successThreshold: 100, errorThreshold: 50,
      action: 'soft', expiresAt: new Date(h.clock.now + 30 * DAY).toISOString(),
    });
    assert.equal(c.status, 201, c.body);
    const id = c.json<{ id: string }>().id;
    assert.equal((await call('release-manager', 'POST', `/api/v1/campaigns/${id}/approve`, {})).status, 200);
    const s = await call('operator', 'POST', `/api/v1/campaigns/${id}/start`);
    assert.equal(s.status, 200, s.body);
    return id;
  }

  const states = async (id: string): Promise<Map<string, VehicleRow>> =>
    new Map((await call('auditor', 'GET', `/api/v1/campaigns/${id}/vehicles`)).json<{ vehicles: VehicleRow[] }>().vehicles.map((v) => [v.vin, v]));
  const assignments = (vin: string): Promise<Array<{ campaign_id: string | null; filename: string; status: string; failure: string | null }>> =>
    h.ctx.db.kysely.selectFrom('assignments').select(['campaign_id', 'filename', 'status', 'failure']).where('vin', '=', vin).orderBy('id').execute();
  /** What the Director names for the vehicle's secondary ECU now. */
  async function directed(v: SimulatedVehicle): Promise<string | undefined> {
    assert.equal((await v.checkIn()).status, 200);
    return (await v.fullVerification()).targets[0]?.target.path;
  }
  async function install(v: SimulatedVehicle, file: string, fw: Buffer): Promise<void> {
    const r = await v.checkIn({ reports: { [`${v.vin}-s`]: { installed: installedImage(file, fw) } } });
    assert.equal(r.status, 200, r.body.toString());
  }

  it('a second campaign defers the vehicle (never cancels the first); enrolled once the first is done for it; paused still holds', async () => {
    const [v0, v1] = await fleet('CF', 2);
    const a = await running([v0!.vin, v1!.vin], FILE2);
    const b = await running([v0!.vin, v1!.vin], FILE3);
    let sb = await states(b);
    for (const v of [v0!, v1!]) {
      assert.equal(sb.get(v.vin)?.state, 'deferred');
      assert.match(sb.get(v.vin)?.reason ?? '', new RegExp(`campaign ${a}`));
    }
    const p = (await call('auditor', 'GET', `/api/v1/campaigns/${b}/progress`)).json<{ counts: Record<string, number> }>();
    assert.equal(p.counts['deferred'], 2);
    // The first campaign's assignments are untouched; the Director still names its image.
    for (const v of [v0!, v1!]) assert.deepEqual((await assignments(v.vin)).map((x) => [x.campaign_id, x.status]), [[a, 'pending']]);
    assert.equal(await directed(v0!), FILE2);
    assert.equal((await tickCampaigns(h.ctx)).advanced.length, 0);
    assert.equal((await states(b)).get(v0!.vin)?.state, 'deferred', 'still held: the tick does not enrol it');

    // v0 installs the first campaign's image: the next tick enrols it in the second.
    await install(v0!, FILE2, FW2);
    assert.equal((await states(a)).get(v0!.vin)?.state, 'succeeded');
    await tickCampaigns(h.ctx);
    sb = await states(b);
    assert.equal(sb.get(v0!.vin)?.state, 'pending');
    assert.equal(sb.get(v1!.vin)?.state, 'deferred');
    assert.equal(await directed(v0!), FILE3);
    assert.deepEqual((await assignments(v1!.vin)).map((x) => [x.campaign_id, x.status]), [[a, 'pending']], 'v1 keeps the first campaign\'s update');

    // Paused, the first campaign still holds v1's ECU.
    assert.equal((await call('operator', 'POST', `/api/v1/campaigns/${a}/pause`, { reason: 'look at a fault' })).status, 200);
    await tickCampaigns(h.ctx);
    assert.equal((await states(b)).get(v1!.vin)?.state, 'deferred');
    assert.equal(await directed(v1!), undefined, 'paused: nothing named, nothing else either');

    // Cancelled: the first is done for v1; the second enrols it.
    assert.equal((await call('operator', 'POST', `/api/v1/campaigns/${a}/cancel`, { reason: 'superseded by v3' })).status, 200);
    await tickCampaigns(h.ctx);
    assert.equal((await states(b)).get(v1!.vin)?.state, 'pending');
    assert.equal(await directed(v1!), FILE3);
    // Nothing was ever cancelled silently: the first campaign's v1 assignment ended by its own cancel.
    assert.deepEqual((await assignments(v1!.vin)).map((x) => [x.campaign_id, x.status, x.failure]), [[a, 'cancelled', 'campaign cancelled'], [b, 'pending', null]]);
    await install(v0!, FILE3, FW3);
    await install(v1!, FILE3, FW3);
    assert.deepEqual((await tickCampaigns(h.ctx)).finished, [b]);
  });

  it('a direct assignment over a running campaign\'s ECU is refused with ASSIGNMENT_CONFLICT; a campaign waits for a pending direct one', async () => {
    const [w0, w1] = await fleet('CD', 2);
    const direct = await call('operator', 'POST', '/api/v1/assignments', { vins: [w1!.vin], images: { 'hw-secondary': FILE3 } });
    assert.equal(direct.status, 201, direct.body);
    const c = await running([w0!.vin, w1!.vin], FILE2);
    const s = await states(c);
    assert.equal(s.get(w0!.vin)?.state, 'pending');
    assert.equal(s.get(w1!.vin)?.state, 'deferred');
    assert.match(s.get(w1!.vin)?.reason ?? '', /direct assignment/);
    assert.equal(await directed(w1!), FILE3, 'the direct assignment stands');

    const refused = await call('operator', 'POST', '/api/v1/assignments', { vins: [w1!.vin, w0!.vin], images: { 'hw-secondary': FILE3 } });
    assert.equal(refused.status, 409, refused.body);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'ASSIGNMENT_CONFLICT');
    assert.match(refused.body, new RegExp(c));
    assert.deepEqual((await assignments(w0!.vin)).map((x) => [x.campaign_id, x.status]), [[c, 'pending']], 'nothing changed');
    assert.deepEqual((await assignments(w1!.vin)).map((x) => [x.campaign_id, x.filename, x.status]), [[null, FILE3, 'pending']], 'not even for the vehicle that was free');

    // The direct update is installed: the campaign enrols the vehicle.
    await install(w1!, FILE3, FW3);
    await tickCampaigns(h.ctx);
    assert.equal((await states(c)).get(w1!.vin)?.state, 'pending');
    assert.equal(await directed(w1!), FILE2);
  });
});

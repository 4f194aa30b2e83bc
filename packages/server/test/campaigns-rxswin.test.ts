/**
 * The RXSWIN campaign target filter (UN R156 7.1.1.b/d): a campaign can target the vehicles
 * whose CURRENT RXSWIN set, derived from the last known configuration with the SUMS registry,
 * includes a given RXSWIN (or any RXSWIN under a regulation). The set-based SQL condition must
 * agree with the per-vehicle derivation (GET /api/v1/vehicles/{vin}/rxswin) on both dialects,
 * including "the newest matching definition wins"; unknown RXSWINs are refused with 422.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { inProcessVehicle, installedImage } from './support/vehicle.js';
import { targetVins } from '../src/campaigns/targeting.js';
import type { CampaignSpec } from '../src/campaigns/model.js';
import { registerRxswin } from '../src/sums/records.js';
import { IMAGES, bytesOf, sumsFixture, vehicle } from './sums-fixture.js';
import type { ImageName } from './sums-fixture.js';

const DAY = 86_400_000;

forEachDialect('campaign RXSWIN target filter', (dialect) => {
  let h: Harness;
  before(async () => {
    h = await makeHarness(dialect);
    await sumsFixture(h);
    // R13-H: brake 1.0 -> R13H-M1-0001, brake 2.0 -> R13H-M1-0002. R79: gateway 2.0 + ADAS 3.0.
    await vehicle(h, 'RX-A', { gw: 'gw2', brake: 'brk1' });
    await vehicle(h, 'RX-B', { gw: 'gw2', brake: 'brk2' });
    await vehicle(h, 'RX-C', { gw: 'gw1', brake: 'brk1' });
    const d = await vehicle(h, 'RX-D', { gw: 'gw2', brake: 'brk2' });
    // RX-D also runs ADAS 3.0: R79-M1-0001.
    const r = await d.checkIn({ reports: { 'RX-D-adas': { installed: installedImage(IMAGES.adas3.file, bytesOf('adas3')) } } });
    assert.equal(r.status, 200, r.body.toString());
    // Same software, another model: the M1 registry does not apply to it.
    await otherModel('RX-E', 'M2', { gw: 'gw2', brake: 'brk1' });
  });
  after(async () => { await h.close(); });

  async function otherModel(vin: string, model: string, installed: { gw: ImageName; brake: ImageName }): Promise<void> {
    const v = inProcessVehicle(h, vin, [{ serial: `${vin}-gw`, hardwareId: 'hw-gw' }, { serial: `${vin}-brk`, hardwareId: 'hw-brake' }]);
    const p = await h.app.inject({ method: 'POST', url: '/api/v1/vehicles', headers: h.auth('operator'), payload: { ...v.provisionBody(), model } });
    assert.equal(p.statusCode, 201, p.body);
    const r = await v.checkIn({
      reports: {
        [`${vin}-gw`]: { installed: installedImage(IMAGES[installed.gw].file, bytesOf(installed.gw)) },
        [`${vin}-brk`]: { installed: installedImage(IMAGES[installed.brake].file, bytesOf(installed.brake)) },
      },
    });
    assert.equal(r.status, 200, r.body.toString());
  }

  const ALL = ['RX-A', 'RX-B', 'RX-C', 'RX-D', 'RX-E'];

  function spec(rxswins: NonNullable<CampaignSpec['target']['rxswins']>, over: Partial<CampaignSpec['target']> = {}): CampaignSpec {
    return {
      purpose: 'Gateway 2.0', images: { 'hw-gw': IMAGES.gw2.file }, target: { rxswins, ...over },
      groups: [{ percent: 100 }], successThreshold: 80, errorThreshold: 5, action: 'soft',
      expiresAt: new Date(h.clock.now + 30 * DAY).toISOString(),
    };
  }

  /** What the per-vehicle derivation (the SUMS route) says each vehicle's RXSWINs are. */
  async function derived(): Promise<Map<string, Array<{ regulation: string; rxswin: string }>>> {
    const out = new Map<string, Array<{ regulation: string; rxswin: string }>>();
    for (const vin of ALL) {
      const r = await h.app.inject({ method: 'GET', url: `/api/v1/vehicles/${vin}/rxswin`, headers: h.auth('operator') });
      assert.equal(r.statusCode, 200, r.body);
      out.set(vin, r.json<{ rxswins: Array<{ regulation: string; rxswin: string }> }>().rxswins);
    }
    return out;
  }

  /** The filter's VINs must be exactly those whose derived set includes a selector. */
  async function agrees(rxswins: NonNullable<CampaignSpec['target']['rxswins']>, expected: string[]): Promise<void> {
    const d = await derived();
    const byDerivation = ALL.filter((vin) => d.get(vin)!.some((x) => x.rxswin !== 'unknown' && rxswins.some((s) =>
      typeof s === 'string' ? s === x.rxswin : s.regulation === x.regulation && (s.rxswin === undefined || s.rxswin === x.rxswin))));
    assert.deepEqual(byDerivation, expected, 'the fixture derives what the test expects');
    assert.deepEqual(await targetVins(h.ctx, spec(rxswins)), expected, JSON.stringify(rxswins));
  }

  it('targets the vehicles whose current RXSWIN is the given one, as the per-vehicle derivation says', async () => {
    await agrees(['R13H-M1-0001'], ['RX-A', 'RX-C']);
    await agrees(['R13H-M1-0002'], ['RX-B', 'RX-D']);
    await agrees(['R79-M1-0001'], ['RX-D']);
    await agrees(['R13H-M1-0001', 'R79-M1-0001'], ['RX-A', 'RX-C', 'RX-D']);
  });

  it('{regulation}: any known RXSWIN under it; {regulation, rxswin}: exactly that one under it', async () => {
    await agrees([{ regulation: 'R79' }], ['RX-D']);
    await agrees([{ regulation: 'R13-H' }], ['RX-A', 'RX-B', 'RX-C', 'RX-D']);
    await agrees([{ regulation: 'R13-H', rxswin: 'R13H-M1-0002' }], ['RX-B', 'RX-D']);
  });

  it('combines with the other filters (VIN list, installed images)', async () => {
    assert.deepEqual(await targetVins(h.ctx, spec(['R13H-M1-0001'], { vins: ['RX-C', 'RX-B', 'RX-E'] })), ['RX-C']);
    assert.deepEqual(await targetVins(h.ctx, spec([{ regulation: 'R13-H' }], { installed: [IMAGES.gw1.file] })), ['RX-C']);
  });

  it('an unregistered RXSWIN, a regulation without one, or "unknown" is refused with CAMPAIGN_INVALID', async () => {
    for (const rxswins of [['R13H-M1-9999'], [{ regulation: 'R10' }], [{ regulation: 'R79', rxswin: 'R13H-M1-0001' }], ['unknown']]) {
      const r = await h.app.inject({ method: 'POST', url: '/api/v1/campaigns', headers: h.auth('operator'), payload: spec(rxswins) });
      assert.equal(r.statusCode, 422, `${JSON.stringify(rxswins)}: ${r.body}`);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'CAMPAIGN_INVALID');
    }
    const malformed = await h.app.inject({ method: 'POST', url: '/api/v1/campaigns', headers: h.auth('operator'), payload: spec([{ rxswin: 'R13H-M1-0001' }] as never) });
    assert.equal(malformed.statusCode, 400, 'a selector names its regulation');
  });

  it('end to end: created, approved, started over the API; enrols exactly the matching vehicles', async () => {
    const c = await h.app.inject({ method: 'POST', url: '/api/v1/campaigns', headers: h.auth('operator'), payload: spec(['R13H-M1-0002']) });
    assert.equal(c.statusCode, 201, c.body);
    const id = c.json<{ id: string }>().id;
    const a = await h.app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/approve`, headers: h.auth('release-manager'), payload: { approvalReference: 'TS-RX-1' } });
    assert.equal(a.statusCode, 200, a.body);
    const s = await h.app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/start`, headers: h.auth('operator') });
    assert.equal(s.statusCode, 200, s.body);
    assert.equal(s.json<{ targeted: number }>().targeted, 2);
    const vs = await h.app.inject({ method: 'GET', url: `/api/v1/campaigns/${id}/vehicles`, headers: h.auth('auditor') });
    assert.deepEqual(vs.json<{ vehicles: Array<{ vin: string }> }>().vehicles.map((v) => v.vin), ['RX-B', 'RX-D']);
  });

  it('the newest matching definition wins, in SQL as in the derivation', async () => {
    // A newer definition under R13-H for brake 1.0: vehicles running it now derive R13H-M1-0003.
    await registerRxswin(h.ctx, { model: 'M1', regulation: 'R13-H', rxswin: 'R13H-M1-0003', software: [{ hardwareId: 'hw-brake', filename: IMAGES.brk1.file }] }, 'token:test');
    await agrees(['R13H-M1-0003'], ['RX-A', 'RX-C']);
    // R13H-M1-0001 is registered but current on no vehicle any more.
    await agrees(['R13H-M1-0001'], []);
    await agrees(['R13H-M1-0002'], ['RX-B', 'RX-D']);
  });
});

/**
 * A soft campaign end to end over HTTP (a real server, HttpBackend, the Primary): the Primary
 * tells the server where its cycle stands (POST /device/v1/events progress: downloading,
 * waiting-preconditions, awaiting-consent, installing) and how it ended, with the precise
 * outcome: a driver's decline is recorded as declined (the assignment ends, the old software
 * stays), not as a failure (UN R156 §7.1: the state of each vehicle's update is known; §7.2: user
 * approval).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpBackend } from '../../src/net/http-backend.js';
import { Primary } from '../../src/primary/primary.js';
import { VSS } from '../../src/primary/ports.js';
import type { ConsentRequest, Hmi, HmiNotice } from '../../src/primary/ports.js';
import { FakeSignals } from '../support/fakes.js';
import { LiveServer, liveEcus } from '../support/live-server.js';
import type { LiveEcu } from '../support/live-server.js';
import { TEST_CONFIG } from '../support/vehicle.js';

const DAY = 86_400_000;

/** Start a soft campaign of release 2 for `vin` (its direct assignments withdrawn first). */
async function softCampaign(live: LiveServer, vin: string, ecus: readonly LiveEcu[]): Promise<string> {
  const direct = await live.json('GET', `/api/v1/assignments?vin=${vin}`) as { assignments: Array<{ id: number; status: string }> };
  for (const a of direct.assignments) if (a.status === 'pending') assert.equal((await live.request('DELETE', `/api/v1/assignments/${a.id}`)).status, 200);
  const created = await live.json('POST', '/api/v1/campaigns', {
    purpose: `Release 2 for ${vin}`, images: Object.fromEntries(ecus.map((e) => [e.hardwareId, e.v2.path])), target: { vins: [vin] },
    groups: [{ percent: 100 }], successThreshold: 100, errorThreshold: 10, action: 'soft', expiresAt: new Date(Date.now() + 30 * DAY).toISOString(),
  }) as { id: string };
  const rm2 = await live.json('POST', '/api/v1/tokens', { name: `release-manager-${vin}`, role: 'release-manager' }) as { token: string };
  const approve = await fetch(`${live.url}/api/v1/campaigns/${created.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${rm2.token}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(approve.status, 200, await approve.text());
  await live.json('POST', `/api/v1/campaigns/${created.id}/start`);
  return created.id;
}

async function stateOf(live: LiveServer, campaign: string, vin: string): Promise<string | undefined> {
  const r = await live.json('GET', `/api/v1/campaigns/${campaign}/vehicles`) as { vehicles: Array<{ vin: string; state: string }> };
  return r.vehicles.find((x) => x.vin === vin)?.state;
}

/** An HMI that answers `answer` and notes what the server says the vehicle's state is meanwhile. */
class WatchingHmi implements Hmi {
  readonly seen: Array<string | undefined> = [];
  constructor(readonly answer: 'accepted' | 'declined', readonly watch: () => Promise<string | undefined>) {}
  async requestConsent(_request: ConsentRequest): Promise<'accepted' | 'declined'> {
    this.seen.push(await this.watch());
    return this.answer;
  }
  notify(_n: HmiNotice): Promise<void> {
    return Promise.resolve();
  }
}

void describe('soft campaign over HTTP: progress and outcomes reach the server', () => {
  let live: LiveServer;
  let dir: string;
  const declinedEcus = liveEcus('CMP-DECL-1', 'decl', 2, 32 * 1024);
  const okEcus = liveEcus('CMP-OK-1', 'ok', 2, 32 * 1024);

  before(async () => {
    live = await LiveServer.start();
    dir = await mkdtemp(join(tmpdir(), 'reflash-camp-live-'));
    await live.publish([...declinedEcus, ...okEcus]);
  });
  after(async () => {
    await live.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it('consent declined: the server shows awaiting-consent, then declined; the old software stays', async () => {
    const VIN = 'CMP-DECL-1';
    const ecus = declinedEcus;
    const v = await live.vehicle(join(dir, 'declined'), VIN, ecus);
    const campaign = await softCampaign(live, VIN, ecus);
    const gateway = v.ecus[0]!;
    const hmi = new WatchingHmi('declined', () => stateOf(live, campaign, VIN));
    const primary = await Primary.open({
      dir: v.primaryDir, vin: VIN, primaryEcuSerial: gateway.serial, signer: gateway.signer, ecus: v.ecus,
      backend: new HttpBackend({ serverUrl: live.url, vin: VIN, keyId: gateway.signer.keyId, privateKey: gateway.signer.privateKey }),
      signals: new FakeSignals(), hmi, config: TEST_CONFIG, sleep: () => Promise.resolve(),
    });
    const r = await primary.runCycle();
    assert.equal(r.outcome, 'declined');
    assert.deepEqual(hmi.seen, ['awaiting-consent']);
    assert.equal(await stateOf(live, campaign, VIN), 'declined');
    for (const [i, e] of v.ecus.entries()) assert.equal(e.running.image?.filepath, ecus[i]!.v1.path, 'still on release 1');
    const a = await live.json('GET', `/api/v1/assignments?vin=${VIN}`) as { assignments: Array<{ status: string; failure: string | null }> };
    assert.ok(a.assignments.every((x) => x.status === 'cancelled'), JSON.stringify(a.assignments));
    assert.ok(a.assignments.some((x) => x.failure?.startsWith('declined') === true), JSON.stringify(a.assignments));
  });

  void it('accepted after waiting for preconditions: waiting-preconditions, awaiting-consent, installing, then succeeded', async () => {
    const VIN = 'CMP-OK-1';
    const ecus = okEcus;
    const v = await live.vehicle(join(dir, 'ok'), VIN, ecus);
    const campaign = await softCampaign(live, VIN, ecus);
    const gateway = v.ecus[0]!;
    const signals = new FakeSignals();
    signals.set(VSS.speed, 30); // driving: not safe to update yet
    const seen: Array<string | undefined> = [];
    const hmi = new WatchingHmi('accepted', () => stateOf(live, campaign, VIN));
    const primary = await Primary.open({
      dir: v.primaryDir, vin: VIN, primaryEcuSerial: gateway.serial, signer: gateway.signer, ecus: v.ecus,
      backend: new HttpBackend({ serverUrl: live.url, vin: VIN, keyId: gateway.signer.keyId, privateKey: gateway.signer.privateKey }),
      signals, hmi, config: TEST_CONFIG,
      // The car stops after the first check; the server's view is read at each wait.
      sleep: async () => {
        seen.push(await stateOf(live, campaign, VIN));
        signals.set(VSS.speed, 0);
      },
      onTransition: async (t) => {
        if (t.to === 'recheck') seen.push(await stateOf(live, campaign, VIN));
      },
    });
    const r = await primary.runCycle();
    assert.equal(r.outcome, 'success', JSON.stringify(r.record.outcome));
    assert.deepEqual(hmi.seen, ['awaiting-consent']);
    // While waiting for a safe moment the server shows it; after distributing, 'installing'.
    assert.deepEqual(seen, ['waiting-preconditions', 'installing']);
    // Success shows in the next manifest.
    assert.equal((await primary.runCycle()).outcome, 'no-update');
    assert.equal(await stateOf(live, campaign, VIN), 'succeeded');
    for (const [i, e] of v.ecus.entries()) assert.equal(e.running.image?.filepath, ecus[i]!.v2.path);
  });
});

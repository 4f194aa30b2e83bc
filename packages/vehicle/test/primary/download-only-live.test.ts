/**
 * A download-only campaign end to end over HTTP (a real server, HttpBackend, the Primary): the
 * Director target says downloadOnly; the Primary downloads and verifies the images, installs
 * nothing (the ECUs stay on release 1), reports `downloaded` (POST /device/v1/events); the
 * server ends the assignments (status `downloaded`, no longer in the Director targets) and the
 * vehicle's campaign state is `downloaded`, which finishes the campaign (UN R156 §7.1.1.4: the
 * operator knows each vehicle's state; the vehicle never installs what it was told to only fetch).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tickCampaigns } from '@reflash/server/campaigns/tick';
import { HttpBackend } from '../../src/net/http-backend.js';
import { Primary } from '../../src/primary/primary.js';
import { FakeHmi, FakeSignals } from '../support/fakes.js';
import { LiveServer, liveEcus } from '../support/live-server.js';
import { TEST_CONFIG } from '../support/vehicle.js';

const DAY = 86_400_000;

void describe('download-only campaign over HTTP', () => {
  let live: LiveServer;
  let dir: string;
  const VIN = 'DLO-0001';
  const ecus = liveEcus(VIN, 'dlo', 2, 64 * 1024);

  before(async () => {
    live = await LiveServer.start();
    dir = await mkdtemp(join(tmpdir(), 'reflash-dlo-'));
    await live.publish(ecus);
  });
  after(async () => {
    await live.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it('downloads, installs nothing, reports downloaded; the server records it and the campaign finishes', async () => {
    const v = await live.vehicle(join(dir, 'v'), VIN, ecus);
    // live.vehicle assigns release 2 directly: withdraw that, the campaign does it instead.
    const direct = await live.json('GET', `/api/v1/assignments?vin=${VIN}`) as { assignments: Array<{ id: number }> };
    for (const a of direct.assignments) assert.equal((await live.request('DELETE', `/api/v1/assignments/${a.id}`)).status, 200);
    const created = await live.json('POST', '/api/v1/campaigns', {
      purpose: 'Pre-stage release 2', images: Object.fromEntries(ecus.map((e) => [e.hardwareId, e.v2.path])), target: { vins: [VIN] },
      groups: [{ percent: 100 }], successThreshold: 100, errorThreshold: 10, action: 'download-only', expiresAt: new Date(Date.now() + 30 * DAY).toISOString(),
    }) as { id: string };
    // Two-person rule: a release manager (another token) approves.
    const rm2 = await live.json('POST', '/api/v1/tokens', { name: 'release-manager', role: 'release-manager' }) as { token: string };
    const approve = await fetch(`${live.url}/api/v1/campaigns/${created.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${rm2.token}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(approve.status, 200, await approve.text());
    await live.json('POST', `/api/v1/campaigns/${created.id}/start`);

    const gateway = v.ecus[0]!;
    const backend = new HttpBackend({ serverUrl: live.url, vin: VIN, keyId: gateway.signer.keyId, privateKey: gateway.signer.privateKey });
    const hmi = new FakeHmi();
    const primary = await Primary.open({
      dir: v.primaryDir, vin: VIN, primaryEcuSerial: gateway.serial, signer: gateway.signer, ecus: v.ecus, backend,
      signals: new FakeSignals(), hmi, config: TEST_CONFIG, sleep: () => Promise.resolve(),
    });
    const r = await primary.runCycle();
    assert.equal(r.outcome, 'downloaded', JSON.stringify(r.record.outcome));
    assert.equal(hmi.requests.length, 0, 'nothing to consent to');
    for (const [i, e] of v.ecus.entries()) assert.equal(e.running.image?.filepath, ecus[i]!.v1.path, 'still on release 1');

    const states = await live.json('GET', `/api/v1/campaigns/${created.id}/vehicles`) as { vehicles: Array<{ vin: string; state: string }> };
    assert.deepEqual(states.vehicles.map((x) => [x.vin, x.state]), [[VIN, 'downloaded']]);
    const after = await live.json('GET', `/api/v1/assignments?vin=${VIN}`) as { assignments: Array<{ status: string }> };
    assert.deepEqual(after.assignments.map((x) => x.status).filter((s) => s !== 'cancelled'), ['downloaded', 'downloaded']);
    // The Director no longer names the images: the next cycle has nothing to do.
    assert.equal((await primary.runCycle()).outcome, 'no-update');
    for (const [i, e] of v.ecus.entries()) assert.equal(e.running.image?.filepath, ecus[i]!.v1.path);
    assert.deepEqual((await tickCampaigns(live.server.ctx)).finished, [created.id]);
  });
});

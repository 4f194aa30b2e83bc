/**
 * UN R156 §7.2 safe execution and user approval: the update never executes while the vehicle
 * moves, is not in park, or has too little battery for the update and a rollback; it waits
 * (bounded backoff) and proceeds when they hold; they are re-checked right before execution;
 * a declined consent leaves the old software and is reported.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VSS } from '../../src/primary/ports.js';
import { GEAR_PARK, SAFETY_FLOOR, checkPreconditions } from '../../src/primary/preconditions.js';
import type { SignalValues } from '../../src/primary/preconditions.js';
import { campaignOf, DEFAULT_CAMPAIGN } from '../../src/primary/campaign.js';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { assertAllOn } from '../support/assertions.js';
import { InterceptedLink } from '../support/links.js';
import { TestVehicle, primaryDir } from '../support/vehicle.js';

const EXECUTION = new Set(['writeInactive', 'activate', 'reboot', 'confirm']);

void describe('preconditions and consent', () => {
  const vehicles: TestVehicle[] = [];
  after(async () => {
    for (const v of vehicles) await v.cleanup();
  });
  /** A vehicle whose ECU links record every execution step taken while it was not safe. */
  const vehicle = async (campaign?: Record<string, unknown>): Promise<{ v: TestVehicle; unsafe: string[]; executed: string[] }> => {
    const unsafe: string[] = [];
    const executed: string[] = [];
    const holder: { v?: TestVehicle } = {};
    const v = await TestVehicle.create({
      wrapLinks: (ecus) => ecus.map((e) => new InterceptedLink(e, {
        onCall: (serial, method) => {
          if (!EXECUTION.has(method)) return;
          executed.push(`${serial}.${method}`);
          if (holder.v !== undefined && !holder.v.signals.safe()) unsafe.push(`${serial}.${method}`);
        },
      })),
    });
    holder.v = v;
    vehicles.push(v);
    v.world.assignAll(2, campaign);
    return { v, unsafe, executed };
  };

  void it('vehicle moving (speed > 0): waits with bounded backoff, never executes, proceeds once stopped', async () => {
    const { v, unsafe, executed } = await vehicle();
    v.signals.set(VSS.speed, 30);
    v.onSleep = (_ms, n) => {
      assert.equal(executed.length, 0, 'nothing executed while waiting');
      if (n === 3) v.signals.set(VSS.speed, 0);
    };
    const r = await v.cycle();
    assert.equal(r.outcome, 'success');
    assert.deepEqual(v.sleeps, [100, 200, 400]);
    assert.equal(v.states().filter((s) => s === 'preconditions').length, 4);
    assert.deepEqual(unsafe, []);
    assert.equal(v.hmi.requests.length, 1, 'the driver was asked only once it was safe');
    assertAllOn(v, 2);
  });

  void it('not in park: waits, then proceeds in park', async () => {
    const { v, unsafe } = await vehicle();
    v.signals.set(VSS.selectedGear, 127);
    v.onSleep = (_ms, n) => {
      if (n === 2) v.signals.set(VSS.selectedGear, GEAR_PARK);
    };
    assert.equal((await v.cycle()).outcome, 'success');
    assert.deepEqual(unsafe, []);
    assert.equal(v.sleeps.length, 2);
  });

  void it('battery below the campaign minimum: never executes; gives up after the bounded wait, proceeds when charged', async () => {
    const { v, executed } = await vehicle({ minBatteryPercent: 60 });
    v.signals.set(VSS.tractionBatterySoc, 40);
    const r = await v.cycle();
    assert.equal(r.outcome, 'preconditions-timeout');
    assert.match(r.record.outcome?.reason ?? '', /StateOfCharge/);
    assert.equal(v.sleeps.length, 5, 'maxAttempts 6 checks: 5 waits');
    assert.ok(v.sleeps.every((ms) => ms <= 1000), 'each wait bounded by the cap');
    assert.deepEqual(executed, []);
    assert.equal(v.hmi.requests.length, 0);
    assert.equal(v.backend.reports.at(-1)!.outcome, 'preconditions-timeout');
    assertAllOn(v, 1);
    v.signals.set(VSS.tractionBatterySoc, 61);
    assert.equal((await v.cycle()).outcome, 'success');
  });

  void it('re-checked right before execution: unsafe after distribution -> waits, activates only when safe', async () => {
    const { v, unsafe, executed } = await vehicle();
    let moved = false;
    v.onSleep = (_ms, n) => {
      if (n === 2) v.signals.set(VSS.speed, 0);
    };
    // The driver starts moving while the last ECU's inactive bank is being written.
    const gw = v.ecus.find((e) => e.serial === 'gw-0001')!;
    const orig = gw.writeInactive.bind(gw);
    gw.writeInactive = async (img) => {
      await orig(img);
      v.signals.set(VSS.speed, 12);
      moved = true;
    };
    const r = await v.cycle();
    assert.ok(moved);
    assert.equal(r.outcome, 'success');
    assert.equal(v.states().filter((s) => s === 'recheck').length, 3, 'recheck, wait, wait, then safe');
    assert.deepEqual(unsafe, [], `executed while moving: ${unsafe.join(', ')}`);
    assert.ok(executed.indexOf('brk-0001.activate') > executed.lastIndexOf('gw-0001.writeInactive'));
  });

  void it('consent declined: old software stays, the decline is recorded and reported', async () => {
    const { v, executed } = await vehicle();
    v.hmi.answer = 'declined';
    const r = await v.cycle();
    assert.equal(r.outcome, 'declined');
    assert.equal(r.record.consent, 'declined');
    const rep = v.backend.reports.at(-1)!;
    assert.equal(rep.outcome, 'declined');
    assert.equal(rep.consent, 'declined');
    assert.deepEqual(rep.ecus.map((e) => e.status), ['not-installed', 'not-installed', 'not-installed']);
    assert.deepEqual(executed, []);
    assertAllOn(v, 1);
    assert.deepEqual(v.hmi.notices.at(-1), { kind: 'result', outcome: 'declined', reason: 'the driver declined the update' });
    v.hmi.answer = 'accepted';
    assert.equal((await v.cycle()).outcome, 'success');
  });

  void it('a forced campaign informs the user instead of asking; preconditions still apply', async () => {
    const { v } = await vehicle({ forced: true, purpose: 'Safety recall' });
    v.signals.set(VSS.speed, 5);
    v.onSleep = () => v.signals.set(VSS.speed, 0);
    assert.equal((await v.cycle()).outcome, 'success');
    assert.equal(v.hmi.requests.length, 0);
    assert.equal(v.hmi.notices[0]?.kind, 'forced-update');
    assert.equal(v.backend.reports.at(-1)!.consent, 'forced');
    assert.equal(v.sleeps.length, 1);
  });

  void it('checkPreconditions: each signal, unknown signals fail safe, traction before 12 V battery', () => {
    const ok: Array<[string, number | string | undefined]> = [[VSS.speed, 0], [VSS.selectedGear, GEAR_PARK], [VSS.tractionBatterySoc, 80]];
    const check = (over: Array<[string, number | string | undefined]>, min = 50): readonly string[] =>
      checkPreconditions(new Map([...ok, ...over]) as SignalValues, min).unmet;
    assert.deepEqual(check([]), []);
    assert.equal(check([[VSS.speed, 0.5]]).length, 1);
    assert.equal(check([[VSS.speed, undefined]]).length, 1, 'speed unknown: not safe');
    assert.equal(check([[VSS.selectedGear, 0]]).length, 1, 'neutral is not park');
    assert.deepEqual(check([[VSS.selectedGear, 'P']]), []);
    assert.equal(check([[VSS.tractionBatterySoc, 49]]).length, 1);
    assert.deepEqual(check([[VSS.tractionBatterySoc, undefined], [VSS.lowVoltageBatterySoc, 70]]), [], 'no traction battery: the 12 V one');
    assert.equal(check([[VSS.tractionBatterySoc, undefined]]).length, 1, 'no battery reading: not safe');
  });

  void it('campaign info: safe defaults, merged per bundle, battery never below the vehicle floor', () => {
    assert.deepEqual(campaignOf([undefined], 20), { ...DEFAULT_CAMPAIGN });
    const c = campaignOf([
      { campaign: { id: 'c1', purpose: 'A', expectedDurationSeconds: 60, unavailableFunctions: ['driving'], minBatteryPercent: 10, forced: true } },
      { campaign: { purpose: 'B', expectedDurationSeconds: 'soon', unavailableFunctions: 'x', minBatteryPercent: 70 } },
    ], 30);
    assert.deepEqual(c, {
      id: 'c1', purpose: 'A; B', expectedDurationSeconds: 60 + DEFAULT_CAMPAIGN.expectedDurationSeconds, unavailableFunctions: ['driving'], minBatteryPercent: 70,
      stationary: true, parked: true, forced: false, downloadOnly: false,
    });
    assert.equal(campaignOf([{ campaign: { minBatteryPercent: 5 } }], 25).minBatteryPercent, 25, 'the floor wins');
    assert.equal(campaignOf([{ campaign: { forced: true } }, { campaign: { forced: true } }], 20).forced, true);
  });

  void it('stationary / parked from the campaign only tighten: false or garbage never waives them (UN R156 §7.2)', () => {
    assert.deepEqual(SAFETY_FLOOR, { stationary: true, parked: true });
    for (const v of [false, 'no', 0, null, undefined, true]) {
      const c = campaignOf([{ campaign: { stationary: v, parked: v } }], 20);
      assert.equal(c.stationary, true, `stationary ${String(v)}`);
      assert.equal(c.parked, true, `parked ${String(v)}`);
    }
    // The check itself keeps the floor even when handed requirements that say false.
    const moving = new Map([[VSS.speed, 10], [VSS.selectedGear, 127], [VSS.tractionBatterySoc, 90]]) as SignalValues;
    const r = checkPreconditions(moving, { minBatteryPercent: 50, stationary: false, parked: false });
    assert.equal(r.met, false);
    assert.equal(r.unmet.length, 2, r.unmet.join('; '));
  });

  void it('a campaign saying stationary: false, parked: false still waits while the vehicle moves out of park', async () => {
    const { v, unsafe, executed } = await vehicle({ stationary: false, parked: false });
    v.signals.set(VSS.speed, 20);
    v.signals.set(VSS.selectedGear, 127);
    v.onSleep = (_ms, n) => {
      assert.equal(executed.length, 0, 'nothing executed while moving');
      if (n === 2) {
        v.signals.set(VSS.speed, 0);
        v.signals.set(VSS.selectedGear, GEAR_PARK);
      }
    };
    const r = await v.cycle();
    assert.equal(r.outcome, 'success');
    assert.equal(r.record.bundle?.campaign.stationary, true);
    assert.equal(r.record.bundle?.campaign.parked, true);
    assert.equal(v.sleeps.length, 2);
    assert.deepEqual(unsafe, []);
  });

  void it('download-only: downloads and verifies every image, installs nothing, asks nothing, reports downloaded', async () => {
    const { v, executed } = await vehicle({ id: 'cmp-0123456789ab', downloadOnly: true });
    v.signals.set(VSS.speed, 80); // downloading needs no safe state; nothing executes anyway
    const r = await v.cycle();
    assert.equal(r.outcome, 'downloaded');
    assert.equal(r.record.outcome?.code, 'DOWNLOAD_ONLY');
    assert.deepEqual(executed, [], 'no ECU was written, activated or rebooted');
    assert.equal(v.hmi.requests.length, 0, 'no consent asked');
    assert.ok(!v.states().includes('preconditions') && !v.states().includes('consent') && !v.states().includes('install'), v.states().join(' '));
    assertAllOn(v, 1);
    const rep = v.backend.reports.at(-1)!;
    assert.equal(rep.outcome, 'downloaded');
    assert.equal(rep.campaignId, 'cmp-0123456789ab');
    assert.deepEqual(rep.ecus.map((e) => e.status), ['not-installed', 'not-installed', 'not-installed']);
    // The images stay on disk: a later campaign that installs them finds them cached.
    for (const item of r.record.bundle!.items) await access(join(primaryDir(v.dir), item.file));
    const requests = v.backend.imageRequests.length;
    v.signals.set(VSS.speed, 0);
    v.world.assignAll(2, { id: 'cmp-0123456789ac', forced: true });
    assert.equal((await v.cycle()).outcome, 'success');
    assert.equal(v.backend.imageRequests.length, requests, 'installed from the downloaded images, none fetched again');
    assertAllOn(v, 2);
  });

  void it('one download-only target holds the whole bundle (installed all-or-nothing): nothing is installed', async () => {
    const { v, executed } = await vehicle();
    const [first] = v.ecus;
    v.world.assign(first!.serial, v.world.release(first!.hardwareId, 2).target, { campaign: { downloadOnly: true } });
    const r = await v.cycle();
    assert.equal(r.outcome, 'downloaded');
    assert.equal(r.record.bundle?.items.length, 3);
    assert.deepEqual(executed, []);
    assertAllOn(v, 1);
  });
});

/**
 * Software update campaigns (ISO 24089; UN R156 7.1, 7.2), driven end to end with simulated
 * vehicles and the harness clock: staged rollout with automatic pause on faults, the two-person
 * rule and technical-service approval for type-approved systems, consent declined, maintenance
 * windows in the vehicle's time zone, cancel, lifecycle records in the accountability log, progress.
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
const FW = Buffer.from('brake controller application v2');
const FILE = 'ecu/brake-2.bin';

interface View { id: string; status: string; currentGroup: number; events?: Array<{ by: string; from: string; to: string; reason: string | null }> }
interface Progress { vehicles: number; counts: Record<string, number>; groups: Array<{ index: number; vehicles: number; counts: Record<string, number> }>; failureReasons: Array<{ reason: string; count: number }> }

forEachDialect('campaigns', (dialect) => {
  let h: Harness;
  before(async () => {
    h = await makeHarness(dialect);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys: offlineKeys(1) });
    await publishImage(h, FILE, FW, { hardwareIds: ['hw-secondary'], releaseCounter: 2 });
  });
  after(async () => { await h.close(); });

  async function fleet(prefix: string, n: number, extra: Record<string, unknown> = {}): Promise<Map<string, SimulatedVehicle>> {
    const out = new Map<string, SimulatedVehicle>();
    for (let i = 0; i < n; i++) {
      const v = inProcessVehicle(h, `${prefix}-${String(i).padStart(2, '0')}`);
      if (Object.keys(extra).length === 0) {
        assert.equal((await v.provision(h.tokens.operator)).status, 201);
      } else {
        const r = await h.app.inject({ method: 'POST', url: '/api/v1/vehicles', headers: h.auth('operator'), payload: { ...v.provisionBody(), ...extra } });
        assert.equal(r.statusCode, 201, r.body);
      }
      out.set(v.vin, v);
    }
    return out;
  }

  function spec(vins: readonly string[], over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      purpose: 'Brake controller fix', images: { 'hw-secondary': FILE }, target: { vins },
      groups: [{ percent: 100 }], successThreshold: 80, errorThreshold: 5, action: 'soft',
      preconditions: { minBatteryPercent: 60, stationary: true, parked: true },
      userInfo: { expectedDurationSeconds: 600, unavailableFunctions: ['driving', 'charging'] },
      expiresAt: new Date(h.clock.now + 30 * DAY).toISOString(), ...over,
    };
  }

  async function call(role: Parameters<Harness['auth']>[0], method: 'GET' | 'POST', url: string, payload?: unknown): Promise<{ status: number; body: unknown; json: <T>() => T }> {
    const r = await h.app.inject({ method, url, headers: h.auth(role), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    return { status: r.statusCode, body: r.body, json: <T>() => r.json<T>() };
  }

  /** create (operator), approve (release manager), start (operator) */
  async function running(s: Record<string, unknown>, reference?: string): Promise<string> {
    const c = await call('operator', 'POST', '/api/v1/campaigns', s);
    assert.equal(c.status, 201, String(c.body));
    const id = c.json<View>().id;
    const a = await call('release-manager', 'POST', `/api/v1/campaigns/${id}/approve`, reference === undefined ? {} : { approvalReference: reference });
    assert.equal(a.status, 200, String(a.body));
    const st = await call('operator', 'POST', `/api/v1/campaigns/${id}/start`);
    assert.equal(st.status, 200, String(st.body));
    return id;
  }

  /** GET .../progress; its counters must agree with the per-vehicle states. */
  async function progress(id: string): Promise<Progress> {
    const p = (await call('auditor', 'GET', `/api/v1/campaigns/${id}/progress`)).json<Progress>();
    const rows = await h.ctx.db.kysely.selectFrom('campaign_vehicle_states').select(['group_idx', 'state']).where('campaign_id', '=', id).execute();
    for (const g of p.groups) {
      for (const [state, n] of Object.entries(g.counts)) assert.equal(n, rows.filter((r) => r.group_idx === g.index && r.state === state).length, `group ${g.index} ${state}`);
    }
    return p;
  }
  const states = async (id: string, q = ''): Promise<Array<{ vin: string; group: number; state: string; reason: string | null }>> =>
    (await call('auditor', 'GET', `/api/v1/campaigns/${id}/vehicles${q}`)).json<{ vehicles: Array<{ vin: string; group: number; state: string; reason: string | null }> }>().vehicles;
  const pendingOf = async (v: SimulatedVehicle): Promise<number> => (await v.checkIn()).json<{ pending: number }>().pending;
  /** The vehicle checks in (sees the update), installs it and reports it installed. */
  async function install(v: SimulatedVehicle): Promise<void> {
    assert.equal((await v.checkIn()).status, 200);
    const r = await v.checkIn({ reports: { [`${v.vin}-s`]: { installed: installedImage(FILE, FW) } } });
    assert.equal(r.status, 200, r.body.toString());
  }
  async function auditEntries(): Promise<Array<{ type: string; campaignId?: string; state?: string; by?: string; reason?: string }>> {
    const rows = await h.ctx.db.kysely.selectFrom('log_leaves').select('entry').orderBy('idx').execute();
    return rows.map((r) => JSON.parse(Buffer.from(r.entry).toString('utf8')) as { type: string });
  }

  it('three rollout groups: a fault rate above the 5% error threshold pauses automatically; resume continues with the next vehicles', async () => {
    const vs = await fleet('RO', 20);
    const id = await running(spec([...vs.keys()], { groups: [{ count: 4 }, { count: 6 }, { count: 10 }] }));
    let p = await progress(id);
    assert.deepEqual(p.groups.map((g) => g.vehicles), [4, 6, 10]);
    assert.equal(p.groups[0]!.counts['pending'], 4);
    assert.equal(p.groups[1]!.counts['queued'], 6);

    // Group 1: the Director names the image with the campaign's user information and preconditions.
    const g1 = (await states(id, '?group=0')).map((s) => vs.get(s.vin)!);
    const verified = await g1[0]!.fullVerification();
    assert.equal(verified.targets.length, 1);
    assert.deepEqual(verified.targets[0]!.target.custom?.['campaign'], {
      id, purpose: 'Brake controller fix', expectedDurationSeconds: 600, unavailableFunctions: ['driving', 'charging'], minBatteryPercent: 60,
      stationary: true, parked: true, forced: false, downloadOnly: false,
    });
    // Group 2 vehicles get nothing yet.
    const g2 = (await states(id, '?group=1')).map((s) => vs.get(s.vin)!);
    assert.equal(await pendingOf(g2[0]!), 0);
    for (const v of g1) await install(v);
    assert.equal((await progress(id)).groups[0]!.counts['succeeded'], 4);
    assert.deepEqual((await tickCampaigns(h.ctx)).advanced, [id]);

    // Group 2: one vehicle of six fails (17% > 5%): the campaign pauses by itself.
    assert.equal(await pendingOf(g2[0]!), 1);
    const fail = await g2[0]!.request('POST', '/device/v1/events', { ecuSerial: `${g2[0]!.vin}-s`, filename: FILE, status: 'failed', reason: 'flash write error' });
    assert.equal(fail.status, 200, fail.body.toString());
    assert.equal(fail.json<{ failed: number }>().failed, 1);
    assert.deepEqual((await tickCampaigns(h.ctx)).paused, [id]);
    const paused = (await call('auditor', 'GET', `/api/v1/campaigns/${id}`)).json<View>();
    assert.equal(paused.status, 'paused');
    const pause = paused.events!.at(-1)!;
    assert.equal(pause.by, 'system');
    assert.match(pause.reason ?? '', /error threshold of 5%/);
    // Paused: vehicles that had not started lose the update for now.
    assert.equal(await pendingOf(g2[1]!), 0);
    assert.equal((await tickCampaigns(h.ctx)).advanced.length, 0);

    // Resume: the remaining group-2 vehicles get it again, succeed, and group 3 follows.
    assert.equal((await call('operator', 'POST', `/api/v1/campaigns/${id}/resume`, { reason: 'flash fault understood: one bad unit' })).status, 200);
    for (const v of g2.slice(1)) {
      assert.equal(await pendingOf(v), 1);
      await install(v);
    }
    assert.deepEqual((await tickCampaigns(h.ctx)).advanced, [id]);
    const g3 = (await states(id, '?group=2')).map((s) => vs.get(s.vin)!);
    assert.equal(g3.length, 10);
    for (const v of g3) await install(v);
    assert.deepEqual((await tickCampaigns(h.ctx)).finished, [id]);

    p = await progress(id);
    assert.equal(p.vehicles, 20);
    assert.equal(p.counts['succeeded'], 19);
    assert.equal(p.counts['failed'], 1);
    assert.deepEqual(p.failureReasons, [{ reason: 'flash write error', count: 1 }]);

    // Every transition recorded (who, from, to) and in the accountability log.
    const done = (await call('auditor', 'GET', `/api/v1/campaigns/${id}`)).json<View>();
    assert.equal(done.status, 'finished');
    const transitions = done.events!.filter((e) => e.from !== e.to).map((e) => [e.from, e.to, e.by.startsWith('token:') ? 'operator' : e.by]);
    assert.deepEqual(transitions, [
      ['draft', 'approved', 'operator'], ['approved', 'running', 'operator'], ['running', 'paused', 'system'], ['paused', 'running', 'operator'], ['running', 'finished', 'system'],
    ]);
    const logged = (await auditEntries()).filter((e) => e.type === 'campaign' && e.campaignId === id);
    assert.deepEqual(logged.map((e) => [e.state, e.by === 'system' ? 'system' : e.by?.startsWith('token:') === true ? 'operator' : e.by]), [
      ['approved', 'operator'], ['started', 'operator'], ['paused', 'system'], ['resumed', 'operator'], ['completed', 'system'],
    ]);
    assert.equal(logged[3]!.reason, 'flash fault understood: one bad unit');
    // Update results name the campaign.
    const results = (await auditEntries()).filter((e) => e.type === 'vehicle-update-result' && e.campaignId === id);
    assert.equal(results.length, 20);
  });

  it('a campaign touching an RXSWIN needs a second approver and a technical-service approval reference before it can start', async () => {
    const vs = await fleet('TA', 1);
    const c = await call('operator', 'POST', '/api/v1/campaigns', spec([...vs.keys()], { rxswinImpact: ['R79-ABC-0001'] }));
    assert.equal(c.status, 201, String(c.body));
    const id = c.json<View>().id;
    assert.equal((await call('operator', 'POST', `/api/v1/campaigns/${id}/start`)).status, 409, 'not approved');
    // The creator cannot approve (its role may not approve at all; an admin creator may not either).
    assert.equal((await call('operator', 'POST', `/api/v1/campaigns/${id}/approve`, { approvalReference: 'TS-1' })).status, 403);
    const own = await call('admin', 'POST', '/api/v1/campaigns', spec([...vs.keys()], { rxswinImpact: ['R79-ABC-0001'] }));
    const ownId = own.json<View>().id;
    const selfApproval = await call('admin', 'POST', `/api/v1/campaigns/${ownId}/approve`, { approvalReference: 'TS-1' });
    assert.equal(selfApproval.status, 403);
    assert.equal(selfApproval.json<{ error: { code: string } }>().error.code, 'CAMPAIGN_TWO_PERSON_RULE');
    const noRef = await call('release-manager', 'POST', `/api/v1/campaigns/${id}/approve`, {});
    assert.equal(noRef.status, 422);
    assert.equal(noRef.json<{ error: { code: string } }>().error.code, 'CAMPAIGN_APPROVAL_REFERENCE_REQUIRED');
    assert.equal((await call('operator', 'POST', `/api/v1/campaigns/${id}/start`)).status, 409);
    const ok = await call('release-manager', 'POST', `/api/v1/campaigns/${id}/approve`, { approvalReference: 'TUV-2026-0042' });
    assert.equal(ok.status, 200, String(ok.body));
    assert.equal(ok.json<{ approvalReference: string }>().approvalReference, 'TUV-2026-0042');
    assert.equal((await call('operator', 'POST', `/api/v1/campaigns/${id}/start`)).status, 200);
    const logged = (await auditEntries()).find((e) => e.type === 'campaign' && e.campaignId === id && e.state === 'approved');
    assert.match(logged?.reason ?? '', /TUV-2026-0042.*R79-ABC-0001/);
  });

  it('consent declined: reported as declined, the old software stays and the Director drops the update', async () => {
    const [v] = [...(await fleet('DC', 1)).values()];
    const id = await running(spec([v!.vin]));
    assert.equal(await pendingOf(v!), 1);
    for (const status of ['downloading', 'awaiting-consent']) {
      assert.equal((await v!.request('POST', '/device/v1/events', { ecuSerial: `${v!.vin}-s`, filename: FILE, status })).status, 200);
    }
    assert.equal((await states(id))[0]!.state, 'awaiting-consent');
    const r = await v!.request('POST', '/device/v1/events', { ecuSerial: `${v!.vin}-s`, filename: FILE, status: 'declined', reason: 'driver declined' });
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual((await states(id)).map((s) => [s.state, s.reason]), [['declined', 'driver declined']]);
    assert.equal(await pendingOf(v!), 0);
    const ecu = await h.ctx.db.kysely.selectFrom('ecus').select('installed_filename').where('serial', '=', `${v!.vin}-s`).executeTakeFirstOrThrow();
    assert.equal(ecu.installed_filename, 'factory/hw-secondary.bin');
    const p = await progress(id);
    assert.equal(p.counts['declined'], 1);
    assert.equal(p.counts['failed'], 0);
  });

  it('maintenance window closed in the vehicle\'s time zone: nothing released; once it opens: released (tick and check-in)', async () => {
    // 2026-11-21T12:00Z is Saturday 21:00 in Tokyo; the window is Sunday 02:00-04:00 there.
    const tokyo = [...(await fleet('MW', 2, { timeZone: 'Asia/Tokyo' })).values()];
    const [utc] = [...(await fleet('MU', 1)).values()];
    const start = h.clock.now;
    h.clock.now = Date.parse('2026-11-21T12:00:00Z');
    const id = await running(spec([...tokyo.map((v) => v.vin), utc!.vin], { schedule: { windows: [{ days: [7], start: '02:00', end: '04:00' }] } }));
    for (const v of [...tokyo, utc!]) assert.equal(await pendingOf(v), 0);
    assert.equal((await tickCampaigns(h.ctx)).released, 0);
    const scheduled = await h.ctx.db.kysely.selectFrom('assignments').select('status').where('campaign_id', '=', id).execute();
    assert.deepEqual(scheduled.map((a) => a.status), ['scheduled', 'scheduled', 'scheduled']);
    // 17:30Z: Sunday 02:30 in Tokyo (open), Saturday 17:30 in UTC (closed).
    h.clock.now = Date.parse('2026-11-21T17:30:00Z');
    assert.equal(await pendingOf(tokyo[0]!), 1, 'released at check-in');
    assert.equal((await tickCampaigns(h.ctx)).released, 1, 'the other Tokyo vehicle by the tick');
    assert.equal(await pendingOf(tokyo[1]!), 1);
    assert.equal(await pendingOf(utc!), 0);
    h.clock.now = Math.max(start, h.clock.now);
  });

  it('cancel: vehicles that have not started stop receiving it; a vehicle installing keeps it and may finish', async () => {
    const vs = [...(await fleet('CX', 3)).values()];
    const id = await running(spec(vs.map((v) => v.vin)));
    for (const v of vs) assert.equal(await pendingOf(v), 1);
    const ev = (v: SimulatedVehicle, status: string): Promise<unknown> => v.request('POST', '/device/v1/events', { ecuSerial: `${v.vin}-s`, filename: FILE, status });
    await ev(vs[0]!, 'installing');
    await ev(vs[1]!, 'downloading');
    const c = await call('operator', 'POST', `/api/v1/campaigns/${id}/cancel`, { reason: 'superseded' });
    assert.equal(c.status, 200, String(c.body));
    assert.equal(c.json<View>().status, 'cancelled');
    assert.equal(await pendingOf(vs[0]!), 1, 'installing: keeps its assignment');
    assert.equal(await pendingOf(vs[1]!), 0);
    assert.equal(await pendingOf(vs[2]!), 0);
    await install(vs[0]!);
    const byVin = new Map((await states(id)).map((s) => [s.vin, s.state]));
    assert.deepEqual(vs.map((v) => byVin.get(v.vin)), ['succeeded', 'cancelled', 'cancelled']);
    assert.equal((await call('operator', 'POST', `/api/v1/campaigns/${id}/resume`)).status, 409);
    const logged = (await auditEntries()).filter((e) => e.type === 'campaign' && e.campaignId === id).map((e) => e.state);
    assert.deepEqual(logged, ['approved', 'started', 'cancelled']);
  });

  it('incompatible vehicles (SUMS check against the last known configuration) are recorded and never updated', async () => {
    await publishImage(h, 'tcu/tcu-5.bin', Buffer.from('telematics unit 5'), { hardwareIds: ['hw-tcu'], releaseCounter: 5 });
    const [plain] = [...(await fleet('IN', 1)).values()];
    const full = inProcessVehicle(h, 'IN-TCU', [{ serial: 'IN-TCU-p', hardwareId: 'hw-primary' }, { serial: 'IN-TCU-s', hardwareId: 'hw-secondary' }, { serial: 'IN-TCU-t', hardwareId: 'hw-tcu' }]);
    assert.equal((await full.provision(h.tokens.operator)).status, 201);
    const id = await running(spec([plain!.vin, full.vin], { images: { 'hw-secondary': FILE, 'hw-tcu': 'tcu/tcu-5.bin' } }));
    const byVin = new Map((await states(id)).map((s) => [s.vin, s]));
    assert.equal(byVin.get(full.vin)?.state, 'pending');
    assert.equal(byVin.get(plain!.vin)?.state, 'incompatible');
    assert.match(byVin.get(plain!.vin)?.reason ?? '', /hw-tcu/);
    assert.equal(await pendingOf(full), 2);
    assert.equal(await pendingOf(plain!), 0);
    assert.equal((await h.ctx.db.kysely.selectFrom('assignments').select('id').where('vin', '=', plain!.vin).execute()).length, 0);
    assert.equal((await progress(id)).counts['incompatible'], 1);
  });

  it('an unknown image or malformed groups are refused; auditors read, cannot run', async () => {
    const [v] = [...(await fleet('IC', 1)).values()];
    const bad = await call('operator', 'POST', '/api/v1/campaigns', spec([v!.vin], { images: { 'hw-secondary': 'ecu/nope.bin' } }));
    assert.equal(bad.status, 422);
    assert.equal((await call('auditor', 'POST', '/api/v1/campaigns', spec([v!.vin]))).status, 403);
    const badGroups = await call('operator', 'POST', '/api/v1/campaigns', spec([v!.vin], { groups: [{ percent: 50, count: 3 }] }));
    assert.equal(badGroups.json<{ error: { code: string } }>().error.code, 'CAMPAIGN_INVALID');
    const draft = (await call('operator', 'POST', '/api/v1/campaigns', spec([v!.vin]))).json<View>().id;
    const put = await h.app.inject({ method: 'PUT', url: `/api/v1/campaigns/${draft}`, headers: h.auth('operator'), payload: spec([v!.vin], { purpose: 'Brake controller fix, revised' }) });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(put.json<{ purpose: string }>().purpose, 'Brake controller fix, revised');
    assert.equal((await call('release-manager', 'POST', `/api/v1/campaigns/${draft}/approve`)).status, 200);
    const late = await h.app.inject({ method: 'PUT', url: `/api/v1/campaigns/${draft}`, headers: h.auth('operator'), payload: spec([v!.vin]) });
    assert.equal(late.statusCode, 409, 'an approved campaign cannot change');
    const list = await call('auditor', 'GET', '/api/v1/campaigns?status=draft');
    assert.equal(list.status, 200);
    assert.ok(list.json<{ campaigns: View[] }>().campaigns.every((c) => c.status === 'draft'));
  });

  it('the SUMS impact decides too: an update of hardware that an RXSWIN definition covers needs the approval reference', async () => {
    await publishImage(h, 'steer/eps-4.bin', Buffer.from('steering 4'), { hardwareIds: ['hw-steer'], releaseCounter: 4 });
    const def = await call('release-manager', 'POST', '/api/v1/sums/rxswins', { model: 'test-model', regulation: 'R79', rxswin: 'R79-TM-0001', software: [{ hardwareId: 'hw-steer', filename: 'steer/eps-3.bin' }] });
    assert.equal(def.status, 201, String(def.body));
    const v = inProcessVehicle(h, 'ST-00', [{ serial: 'ST-00-p', hardwareId: 'hw-primary' }, { serial: 'ST-00-e', hardwareId: 'hw-steer' }]);
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
    const id = (await call('operator', 'POST', '/api/v1/campaigns', spec([v.vin], { images: { 'hw-steer': 'steer/eps-4.bin' } }))).json<View>().id;
    assert.equal((await call('release-manager', 'POST', `/api/v1/campaigns/${id}/approve`, {})).status, 422);
    assert.equal((await call('release-manager', 'POST', `/api/v1/campaigns/${id}/approve`, { approvalReference: 'KBA-77' })).status, 200);
  });

  it('download-only: the vehicle reports downloaded; the assignment ends unused, the state counts as a success for the group threshold', async () => {
    const vs = [...(await fleet('DL', 2)).values()];
    const id = await running(spec(vs.map((v) => v.vin), { action: 'download-only', groups: [{ count: 1 }, { count: 1 }], successThreshold: 100 }));
    const [first] = (await states(id, '?group=0')).map((s) => vs.find((v) => v.vin === s.vin)!);
    const t = (await first!.fullVerification()).targets[0]!;
    assert.equal((t.target.custom?.['campaign'] as { downloadOnly: boolean }).downloadOnly, true);
    assert.equal((await tickCampaigns(h.ctx)).advanced.length, 0, 'nothing downloaded yet');
    const r = await first!.request('POST', '/device/v1/events', { ecuSerial: `${first!.vin}-s`, filename: FILE, status: 'downloaded' });
    assert.equal(r.status, 200, r.body.toString());
    const mine = (await states(id)).find((s) => s.vin === first!.vin)!;
    assert.equal(mine.state, 'downloaded');
    const rows = await h.ctx.db.kysely.selectFrom('assignments').select(['status', 'completed_at']).where('vin', '=', first!.vin).where('campaign_id', '=', id).execute();
    assert.deepEqual(rows.map((x) => x.status), ['downloaded']);
    assert.notEqual(rows[0]!.completed_at, null);
    // The Director no longer names it: the vehicle never installs it under this campaign.
    assert.equal(await pendingOf(first!), 0);
    assert.equal((await first!.fullVerification()).targets.length, 0);
    const p = await progress(id);
    assert.equal(p.counts['downloaded'], 1);
    assert.equal(p.counts['succeeded'], 0);
    // 100% success threshold met by the downloaded vehicle: the next group starts.
    assert.deepEqual((await tickCampaigns(h.ctx)).advanced, [id]);
    const [second] = (await states(id, '?group=1')).map((s) => vs.find((v) => v.vin === s.vin)!);
    assert.equal(await pendingOf(second!), 1);
    assert.equal((await second!.request('POST', '/device/v1/events', { ecuSerial: `${second!.vin}-s`, filename: FILE, status: 'downloaded' })).status, 200);
    assert.deepEqual((await tickCampaigns(h.ctx)).finished, [id], 'every vehicle downloaded: the campaign finishes');
    const list = await call('auditor', 'GET', `/api/v1/assignments?vin=${second!.vin}`);
    assert.equal(list.status, 200, String(list.body));
  });

  it('downloaded is ignored for a campaign that installs: the assignment stays pending, the vehicle stays in the campaign', async () => {
    const [v] = [...(await fleet('DS', 1)).values()];
    const id = await running(spec([v!.vin]));
    const r = await v!.request('POST', '/device/v1/events', { ecuSerial: `${v!.vin}-s`, filename: FILE, status: 'downloaded' });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal((await states(id))[0]!.state, 'pending');
    assert.equal(await pendingOf(v!), 1);
    await install(v!);
    assert.equal((await states(id))[0]!.state, 'succeeded');
  });

  it('preconditions go to the vehicle: stationary and parked in custom.campaign (default true; false is passed on, the vehicle ignores it)', async () => {
    const vs = [...(await fleet('PC', 2)).values()];
    const a = await running(spec([vs[0]!.vin], { preconditions: { minBatteryPercent: 70 } }));
    const ca = (await vs[0]!.fullVerification()).targets[0]!.target.custom?.['campaign'] as Record<string, unknown>;
    assert.deepEqual([ca['id'], ca['minBatteryPercent'], ca['stationary'], ca['parked']], [a, 70, true, true]);
    await running(spec([vs[1]!.vin], { preconditions: { stationary: false, parked: true } }));
    const cb = (await vs[1]!.fullVerification()).targets[0]!.target.custom?.['campaign'] as Record<string, unknown>;
    assert.deepEqual([cb['minBatteryPercent'], cb['stationary'], cb['parked']], [50, false, true]);
  });
  it('download-only and expiry: the Director says so; at expiry what was not started is withdrawn and the campaign finishes', async () => {
    const [v] = [...(await fleet('EX', 1)).values()];
    const id = await running(spec([v!.vin], { action: 'download-only', expiresAt: new Date(h.clock.now + DAY).toISOString() }));
    const t = (await v!.fullVerification()).targets[0]!;
    assert.equal((t.target.custom?.['campaign'] as { downloadOnly: boolean }).downloadOnly, true);
    h.clock.now += DAY;
    assert.ok((await tickCampaigns(h.ctx)).finished.includes(id), 'expired: finished (with the other campaigns of this suite)');
    assert.equal((await states(id))[0]!.state, 'cancelled');
    assert.equal(await pendingOf(v!), 0);
  });

});

/**
 * R156 7.1 records end to end: RXSWINs derived from the last known configuration, the register
 * per RXSWIN after an update (software before and after with the hashes the ECUs attested),
 * rxswin-change in the accountability log, signed inspection statements that verify offline
 * with the published key (and fail when tampered), exports (JSON, CSV, logged with their
 * SHA-256), and retention: nothing younger than the retention period is removed.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { openNote, parseVerifierKey } from '@reflash/log';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { installedImage, sha256Hex } from './support/vehicle.js';
import type { SimulatedVehicle } from './support/vehicle.js';
import { ApiError } from '../src/errors.js';
import { purgeRegister } from '../src/sums/register.js';
import { IMAGES, bytesOf, sumsFixture, vehicle } from './sums-fixture.js';

interface Attested { serial: string; hardwareId: string; filename: string | null; sha256: string | null; reportCounter: number | null }
interface Entry { id: number; vin: string; regulation: string; rxswinBefore: string; rxswinAfter: string; softwareBefore: Attested[]; softwareAfter: Attested[]; reportCounter: number; recordedAt: string }

forEachDialect('SUMS register, inspection, export', (dialect) => {
  let h: Harness;
  let v: SimulatedVehicle;
  const VIN = 'R-1';
  before(async () => {
    h = await makeHarness(dialect);
    await sumsFixture(h);
    v = await vehicle(h, VIN, { gw: 'gw2', brake: 'brk1' });
  });
  after(async () => { await h.close(); });

  const get = (url: string, role: 'auditor' | 'operator' = 'auditor') => h.app.inject({ method: 'GET', url, headers: h.auth(role) });
  const logEntries = async (type: string): Promise<Array<Record<string, unknown>>> =>
    (await h.ctx.db.kysely.selectFrom('log_leaves').select('entry').orderBy('idx').execute())
      .map((r) => JSON.parse(Buffer.from(r.entry).toString('utf8')) as Record<string, unknown>).filter((e) => e['type'] === type);

  it('derives the RXSWINs from the last known configuration, unknown when no definition matches', async () => {
    const r = await get(`/api/v1/vehicles/${VIN}/rxswin`, 'operator');
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json(), { vin: VIN, model: 'M1', rxswins: [{ regulation: 'R13-H', rxswin: 'R13H-M1-0001' }, { regulation: 'R79', rxswin: 'unknown' }] });
  });

  it('registers software before and after an update with the hashes the ECUs attested', async () => {
    const offer = await h.app.inject({ method: 'POST', url: '/api/v1/sums/offers', headers: h.auth('operator'), payload: { vins: [VIN], package: { images: { 'hw-brake': IMAGES.brk2.file, 'hw-adas': IMAGES.adas3.file } } } });
    assert.equal(offer.statusCode, 201, offer.body);
    assert.deepEqual(offer.json(), { compatible: [VIN], incompatible: [], assigned: 2 });
    h.clock.now += 60_000;
    const res = await v.checkIn({ reports: {
      [`${VIN}-brk`]: { installed: installedImage(IMAGES.brk2.file, bytesOf('brk2')) },
      [`${VIN}-adas`]: { installed: installedImage(IMAGES.adas3.file, bytesOf('adas3')) },
    } });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.json<{ pending: number }>().pending, 0);

    const reg = await get('/api/v1/rxswin/R13H-M1-0002/register');
    assert.equal(reg.statusCode, 200, reg.body);
    const rows = reg.json<{ register: Entry[] }>().register;
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.deepEqual([row.vin, row.regulation, row.rxswinBefore, row.rxswinAfter], [VIN, 'R13-H', 'R13H-M1-0001', 'R13H-M1-0002']);
    const brkBefore = row.softwareBefore.find((s) => s.serial === `${VIN}-brk`)!;
    const brkAfter = row.softwareAfter.find((s) => s.serial === `${VIN}-brk`)!;
    assert.deepEqual([brkBefore.filename, brkBefore.sha256], [IMAGES.brk1.file, sha256Hex(bytesOf('brk1'))]);
    assert.deepEqual([brkAfter.filename, brkAfter.sha256], [IMAGES.brk2.file, sha256Hex(bytesOf('brk2'))]);
    // Exactly what the ECU attested in its signed report, with that report's counter.
    assert.equal(brkAfter.sha256, v.ecu(`${VIN}-brk`).installed.hashes['sha256']);
    assert.equal(brkAfter.reportCounter, v.ecu(`${VIN}-brk`).counter);
    assert.equal(row.reportCounter, v.ecu(`${VIN}-brk`).counter);
    const gw = row.softwareAfter.find((s) => s.serial === `${VIN}-gw`)!;
    assert.equal(gw.sha256, sha256Hex(bytesOf('gw2')), 'ECUs not updated appear unchanged on both sides');
    // The old RXSWIN's register shows the same transition; R79 went from unknown to a known RXSWIN.
    assert.equal((await get('/api/v1/rxswin/R13H-M1-0001/register')).json<{ register: Entry[] }>().register.length, 1);
    const r79 = (await get('/api/v1/rxswin/R79-M1-0001/register')).json<{ register: Entry[] }>().register;
    assert.deepEqual(r79.map((x) => [x.rxswinBefore, x.rxswinAfter]), [['unknown', 'R79-M1-0001']]);

    const changes = await logEntries('rxswin-change');
    assert.deepEqual(changes.map((c) => [c['rxswin'], c['from'], c['to'], c['vehicleType']]), [['R13-H', 'R13H-M1-0001', 'R13H-M1-0002', 'M1'], ['R79', null, 'R79-M1-0001', 'M1']]);
    assert.equal(changes[0]!['vinHash'], h.ctx.audit.vinHash(VIN));

    const now = await get(`/api/v1/vehicles/${VIN}/rxswin`, 'operator');
    assert.deepEqual(now.json<{ rxswins: unknown }>().rxswins, [{ regulation: 'R13-H', rxswin: 'R13H-M1-0002' }, { regulation: 'R79', rxswin: 'R79-M1-0001' }]);
  });

  it('issues an inspection statement that verifies offline with the published key, and not when tampered', async () => {
    const key = await h.app.inject({ method: 'GET', url: '/api/v1/inspect/key' });
    assert.equal(key.statusCode, 200);
    const vkey = key.json<{ key: string }>().key;
    const r = await get(`/api/v1/inspect/${VIN}`);
    assert.equal(r.statusCode, 200, r.body);
    const note = r.json<{ note: string }>().note;
    const opened = openNote(note, [parseVerifierKey(vkey)]);
    const [header, json] = opened.text.split('\n');
    assert.equal(header, 'reflash-inspection/v1');
    const st = JSON.parse(json!) as { vin: string; ecus: Attested[]; rxswins: unknown };
    assert.equal(st.vin, VIN);
    assert.deepEqual(st.rxswins, [{ regulation: 'R13-H', rxswin: 'R13H-M1-0002' }, { regulation: 'R79', rxswin: 'R79-M1-0001' }]);
    assert.equal(st.ecus.find((e) => e.serial === `${VIN}-adas`)!.sha256, sha256Hex(bytesOf('adas3')));
    const tampered = note.replace('R13H-M1-0002', 'R13H-M1-0001');
    assert.notEqual(tampered, note);
    assert.throws(() => openNote(tampered, [parseVerifierKey(vkey)]), /does not verify/);
    assert.equal((await get(`/api/v1/inspect/${VIN}`, 'operator')).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'GET', url: `/api/v1/inspect/${VIN}`, headers: h.auth('release-manager') })).statusCode, 403);
    assert.equal((await get('/api/v1/inspect/NOPE')).statusCode, 404);
  });

  it('exports the register as JSON and CSV and logs each export with the SHA-256 of its bytes', async () => {
    const j = await get('/api/v1/sums/export?format=json&rxswin=R13H-M1-0002');
    assert.equal(j.statusCode, 200, j.body);
    assert.match(String(j.headers['content-type']), /application\/json/);
    const body = j.json<{ kind: string; records: Entry[] }>();
    assert.equal(body.kind, 'rxswin-register');
    assert.equal(body.records.length, 1);
    assert.equal(body.records[0]!.rxswinAfter, 'R13H-M1-0002');
    const jsonSha = createHash('sha256').update(j.rawPayload).digest('hex');
    assert.equal(j.headers['x-reflash-export-sha256'], jsonSha);

    const c = await get(`/api/v1/sums/export?format=csv&model=M1&from=${encodeURIComponent(new Date(h.clock.now - 3_600_000).toISOString())}`);
    assert.equal(c.statusCode, 200, c.body);
    assert.match(String(c.headers['content-type']), /text\/csv/);
    const lines = c.body.trimEnd().split('\r\n');
    assert.equal(lines[0], 'id,vin,model,regulation,rxswin_before,rxswin_after,recorded_at,report_counter,software_before,software_after');
    assert.equal(lines.length, 3, 'two register rows (R13-H and R79)');
    assert.ok(lines.some((l) => l.includes(`${VIN},M1,R13-H,R13H-M1-0001,R13H-M1-0002`) && l.includes(sha256Hex(bytesOf('brk2')))));
    const csvSha = createHash('sha256').update(c.rawPayload).digest('hex');

    const empty = await get(`/api/v1/sums/export?format=json&to=${encodeURIComponent(new Date(h.clock.now - 3_600_000).toISOString())}`);
    assert.equal(empty.json<{ records: unknown[] }>().records.length, 0);

    const exports = await logEntries('record-export');
    assert.equal(exports.length, 3);
    assert.deepEqual([exports[0]!['kind'], exports[0]!['records'], exports[0]!['sha256']], ['rxswin-register.json', 1, jsonSha]);
    assert.deepEqual([exports[1]!['kind'], exports[1]!['records'], exports[1]!['sha256']], ['rxswin-register.csv', 2, csvSha]);
    assert.match(String(exports[0]!['by']), /^token:/);
    assert.equal((await get('/api/v1/sums/export?format=json', 'operator')).statusCode, 403);
  });

  it('refuses to purge records younger than the retention period, and has no delete route', async () => {
    await assert.rejects(purgeRegister(h.ctx, h.clock.now), (err: unknown) => err instanceof ApiError && err.code === 'RETENTION_NOT_ELAPSED');
    await assert.rejects(purgeRegister(h.ctx, h.clock.now - 9 * 365 * 86_400_000), (err: unknown) => err instanceof ApiError && err.code === 'RETENTION_NOT_ELAPSED');
    assert.equal(await purgeRegister(h.ctx, h.clock.now - 11 * 365 * 86_400_000), 0);
    assert.equal((await h.ctx.db.kysely.selectFrom('sums_register').select('id').execute()).length, 2);
    const del = await h.app.inject({ method: 'DELETE', url: '/api/v1/rxswin/R13H-M1-0002/register', headers: h.auth('admin') });
    assert.equal(del.statusCode, 404);
  });

  it('serves the catalogue, dependencies, registry and impacts through the API', async () => {
    const sw = await get('/api/v1/sums/software?partNumber=GW-100', 'operator');
    assert.deepEqual(sw.json<{ software: Array<{ filename: string; version: string; hardwareIds: string[]; hashes: { sha256: string } }> }>().software
      .map((s) => [s.filename, s.version, s.hardwareIds, s.hashes.sha256]), [[IMAGES.gw1.file, '1.0', ['hw-gw'], sha256Hex(bytesOf('gw1'))], [IMAGES.gw2.file, '2.0', ['hw-gw'], sha256Hex(bytesOf('gw2'))]]);
    const conflict = await h.app.inject({ method: 'POST', url: '/api/v1/sums/software', headers: h.auth('release-manager'), payload: { filename: IMAGES.gw1.file, partNumber: 'GW-100', version: '1.1' } });
    assert.equal(conflict.statusCode, 409, conflict.body);
    const wrongHw = await h.app.inject({ method: 'POST', url: '/api/v1/sums/software', headers: h.auth('release-manager'), payload: { filename: IMAGES.gw1.file, partNumber: 'GW-100', version: '1.0', hardwareIds: ['hw-brake'] } });
    assert.equal(wrongHw.statusCode, 422, wrongHw.body);
    const deps = await get('/api/v1/sums/dependencies', 'operator');
    assert.deepEqual(deps.json<{ dependencies: Array<{ filename: string; requires: unknown }> }>().dependencies.map((d) => [d.filename, d.requires]), [[IMAGES.adas3.file, { partNumber: 'GW-100', minVersion: '2.0' }]]);
    const pkg = { images: { 'hw-brake': IMAGES.brk2.file } };
    const noRef = await h.app.inject({ method: 'POST', url: '/api/v1/sums/impacts', headers: h.auth('release-manager'), payload: { package: pkg } });
    assert.equal(noRef.statusCode, 422, 'a type-approved system needs an approval reference');
    const imp = await h.app.inject({ method: 'POST', url: '/api/v1/sums/impacts', headers: h.auth('release-manager'), payload: { package: pkg, approvalRef: 'TS-2026-0042' } });
    assert.equal(imp.statusCode, 201, imp.body);
    assert.deepEqual([imp.json<{ touchesTypeApproved: boolean }>().touchesTypeApproved, imp.json<{ rxswins: string[] }>().rxswins], [true, ['R13H-M1-0002']]);
    const compat = await h.app.inject({ method: 'POST', url: '/api/v1/sums/compatibility', headers: h.auth('auditor'), payload: { filter: { models: ['M1'] }, package: { images: { 'hw-adas': IMAGES.adas3.file } } } });
    assert.equal(compat.statusCode, 200, compat.body);
    assert.deepEqual(compat.json(), { compatible: [VIN], incompatible: [] });
    const both = await h.app.inject({ method: 'POST', url: '/api/v1/sums/compatibility', headers: h.auth('auditor'), payload: { vins: [VIN], filter: { models: ['M1'] }, package: pkg } });
    assert.equal(both.statusCode, 400);
  });
});

/**
 * Compatibility with each vehicle's last known configuration (R156 7.1.2.3) and the impact of a
 * package: a vehicle missing a dependency or an ECU is reported incompatible and never offered
 * the update; a package that brings the dependency itself is compatible.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { checkCompatibility, checkCompatibilityByFilter } from '../src/sums/compatibility.js';
import { impactOf } from '../src/sums/impact.js';
import { offerUpdate } from '../src/sums/offer.js';
import { IMAGES, sumsFixture, vehicle } from './sums-fixture.js';

forEachDialect('SUMS compatibility', (dialect) => {
  let h: Harness;
  before(async () => {
    h = await makeHarness(dialect);
    await sumsFixture(h);
    await vehicle(h, 'C-OK', { gw: 'gw2', brake: 'brk1' });
    await vehicle(h, 'C-OLDGW', { gw: 'gw1', brake: 'brk1' });
    await vehicle(h, 'C-NOADAS', { gw: 'gw2', brake: 'brk1' }, false);
  });
  after(async () => { await h.close(); });

  const adasOnly = { images: { 'hw-adas': IMAGES.adas3.file } };

  it('reports a vehicle lacking a dependency, an ECU, or registration as incompatible, with reasons', async () => {
    const r = await checkCompatibility(h.ctx.db.kysely, ['C-OK', 'C-OLDGW', 'C-NOADAS', 'C-NONE', 'C-OK'], adasOnly);
    assert.deepEqual(r.compatible, ['C-OK']);
    assert.deepEqual(r.incompatible.map((x) => x.vin), ['C-NOADAS', 'C-NONE', 'C-OLDGW']);
    assert.match(r.incompatible[0]!.reason, /no ECU with hardware id hw-adas/);
    assert.match(r.incompatible[1]!.reason, /no such vehicle/);
    assert.match(r.incompatible[2]!.reason, /needs GW-100 >= 2\.0/);
  });

  it('runs inside a caller\'s transaction too', async () => {
    const r = await h.ctx.db.kysely.transaction().execute((trx) => checkCompatibility(trx, ['C-OK', 'C-OLDGW'], adasOnly));
    assert.deepEqual(r.compatible, ['C-OK']);
    assert.deepEqual(r.incompatible.map((x) => x.vin), ['C-OLDGW']);
  });

  it('counts a dependency the package brings itself', async () => {
    const r = await checkCompatibility(h.ctx.db.kysely, ['C-OK', 'C-OLDGW'], { images: { 'hw-adas': IMAGES.adas3.file, 'hw-gw': IMAGES.gw2.file } });
    assert.deepEqual(r.compatible, ['C-OK', 'C-OLDGW']);
    // An older gateway in the same package replaces the one that satisfied it.
    const worse = await checkCompatibility(h.ctx.db.kysely, ['C-OK'], { images: { 'hw-adas': IMAGES.adas3.file, 'hw-gw': IMAGES.gw1.file } });
    assert.deepEqual(worse.compatible, []);
  });

  it('refuses an image for hardware it is not compatible with, for every vehicle', async () => {
    const r = await checkCompatibility(h.ctx.db.kysely, ['C-OK'], { images: { 'hw-brake': IMAGES.gw2.file } });
    assert.deepEqual(r.compatible, []);
    assert.match(r.incompatible[0]!.reason, /not compatible with hardware id hw-brake/);
    const unknown = await checkCompatibility(h.ctx.db.kysely, ['C-OK'], { images: { 'hw-brake': 'ecu/nope.bin' } });
    assert.match(unknown.incompatible[0]!.reason, /neither catalogued nor in the current Image repository/);
  });

  it('evaluates a target filter in one query', async () => {
    const r = await checkCompatibilityByFilter(h.ctx.db.kysely, { models: ['M1'] }, adasOnly);
    assert.deepEqual(r.compatible, ['C-OK']);
    assert.equal(r.incompatible.length, 2);
    const none = await checkCompatibilityByFilter(h.ctx.db.kysely, { models: ['other'] }, adasOnly);
    assert.deepEqual(none, { compatible: [], incompatible: [] });
  });

  it('never offers the update to an incompatible vehicle', async () => {
    const r = await offerUpdate(h.ctx, ['C-OK', 'C-OLDGW', 'C-NOADAS'], adasOnly, 'token:test');
    assert.deepEqual(r.compatible, ['C-OK']);
    assert.equal(r.assigned, 1);
    const pending = await h.ctx.db.kysely.selectFrom('assignments').select(['vin', 'filename']).where('status', '=', 'pending').execute();
    assert.deepEqual(pending, [{ vin: 'C-OK', filename: IMAGES.adas3.file }]);
    // The Director offers nothing to the incompatible vehicle.
    const targets = await h.app.inject({ method: 'GET', url: '/api/v1/vehicles/C-OLDGW', headers: h.auth('operator') });
    assert.equal(targets.statusCode, 200);
    assert.deepEqual(targets.json<{ pending: unknown[] }>().pending, []);
  });

  it('derives the impact of a package from the RXSWIN registry', async () => {
    assert.deepEqual(await impactOf(h.ctx.db.kysely, adasOnly), { touchesTypeApproved: true, rxswins: ['R79-M1-0001'] });
    assert.deepEqual(await impactOf(h.ctx.db.kysely, { images: { 'hw-brake': IMAGES.brk2.file } }), { touchesTypeApproved: true, rxswins: ['R13H-M1-0002'] });
    assert.deepEqual(await impactOf(h.ctx.db.kysely, { images: { 'hw-infotainment': 'x.bin' } }), { touchesTypeApproved: false, rxswins: [] });
  });
});

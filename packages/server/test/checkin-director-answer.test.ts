/**
 * A check-in that answers with the vehicle's Director metadata (PUT /device/v1/manifest
 * ?directorRoot=N): the files are exactly the bytes GET /repo/director/{vin}/{file} serves at
 * that moment, kept fresh the same way (timestamp re-signed past half its lifetime, everything
 * re-signed after a key rotation, with the newer roots included), and a vehicle verifies them
 * (Uptane 2.1 §5.4.4.2) as if it had fetched them. On SQLite and PostgreSQL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@reflash/metadata';
import { FetchError } from '@reflash/metadata';
import { Updater } from '@reflash/verify';
import type { Fetcher } from '@reflash/verify';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { MemoryStore, inProcessVehicle } from './support/vehicle.js';
import type { SimulatedVehicle } from './support/vehicle.js';

interface Answer {
  directorTargetsVersion: number;
  pending: number;
  director?: { rootVersion: number; files: Record<string, string> };
}
const HOUR = 3_600_000;

forEachDialect('check-in answered with the Director metadata', (dialect) => {
  let h: Harness;
  let v: SimulatedVehicle;
  before(async () => {
    h = await makeHarness(dialect);
    v = inProcessVehicle(h, 'ANSWER-0001');
    assert.equal((await v.provision(h.tokens.operator)).status, 201);
  });
  after(async () => { await h.close(); });

  async function checkIn(query: string): Promise<Answer> {
    const r = await v.request('PUT', `/device/v1/manifest${query}`, Buffer.from(JSON.stringify(v.manifest().toJSON())));
    assert.equal(r.status, 200, r.body.toString());
    return r.json<Answer>();
  }
  const files = (a: Answer): Map<string, Buffer> => new Map(Object.entries(a.director?.files ?? {}).map(([n, b]) => [n, Buffer.from(b, 'base64')]));
  const served = async (name: string): Promise<Buffer> => {
    const r = await v.request('GET', `/repo/director/${v.vin}/${name}`);
    assert.equal(r.status, 200, name);
    return r.body;
  };

  it('without directorRoot the answer has no director; with it, the files are the bytes GET serves', async () => {
    assert.equal((await checkIn('')).director, undefined);
    const a = await checkIn('?directorRoot=1');
    const f = files(a);
    assert.equal(a.director?.rootVersion, 1);
    assert.deepEqual([...f.keys()].sort(), ['1.snapshot.json', '1.targets.json', 'timestamp.json']);
    assert.equal(a.directorTargetsVersion, 1);
    for (const [name, bytes] of f) assert.deepEqual(bytes, await served(name), name);
  });

  it('a vehicle verifies the answered files as if fetched, and asks for nothing else', async () => {
    const a = await checkIn('?directorRoot=1');
    const f = files(a);
    const asked: string[] = [];
    // Only the answer: a file it does not hold is a 404, as the server says for roots past the newest.
    const answerOnly: Fetcher = {
      fetch: (url) => {
        const name = url.slice(`/repo/director/${v.vin}/`.length);
        asked.push(name);
        const b = f.get(name);
        return b === undefined ? Promise.reject(new FetchError(404, `${name}: not in the answer`)) : Promise.resolve(b);
      },
    };
    const store = new MemoryStore();
    await store.save('root', await served('1.root.json'));
    const updater = new Updater({ metadataBaseUrl: `/repo/director/${v.vin}/`, fetcher: answerOnly, store, referenceTime: h.clock.now });
    await updater.refresh();
    assert.deepEqual(asked, ['2.root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json']);
  });

  it('re-signs a timestamp past half its lifetime before answering, like GET timestamp.json', async () => {
    const before = Metadata.fromBytes(files(await checkIn('?directorRoot=1')).get('timestamp.json')!, 'timestamp').signed.version;
    h.clock.now += 13 * HOUR; // 11 h of 24 left
    const f = files(await checkIn('?directorRoot=1'));
    const ts = Metadata.fromBytes(f.get('timestamp.json')!, 'timestamp');
    assert.equal(ts.signed.version, before + 1);
    assert.equal(ts.signed.expiresMs, h.clock.now + h.ctx.config.directorExpiryMs);
    assert.deepEqual(f.get('timestamp.json'), await served('timestamp.json'));
  });

  it('after a Director key rotation: the newer root is included and everything is re-signed with the new keys', async () => {
    const r = await h.app.inject({ method: 'POST', url: '/api/v1/director/keys/rotate', headers: h.auth('admin'), payload: { role: 'timestamp' } });
    assert.equal(r.statusCode, 200, r.body);
    h.clock.now += 1000;
    const a = await checkIn('?directorRoot=1');
    const f = files(a);
    assert.equal(a.director?.rootVersion, 2);
    assert.deepEqual(f.get('2.root.json'), await served('2.root.json'));
    const root2 = Metadata.fromBytes(f.get('2.root.json')!, 'root');
    const tsKeys = new Set(root2.signed.roles.get('timestamp')!.keyids);
    const ts = Metadata.fromBytes(f.get('timestamp.json')!, 'timestamp');
    assert.ok([...ts.signatures.keys()].every((k) => tsKeys.has(k)), 'the answered timestamp is signed by the new key');
    // A vehicle that already trusts root 2 gets no roots.
    assert.deepEqual([...files(await checkIn('?directorRoot=2')).keys()].filter((n) => n.endsWith('.root.json')), []);
  });

  describe('refusals', () => {
    for (const q of ['?directorRoot=-1', '?directorRoot=x', '?directorRoot=1.5', '?directorRoot=99999999999', '?other=1']) {
      it(`${q}: 400 VALIDATION_FAILED, nothing recorded`, async () => {
        const count = async () => Number((await h.ctx.db.kysely.selectFrom('vehicles').select('manifest_count').where('vin', '=', v.vin).executeTakeFirstOrThrow()).manifest_count);
        const n = await count();
        const r = await v.request('PUT', `/device/v1/manifest${q}`, Buffer.from(JSON.stringify(v.manifest().toJSON())));
        assert.equal(r.status, 400, r.body.toString());
        assert.equal(r.json<{ error: { code: string } }>().error.code, 'VALIDATION_FAILED');
        assert.equal(await count(), n);
      });
    }
  });
});

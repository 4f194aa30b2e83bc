import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';

forEachDialect('server foundation', (dialect) => {
  let h: Harness;
  before(async () => { h = await makeHarness(dialect); });
  after(async () => { await h.close(); });

  it('answers /healthz and /readyz', async () => {
    assert.equal((await h.app.inject({ url: '/healthz' })).statusCode, 200);
    const r = await h.app.inject({ url: '/readyz' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { status: 'ready' });
  });

  it('serves an OpenAPI 3.1 document', async () => {
    const r = await h.app.inject({ url: '/openapi.json' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json<{ openapi: string }>().openapi, '3.1.0');
  });

  it('exposes Prometheus metrics', async () => {
    const r = await h.app.inject({ url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /reflash_http_requests_total/);
  });

  it('unknown routes get a coded 404', async () => {
    const r = await h.app.inject({ url: '/nope' });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json<{ error: { code: string } }>().error.code, 'NOT_FOUND');
  });
});

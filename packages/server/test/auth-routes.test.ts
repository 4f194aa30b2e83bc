/**
 * Table-driven authorisation: every route the server registers declares who may call it, and
 * this walks the whole list: anonymous -> 401 on every non-public route; each operator role the
 * route does not allow -> 403; the roles it allows get past authorisation (any status but 401/403).
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { ROLES } from '../src/plugins/auth.js';
import type { Role, RouteAuth } from '../src/plugins/auth.js';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';

/** A concrete URL for a route pattern: parameters and wildcards get harmless values. */
function concrete(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => (name === 'vin' ? 'NO-SUCH-VIN' : name === 'size' || name === 'index' || name === 'id' ? '1' : 'x')).replace(/\*/g, 'x/y.bin');
}

const method = (m: string): 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'PATCH' | 'OPTIONS' => m as 'GET';

forEachDialect('authorisation of every route', (dialect) => {
  let h: Harness;
  let routes: RouteAuth[];
  before(async () => {
    h = await makeHarness(dialect);
    routes = h.app.authRoutes.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
  });
  after(async () => { await h.close(); });

  it('the route table is complete and every route declares its auth', () => {
    assert.ok(routes.length >= 30, `only ${routes.length} routes`);
    for (const r of routes) assert.ok(r.auth !== undefined, `${r.method} ${r.url}`);
    for (const must of ['/api/v1/vehicles', '/device/v1/manifest', '/api/v1/image-repo/root', '/api/v1/tokens', '/repo/director/:vin/:file']) {
      assert.ok(routes.some((r) => r.url === must), `missing ${must}`);
    }
  });

  it('anonymous callers get 401 on every route that is not public', async () => {
    for (const r of routes.filter((x) => x.auth !== 'public')) {
      const res = await h.app.inject({ method: method(r.method), url: concrete(r.url), headers: { 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(res.statusCode, 401, `${r.method} ${r.url}: ${res.body}`);
      assert.equal(res.json<{ error: { code: string } }>().error.code, 'UNAUTHENTICATED', `${r.method} ${r.url}`);
    }
  });

  it('operator roles a route does not allow get 403; allowed roles and admin get past authorisation', async () => {
    let checked = 0;
    for (const r of routes.filter((x) => Array.isArray(x.auth))) {
      const allowed = r.auth as readonly Role[];
      for (const role of ROLES) {
        const res = await h.app.inject({ method: method(r.method), url: concrete(r.url), headers: { ...h.auth(role), 'content-type': 'application/json' }, payload: '{}' });
        if (role === 'admin' || allowed.includes(role)) {
          assert.ok(res.statusCode !== 401 && res.statusCode !== 403, `${role} on ${r.method} ${r.url}: ${res.statusCode} ${res.body}`);
        } else {
          assert.equal(res.statusCode, 403, `${role} on ${r.method} ${r.url}: ${res.body}`);
          assert.equal(res.json<{ error: { code: string } }>().error.code, 'FORBIDDEN');
        }
        checked++;
      }
    }
    assert.ok(checked > 50);
  });

  it('a vehicle route refuses an operator token; a revoked or malformed token is refused', async () => {
    const res = await h.app.inject({ method: 'PUT', url: '/device/v1/manifest', headers: { ...h.auth('admin'), 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(res.statusCode, 401);
    const bad = await h.app.inject({ url: '/api/v1/vehicles', headers: { authorization: 'Bearer nope' } });
    assert.equal(bad.json<{ error: { code: string } }>().error.code, 'BAD_TOKEN');
    const unknown = await h.app.inject({ url: '/api/v1/vehicles', headers: { authorization: `Bearer rft_${'A'.repeat(43)}` } });
    assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'BAD_TOKEN');
  });
});

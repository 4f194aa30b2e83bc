import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';

interface ErrorBody { error: { code: string; message: string } }

forEachDialect('API tokens', (dialect) => {
  let h: Harness;
  before(async () => { h = await makeHarness(dialect); });
  after(async () => { await h.close(); });

  const post = (body: unknown, role: 'admin' | 'operator' = 'admin') =>
    h.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h.auth(role), payload: body as object });

  it('an admin creates a token, shown once, that works for its role', async () => {
    const r = await post({ name: 'ci operator', role: 'operator' });
    assert.equal(r.statusCode, 201);
    const { id, token, role } = r.json<{ id: string; token: string; role: string }>();
    assert.match(token, /^rft_/);
    assert.equal(role, 'operator');
    const use = await h.app.inject({ url: '/api/v1/vehicles', headers: { authorization: `Bearer ${token}` } });
    assert.equal(use.statusCode, 200);
    // An operator token cannot administer tokens.
    const forbidden = await h.app.inject({ url: '/api/v1/tokens', headers: { authorization: `Bearer ${token}` } });
    assert.equal(forbidden.statusCode, 403);
    assert.equal(forbidden.json<ErrorBody>().error.code, 'FORBIDDEN');
    // The list names it but never returns a secret or a hash.
    const list = await h.app.inject({ url: '/api/v1/tokens', headers: h.auth('admin') });
    assert.equal(list.statusCode, 200);
    const entry = list.json<{ tokens: Array<Record<string, unknown>> }>().tokens.find((t) => t['id'] === id);
    assert.deepEqual(Object.keys(entry ?? {}).sort(), ['createdAt', 'id', 'name', 'revokedAt', 'role']);
    assert.ok(!list.body.includes(token));
    assert.ok(!list.body.includes('token_hash'));
  });

  it('a revoked token is refused on its next request', async () => {
    const { id, token } = (await post({ name: 'temporary', role: 'auditor' })).json<{ id: string; token: string }>();
    const headers = { authorization: `Bearer ${token}` };
    assert.equal((await h.app.inject({ url: '/api/v1/vehicles', headers })).statusCode, 200);
    const del = await h.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: h.auth('admin') });
    assert.equal(del.statusCode, 200);
    assert.equal(typeof del.json<{ revokedAt: string }>().revokedAt, 'string');
    const again = await h.app.inject({ url: '/api/v1/vehicles', headers });
    assert.equal(again.statusCode, 401);
    assert.equal(again.json<ErrorBody>().error.code, 'BAD_TOKEN');
    // Revoking twice keeps the first revocation.
    const twice = await h.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: h.auth('admin') });
    assert.equal(twice.json<{ revokedAt: string }>().revokedAt, del.json<{ revokedAt: string }>().revokedAt);
  });

  describe('refusals', () => {
    it('unknown token id: 404 TOKEN_NOT_FOUND', async () => {
      const r = await h.app.inject({ method: 'DELETE', url: '/api/v1/tokens/0123456789abcdef', headers: h.auth('admin') });
      assert.equal(r.statusCode, 404);
      assert.equal(r.json<ErrorBody>().error.code, 'TOKEN_NOT_FOUND');
    });
    it('unknown role or empty name: 400', async () => {
      assert.equal((await post({ name: 'x', role: 'root' })).statusCode, 400);
      assert.equal((await post({ name: '', role: 'operator' })).statusCode, 400);
    });
    it('operators may not create tokens; nobody without a token may', async () => {
      assert.equal((await post({ name: 'x', role: 'admin' }, 'operator')).statusCode, 403);
      const anon = await h.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'x', role: 'admin' } });
      assert.equal(anon.statusCode, 401);
    });
  });
});

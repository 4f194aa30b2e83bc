/**
 * The accountability log records what the issue lists, from the features themselves: image
 * published (hashes, signer key ids) and Image-repository key rotations (vehicle update results
 * and receipts are checked in director-flow.test.ts).
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDialect, makeHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { initImageRepo, offlineKeys, publishImage } from './support/image-repo.js';

interface Entry { type: string; [k: string]: unknown }

async function entries(h: Harness): Promise<Entry[]> {
  await h.ctx.audit.integrate();
  const status = (await h.app.inject({ url: '/api/v1/log/status', headers: h.auth('auditor') })).json<{ appended: number }>();
  const out: Entry[] = [];
  for (let i = 0; i < status.appended; i++) {
    const r = await h.app.inject({ url: `/api/v1/log/entries/${i}` });
    assert.equal(r.statusCode, 200, r.body);
    out.push(r.json<Entry>());
  }
  return out;
}

forEachDialect('accountability log wiring', (dialect) => {
  let h: Harness;
  before(async () => { h = await makeHarness(dialect); });
  after(async () => { await h.close(); });

  it('a new Image-repository root records one key-rotation entry per role, by a pseudonymous operator', async () => {
    const targetsKeys = offlineKeys(1);
    await initImageRepo(h, { rootKeys: offlineKeys(1), targetsKeys });
    const rot = (await entries(h)).filter((e) => e.type === 'key-rotation');
    assert.deepEqual(rot.map((e) => e['role']).sort(), ['root', 'snapshot', 'targets', 'timestamp']);
    const t = rot.find((e) => e['role'] === 'targets')!;
    assert.deepEqual(t['added'], [targetsKeys[0]!.keyId]);
    assert.equal(t['repo'], 'image');
    assert.match(String(t['by']), /^token:[0-9a-f]+$/);
  });

  it('publishing an image records its hashes and the key ids that signed the targets role', async () => {
    const targetsKeys = offlineKeys(1);
    const h2 = await makeHarness(dialect);
    try {
      await initImageRepo(h2, { rootKeys: offlineKeys(1), targetsKeys });
      const tf = await publishImage(h2, 'ecu/fw-1.bin', Buffer.from('firmware one'), { hardwareIds: ['hw-1'], releaseCounter: 1 });
      const pub = (await entries(h2)).filter((e) => e.type === 'image-published');
      assert.equal(pub.length, 1);
      assert.equal(pub[0]!['filename'], 'ecu/fw-1.bin');
      assert.deepEqual(pub[0]!['hashes'], { sha256: tf.hashes['sha256'], sha512: tf.hashes['sha512'] });
      assert.deepEqual(pub[0]!['hardwareIds'], ['hw-1']);
      assert.deepEqual(pub[0]!['signerKeyIds'], [targetsKeys[0]!.keyId]);
    } finally {
      await h2.close();
    }
  });
});

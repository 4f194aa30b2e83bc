/**
 * The offline key store: encrypted keys round-trip only with their passphrase, existing keys are
 * never overwritten, test keys are unencrypted, marked as such and refused unless allowed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Key } from '@reflash/metadata';
import { Keystore, KeystoreError, envOrPromptPassphrase } from '../src/commands/keystore.js';
import type { PassphraseSource } from '../src/commands/keystore.js';

const PASS = 'correct horse battery';
const fixed = (p: string): PassphraseSource => () => Promise.resolve(p);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KeystoreError, `expected a KeystoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

void describe('Keystore', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-keystore-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const scheme of ['ed25519', 'ecdsa-sha2-nistp256', 'rsassa-pss-sha256'] as const) {
    void it(`round-trips an encrypted ${scheme} key with its passphrase`, async () => {
      const ks = new Keystore(join(dir, `rt-${scheme}`));
      const entry = await ks.generate('officer', { scheme, passphrase: PASS });
      const pem = await readFile(entry.privateFile, 'utf8');
      assert.match(pem, /-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      assert.ok(!pem.includes('-----BEGIN PRIVATE KEY-----'));
      assert.equal((await stat(entry.privateFile)).mode & 0o777, 0o600);
      const pub = JSON.parse(await readFile(entry.publicFile, 'utf8')) as { keyid: string; key: unknown };
      assert.equal(pub.keyid, Key.fromJSON(pub.key).keyId());
      const signer = await ks.signer('officer', { passphrase: fixed(PASS) });
      assert.equal(signer.keyId, entry.keyid);
      const data = Buffer.from('signed bytes');
      assert.ok(entry.key.verify(data, signer.sign(data)));
    });
  }

  void it('refuses a wrong passphrase with KEYSTORE_BAD_PASSPHRASE', async () => {
    const ks = new Keystore(join(dir, 'wrong'));
    await ks.generate('k', { passphrase: PASS });
    for (let i = 0; i < 5; i++) await rejectsWith(ks.signer('k', { passphrase: fixed(`not the passphrase ${i}`) }), 'KEYSTORE_BAD_PASSPHRASE');
  });

  void it('refuses to overwrite an existing key, and leaves it intact', async () => {
    const ks = new Keystore(join(dir, 'overwrite'));
    const first = await ks.generate('k', { passphrase: PASS });
    const before = [await readFile(first.publicFile), await readFile(first.privateFile)];
    await rejectsWith(ks.generate('k', { passphrase: PASS }), 'KEYSTORE_KEY_EXISTS');
    await rejectsWith(ks.generate('k', { test: true }), 'KEYSTORE_KEY_EXISTS');
    assert.deepEqual([await readFile(first.publicFile), await readFile(first.privateFile)], before);
    // A leftover private file alone also blocks the name (no half-made key is replaced).
    await writeFile(join(ks.dir, 'orphan.key.pem'), 'x');
    await rejectsWith(ks.generate('orphan', { passphrase: PASS }), 'KEYSTORE_KEY_EXISTS');
    // No temp files are left behind.
    assert.deepEqual((await readdir(ks.dir)).filter((f) => f.endsWith('.tmp')), []);
  });

  void it('marks test keys: unencrypted, .TEST-KEY.pem, a header that says so, refused unless allowed', async () => {
    const ks = new Keystore(join(dir, 'test-keys'));
    const e = await ks.generate('demo', { test: true });
    assert.ok(e.privateFile.endsWith('demo.TEST-KEY.pem'));
    const pem = await readFile(e.privateFile, 'utf8');
    assert.match(pem.split('\n')[0]!, /^# \*\*\* REFLASH TEST KEY: NOT ENCRYPTED/);
    assert.match(pem, /-----BEGIN PRIVATE KEY-----/);
    assert.equal((await stat(e.privateFile)).mode & 0o777, 0o600);
    const pub = JSON.parse(await readFile(e.publicFile, 'utf8')) as { test: boolean };
    assert.equal(pub.test, true);
    await rejectsWith(ks.signer('demo', { passphrase: fixed(PASS) }), 'KEYSTORE_TEST_KEY_REFUSED');
    const s = await ks.signer('demo', { passphrase: () => Promise.reject(new Error('no passphrase is asked for a test key')), allowTest: true });
    assert.equal(s.keyId, e.keyid);
    const listed = await ks.list();
    assert.deepEqual(listed.map((l) => [l.name, l.test]), [['demo', true]]);
  });

  void it('lists keys by name with scheme and key id', async () => {
    const ks = new Keystore(join(dir, 'list'));
    const b = await ks.generate('b-key', { scheme: 'ecdsa-sha2-nistp256', passphrase: PASS });
    const a = await ks.generate('a-key', { passphrase: PASS });
    assert.deepEqual((await ks.list()).map((e) => [e.name, e.scheme, e.keyid]), [
      ['a-key', 'ed25519', a.keyid], ['b-key', 'ecdsa-sha2-nistp256', b.keyid],
    ]);
    assert.deepEqual(await new Keystore(join(dir, 'absent')).list(), []);
  });

  void it('refuses weak passphrases, bad names and a private key that is not the public one', async () => {
    const ks = new Keystore(join(dir, 'misc'));
    await rejectsWith(ks.generate('k', { passphrase: 'short' }), 'KEYSTORE_WEAK_PASSPHRASE');
    await rejectsWith(ks.generate('../escape', { passphrase: PASS }), 'KEYSTORE_BAD_NAME');
    await rejectsWith(ks.publicKey('missing'), 'KEYSTORE_KEY_NOT_FOUND');
    const x = await ks.generate('x', { passphrase: PASS });
    const y = await ks.generate('y', { passphrase: PASS });
    // y's private key under x's name: detected by key id.
    await rm(x.privateFile);
    await writeFile(x.privateFile, await readFile(y.privateFile));
    await rejectsWith(ks.signer('x', { passphrase: fixed(PASS) }), 'KEYSTORE_CORRUPT');
  });

  void it('takes the passphrase from REFLASH_KEY_PASSPHRASE, and needs one', async () => {
    assert.equal(await envOrPromptPassphrase({ REFLASH_KEY_PASSPHRASE: PASS })('k', true), PASS);
    await rejectsWith(envOrPromptPassphrase({ REFLASH_KEY_PASSPHRASE: 'short' })('k', false), 'KEYSTORE_WEAK_PASSPHRASE');
    if (process.stdin.isTTY !== true) await rejectsWith(envOrPromptPassphrase({})('k', false), 'KEYSTORE_NO_PASSPHRASE');
  });

  void it('signs only with the keys whose private part it holds', async () => {
    const ks = new Keystore(join(dir, 'available'));
    await ks.generate('mine', { passphrase: PASS });
    const theirs = await ks.generate('theirs', { passphrase: PASS });
    await rm(theirs.privateFile);
    const r = await ks.availableSigners(['mine', 'theirs'], { passphrase: fixed(PASS) });
    assert.equal(r.signers.length, 1);
    assert.deepEqual(r.absent.map((e) => e.name), ['theirs']);
  });
});

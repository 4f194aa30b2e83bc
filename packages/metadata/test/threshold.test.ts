import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { Key, generateSigner } from '../src/keys.js';
import type { PrivateKeySigner } from '../src/keys.js';
import { Metadata, Signature } from '../src/metadata.js';
import { MetaFile, Role, SPEC_VERSION } from '../src/signed.js';
import { Timestamp } from '../src/timestamp.js';
import { checkThreshold, verifyThreshold } from '../src/threshold.js';
import { bytesOf, throwsCode } from './helpers.js';

const [a, b, c] = [generateSigner('ed25519'), generateSigner('ed25519'), generateSigner('ed25519')] as const;
const ec = generateSigner('ecdsa-sha2-nistp256');
const outsider = generateSigner('ed25519');

const timestamp = new Timestamp({ specVersion: SPEC_VERSION, version: 1, expires: '2031-01-01T00:00:00Z', snapshotMeta: new MetaFile({ version: 1 }) });
const unsigned = Metadata.of(timestamp);
const DATA = unsigned.signedBytes();

function keysOf(...entries: [string, Key][]): Map<string, Key> {
  return new Map(entries);
}

function sigBy(s: PrivateKeySigner, keyid = s.keyId): Signature {
  return new Signature(keyid, s.sign(DATA));
}

function md(...sigs: Signature[]): Metadata<Timestamp> {
  return new Metadata(timestamp, sigs);
}

const abcKeys = keysOf([a.keyId, a.key], [b.keyId, b.key], [c.keyId, c.key], [outsider.keyId, outsider.key]);
const role2of3 = new Role([a.keyId, b.keyId, c.keyId], 2);

describe('threshold: counting distinct trusted keys', () => {
  it('a threshold of 2 of 3 is met by two valid signatures', () => {
    const r = verifyThreshold('timestamp', abcKeys, role2of3, md(sigBy(a), sigBy(c)));
    assert.equal(r.verified, true);
    assert.deepEqual(r.signed, [a.keyId, c.keyId]);
    assert.deepEqual(r.missing, [b.keyId]);
    assert.deepEqual(r.invalid, []);
    assert.equal(r.threshold, 2);
    assert.equal(r.roleName, 'timestamp');
  });

  it('an unmet threshold is UNSIGNED_METADATA and says how many verified', () => {
    throwsCode(() => verifyThreshold('timestamp', abcKeys, role2of3, md(sigBy(b))), 'UNSIGNED_METADATA', 'timestamp', '1 of 2');
    throwsCode(() => verifyThreshold('timestamp', abcKeys, role2of3, md()), 'UNSIGNED_METADATA', '0 of 2');
  });

  it('checkThreshold reports what is missing without throwing', () => {
    const r = checkThreshold('timestamp', abcKeys, role2of3, md(sigBy(b)));
    assert.equal(r.verified, false);
    assert.deepEqual(r.signed, [b.keyId]);
    assert.deepEqual(r.missing, [a.keyId, c.keyId]);
  });

  it('attack: one key listed under two key ids with a signature under each counts once', () => {
    const aliasId = new Key({ keytype: 'ed25519', scheme: 'ed25519', publicValue: a.key.publicValue, unrecognized: { alias: true } }).keyId();
    const keys = keysOf([a.keyId, a.key], [aliasId, a.key]);
    const role = new Role([a.keyId, aliasId], 2);
    const r = checkThreshold('root', keys, role, md(sigBy(a), sigBy(a, aliasId)));
    assert.equal(r.verified, false);
    assert.deepEqual(r.signed, [a.keyId]);
    assert.deepEqual(r.missing, [aliasId]);
    assert.deepEqual(r.invalid, []);
    throwsCode(() => verifyThreshold('root', keys, role, md(sigBy(a), sigBy(a, aliasId))), 'UNSIGNED_METADATA', '1 of 2');
  });

  it('attack: the same key id listed twice in a role (built in code) counts once', () => {
    const role = new Role([a.keyId, a.keyId], 2);
    assert.equal(checkThreshold('root', abcKeys, role, md(sigBy(a))).verified, false);
  });

  it('attack: the same ECDSA key as PEM and as a hex point under two ids counts once', () => {
    const der = createPublicKey(ec.privateKey).export({ type: 'spki', format: 'der' });
    const hexKey = new Key({ keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', publicValue: der.subarray(der.length - 65).toString('hex') });
    const hexId = hexKey.keyId();
    assert.notEqual(hexId, ec.keyId);
    const keys = keysOf([ec.keyId, ec.key], [hexId, hexKey]);
    const role = new Role([ec.keyId, hexId], 2);
    const r = checkThreshold('targets', keys, role, md(sigBy(ec), sigBy(ec, hexId)));
    assert.equal(r.verified, false);
    assert.equal(r.signed.length, 1);
    // Either encoding alone verifies, so each is a real key; together they are one.
    assert.ok(checkThreshold('targets', keys, new Role([hexId], 1), md(sigBy(ec, hexId))).verified);
  });

  it('the same key under a second id still counts when the first id carries a bad signature', () => {
    const aliasId = 'ab'.repeat(32);
    const keys = keysOf([a.keyId, a.key], [aliasId, a.key]);
    const r = checkThreshold('root', keys, new Role([a.keyId, aliasId], 1), md(new Signature(a.keyId, '00'.repeat(64)), sigBy(a, aliasId)));
    assert.equal(r.verified, true);
    assert.deepEqual(r.invalid, [a.keyId]);
    assert.deepEqual(r.signed, [aliasId]);
  });

  it('attack: a repeated signature (duplicate key id in the envelope) is rejected on parse', () => {
    const one = md(sigBy(a));
    const json = one.toJSON();
    const sigs = json['signatures'] as unknown[];
    const text = JSON.stringify({ ...json, signatures: [...sigs, ...sigs] });
    throwsCode(() => Metadata.fromBytes(text, 'timestamp'), 'FORMAT', 'signed twice');
  });

  it('a valid signature by a key outside the role is ignored', () => {
    const r = checkThreshold('timestamp', abcKeys, role2of3, md(sigBy(a), sigBy(outsider)));
    assert.equal(r.verified, false);
    assert.deepEqual(r.signed, [a.keyId]);
    assert.ok(!r.signed.includes(outsider.keyId) && !r.missing.includes(outsider.keyId) && !r.invalid.includes(outsider.keyId));
  });

  it('an outsider signature filed under a role key id is invalid', () => {
    const r = checkThreshold('timestamp', abcKeys, role2of3, md(sigBy(a), new Signature(b.keyId, outsider.sign(DATA))));
    assert.equal(r.verified, false);
    assert.deepEqual(r.invalid, [b.keyId]);
  });

  it('an invalid signature is reported in invalid and named in the error', () => {
    const r = checkThreshold('timestamp', abcKeys, role2of3, md(sigBy(a), new Signature(c.keyId, c.sign(bytesOf('other data')))));
    assert.deepEqual(r.invalid, [c.keyId]);
    assert.ok(r.missing.includes(c.keyId));
    throwsCode(() => verifyThreshold('timestamp', abcKeys, role2of3, md(sigBy(a), new Signature(c.keyId, ''))),
      'UNSIGNED_METADATA', 'invalid signatures from', c.keyId);
  });

  it('a role key id without a key entry is missing, not counted', () => {
    const keys = keysOf([a.keyId, a.key]);
    const r = checkThreshold('timestamp', keys, new Role([a.keyId, b.keyId], 2), md(sigBy(a), sigBy(b)));
    assert.equal(r.verified, false);
    assert.deepEqual(r.missing, [b.keyId]);
  });

  it('a key entry with malformed material never counts', () => {
    const broken = new Key({ keytype: 'ed25519', scheme: 'ed25519', publicValue: 'zz' });
    const keys = keysOf([a.keyId, broken]);
    const r = checkThreshold('timestamp', keys, new Role([a.keyId], 1), md(sigBy(a)));
    assert.equal(r.verified, false);
    assert.deepEqual(r.invalid, [a.keyId]);
  });

  it('signatures are over the canonical signed bytes: a changed signed part fails', () => {
    const other = new Timestamp({ specVersion: SPEC_VERSION, version: 2, expires: '2031-01-01T00:00:00Z', snapshotMeta: new MetaFile({ version: 1 }) });
    const replayed = new Metadata(other, [sigBy(a), sigBy(b)]);
    throwsCode(() => verifyThreshold('timestamp', abcKeys, role2of3, replayed), 'UNSIGNED_METADATA', '0 of 2');
  });

  it('mixed schemes count toward one threshold', () => {
    const keys = keysOf([a.keyId, a.key], [ec.keyId, ec.key]);
    assert.ok(verifyThreshold('root', keys, new Role([a.keyId, ec.keyId], 2), md(sigBy(a), sigBy(ec))).verified);
  });
});

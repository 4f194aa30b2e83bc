import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { canonicalize as tufCanonicalize } from '@tufjs/canonical-json';
import { Metadata as TufMetadata, MetadataKind } from '@tufjs/models';
import { Key, PrivateKeySigner, SCHEMES, expectScheme, generateSigner, keyFromPublicKeyObject } from '../src/keys.js';
import type { Scheme } from '../src/keys.js';
import { Metadata } from '../src/metadata.js';
import { Role } from '../src/signed.js';
import { Root } from '../src/root.js';
import { NOW, bytesOf, throwsCode } from './helpers.js';

// Key generation is slow for RSA: one key per kind for the whole file.
const ed = generateSigner('ed25519');
const ec = generateSigner('ecdsa-sha2-nistp256');
const rsa = generateSigner('rsassa-pss-sha256', 2048);
const ed2 = generateSigner('ed25519');
const ec2 = generateSigner('ecdsa-sha2-nistp256');
const DATA = bytesOf('{"signed":"payload"}');

/** The 65-byte uncompressed P-256 point (hex) of an EC SPKI public key. */
function ecPointHex(pub: KeyObject): string {
  const der = pub.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 65).toString('hex');
}

function pemOf(k: KeyObject): string {
  return k.export({ type: 'spki', format: 'pem' }).toString();
}

const ecPub = createPublicKey(ec.privateKey);
const ecHexKey = new Key({ keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', publicValue: ecPointHex(ecPub) });
const ecLegacyPemKey = new Key({ keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', publicValue: pemOf(ecPub) });

describe('keys: sign and verify round trip', () => {
  for (const [name, s] of [['ed25519', ed], ['ecdsa (PEM)', ec], ['rsassa-pss-sha256 (PEM)', rsa]] as const) {
    it(`${name}: a signature verifies, also after a JSON round trip of the key`, () => {
      const sig = s.sign(DATA);
      assert.ok(s.key.verify(DATA, sig));
      assert.ok(Key.fromJSON(JSON.parse(JSON.stringify(s.key.toJSON()))).verify(DATA, sig));
    });
  }

  it('ed25519 keys are 32-byte hex, signatures 64 bytes', () => {
    assert.match(ed.key.publicValue, /^[0-9a-f]{64}$/);
    assert.equal(ed.sign(DATA).length, 128);
  });

  it('ecdsa signatures verify under legacy keytype "ecdsa-sha2-nistp256" with PEM and with a hex point', () => {
    const sig = ec.sign(DATA);
    assert.ok(ecLegacyPemKey.verify(DATA, sig));
    assert.ok(ecHexKey.verify(DATA, sig));
    assert.ok(new Key({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicValue: ecPointHex(ecPub) }).verify(DATA, sig));
  });

  it('ecdsa signatures are DER over SHA-256 (node:crypto agrees)', () => {
    const sig = ec.sign(DATA);
    assert.ok(cryptoVerify('sha256', DATA, { key: ecPub, dsaEncoding: 'der' }, Buffer.from(sig, 'hex')));
  });

  it('rsa signs with PSS salt length = digest length (as securesystemslib)', () => {
    const sig = Buffer.from(rsa.sign(DATA), 'hex');
    const pub = createPublicKey(rsa.privateKey);
    assert.ok(cryptoVerify('sha256', DATA, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig));
    // 2048-bit modulus: the maximum salt is 256 - 32 - 2 = 222 bytes.
    assert.ok(!cryptoVerify('sha256', DATA, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 222 }, sig));
  });

  it('rsa accepts a PSS signature with the maximum salt length (salt length AUTO on verify)', () => {
    const sig = cryptoSign('sha256', DATA, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN });
    assert.ok(rsa.key.verify(DATA, sig.toString('hex')));
  });

  it('rsa rejects a PKCS#1 v1.5 signature (wrong padding)', () => {
    const sig = cryptoSign('sha256', DATA, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PADDING });
    assert.equal(rsa.key.verify(DATA, sig.toString('hex')), false);
  });

  it('generateSigner defaults to ed25519; fromPrivateKey derives the same key', () => {
    assert.equal(generateSigner().key.scheme, 'ed25519');
    const again = PrivateKeySigner.fromPrivateKey(ec.privateKey, 'ecdsa-sha2-nistp256');
    assert.equal(again.keyId, ec.keyId);
    assert.equal(ec.key.keytype, 'ecdsa');
    assert.equal(rsa.key.keytype, 'rsa');
  });
});

describe('keys: verification failures are false, never exceptions', () => {
  const cases: [string, Key, string][] = [];
  for (const [name, s] of [['ed25519', ed], ['ecdsa', ec], ['rsa', rsa]] as const) {
    const good = s.sign(DATA);
    cases.push(
      [`${name}: garbage hex`, s.key, 'zz'.repeat(32)],
      [`${name}: odd-length hex`, s.key, good.slice(1)],
      [`${name}: empty signature`, s.key, ''],
      [`${name}: truncated signature`, s.key, good.slice(0, good.length - 2)],
      [`${name}: extended signature`, s.key, `${good}00`],
      [`${name}: random bytes`, s.key, 'a5'.repeat(good.length / 2)],
      [`${name}: all zeros`, s.key, '00'.repeat(good.length / 2)],
      [`${name}: signature with a flipped bit`, s.key, (parseInt(good.slice(0, 2), 16) ^ 1).toString(16).padStart(2, '0') + good.slice(2)],
    );
  }
  for (const [name, key, sig] of cases) {
    it(name, async () => {
      assert.equal(key.verify(DATA, sig), false);
      // The thread-pool form gives the same answer.
      assert.equal(await key.verifyAsync(DATA, sig), false);
    });
  }

  it('verifyAsync (thread pool) accepts exactly what verify accepts', async () => {
    for (const s of [ed, ec, rsa]) {
      const good = s.sign(DATA);
      assert.equal(await s.key.verifyAsync(DATA, good), true);
      assert.equal(await s.key.verifyAsync(bytesOf('other'), good), false);
    }
    assert.equal(await ed2.key.verifyAsync(DATA, ed.sign(DATA)), false);
    assert.equal(await ec2.key.verifyAsync(DATA, ec.sign(DATA)), false);
    assert.equal(await ecHexKey.verifyAsync(DATA, ec.sign(DATA)), true);
    assert.equal(await ecLegacyPemKey.verifyAsync(DATA, ec.sign(DATA)), true);
  });

  it('a valid signature does not verify other data', () => {
    for (const s of [ed, ec, rsa]) assert.equal(s.key.verify(bytesOf('other'), s.sign(DATA)), false);
  });

  it('a valid signature does not verify under another key of the same scheme', () => {
    assert.equal(ed2.key.verify(DATA, ed.sign(DATA)), false);
    assert.equal(ec2.key.verify(DATA, ec.sign(DATA)), false);
  });

  it('an ed25519 signature does not verify under a key whose scheme field was changed', () => {
    const k = new Key({ keytype: 'ed25519', scheme: 'ecdsa-sha2-nistp256', publicValue: ed.key.publicValue });
    assert.equal(k.keyObject(), null);
    assert.equal(k.verify(DATA, ed.sign(DATA)), false);
  });
});

describe('keys: malformed or weak key material', () => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const edPem = pemOf(createPublicKey(ed.privateKey));
  const bad: [string, Key][] = [
    ['ed25519: non-hex', new Key({ keytype: 'ed25519', scheme: 'ed25519', publicValue: 'zz'.repeat(32) })],
    ['ed25519: 31 bytes', new Key({ keytype: 'ed25519', scheme: 'ed25519', publicValue: 'ab'.repeat(31) })],
    ['ed25519: 33 bytes', new Key({ keytype: 'ed25519', scheme: 'ed25519', publicValue: 'ab'.repeat(33) })],
    ['ed25519: empty', new Key({ keytype: 'ed25519', scheme: 'ed25519', publicValue: '' })],
    ['ed25519: PEM instead of hex', new Key({ keytype: 'ed25519', scheme: 'ed25519', publicValue: edPem })],
    ['ecdsa: garbage PEM', new Key({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicValue: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' })],
    ['ecdsa: ed25519 PEM', new Key({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicValue: edPem })],
    ['ecdsa: compressed point', new Key({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicValue: `02${ecPointHex(ecPub).slice(2, 66)}` })],
    ['ecdsa: 65 bytes not starting 04', new Key({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicValue: `05${ecPointHex(ecPub).slice(2)}` })],
    ['ecdsa: point not on the curve', new Key({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicValue: `04${'11'.repeat(64)}` })],
    ['ecdsa: P-384 key', new Key({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicValue: pemOf(p384.publicKey) })],
    ['ecdsa: unknown keytype', new Key({ keytype: 'ec', scheme: 'ecdsa-sha2-nistp256', publicValue: pemOf(ecPub) })],
    ['rsa: RSA-1024 key', new Key({ keytype: 'rsa', scheme: 'rsassa-pss-sha256', publicValue: pemOf(rsa1024.publicKey) })],
    ['rsa: EC PEM', new Key({ keytype: 'rsa', scheme: 'rsassa-pss-sha256', publicValue: pemOf(ecPub) })],
    ['rsa: not PEM', new Key({ keytype: 'rsa', scheme: 'rsassa-pss-sha256', publicValue: 'hello' })],
    ['unknown scheme', new Key({ keytype: 'rsa', scheme: 'rsassa-pkcs1v15-sha256', publicValue: rsa.key.publicValue })],
  ];
  for (const [name, k] of bad) {
    it(`${name}: keyObject() is null and nothing verifies`, () => {
      assert.equal(k.keyObject(), null);
      assert.equal(k.verify(DATA, ed.sign(DATA)), false);
      assert.equal(k.verify(DATA, ec.sign(DATA)), false);
      assert.ok(k.identity().startsWith('unparsed:'));
    });
  }

  it('signatures by a P-384 key are not accepted even under a P-384 key entry', () => {
    const k = new Key({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicValue: pemOf(p384.publicKey) });
    const sig = cryptoSign('sha256', DATA, { key: p384.privateKey, dsaEncoding: 'der' }).toString('hex');
    assert.equal(k.verify(DATA, sig), false);
  });

  it('signatures by an RSA-1024 key are not accepted', () => {
    const k = new Key({ keytype: 'rsa', scheme: 'rsassa-pss-sha256', publicValue: pemOf(rsa1024.publicKey) });
    const sig = cryptoSign('sha256', DATA, { key: rsa1024.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING }).toString('hex');
    assert.equal(k.verify(DATA, sig), false);
  });

  it('Key.fromJSON names the missing or mistyped field', () => {
    throwsCode(() => Key.fromJSON(null), 'FORMAT', 'key: expected an object');
    throwsCode(() => Key.fromJSON({ keytype: 'ed25519', scheme: 'ed25519' }), 'FORMAT', 'key.keyval');
    throwsCode(() => Key.fromJSON({ keytype: 'ed25519', scheme: 'ed25519', keyval: {} }), 'FORMAT', 'key.keyval.public');
    throwsCode(() => Key.fromJSON({ keytype: 1, scheme: 'ed25519', keyval: { public: 'ab' } }), 'FORMAT', 'key.keytype');
    throwsCode(() => Key.fromJSON({ keytype: 'ed25519', scheme: null, keyval: { public: 'ab' } }, 'k'), 'FORMAT', 'k.scheme');
  });

  it('keyFromPublicKeyObject rejects a key of another type with a USAGE error', () => {
    throwsCode(() => keyFromPublicKeyObject(ecPub, 'ed25519'), 'USAGE');
    throwsCode(() => keyFromPublicKeyObject(createPublicKey(ed.privateKey), 'ecdsa-sha2-nistp256'), 'USAGE');
    throwsCode(() => keyFromPublicKeyObject(ecPub, 'rsassa-pss-sha256'), 'USAGE');
  });

  it('generateSigner and PrivateKeySigner.sign reject unknown schemes with USAGE', () => {
    throwsCode(() => generateSigner('dsa' as Scheme), 'USAGE');
    const odd = new PrivateKeySigner(new Key({ keytype: 'x', scheme: 'x', publicValue: 'ab' }), ed.privateKey);
    throwsCode(() => odd.sign(DATA), 'USAGE');
  });

  it('expectScheme accepts the three schemes only', () => {
    for (const s of SCHEMES) assert.equal(expectScheme(s), s);
    throwsCode(() => expectScheme('ecdsa-sha2-nistp384'), 'FORMAT');
  });
});

describe('keys: key ids and identity', () => {
  it('key id is sha256 of the canonical {keytype, scheme, keyval} (hand-written JSON)', () => {
    const text = `{"keytype":"ed25519","keyval":{"public":"${ed.key.publicValue}"},"scheme":"ed25519"}`;
    assert.equal(ed.keyId, createHash('sha256').update(text, 'utf8').digest('hex'));
  });

  it('key id matches an independent computation with @tufjs/canonical-json for every scheme', () => {
    for (const s of [ed, ec, rsa]) {
      const obj = { keytype: s.key.keytype, scheme: s.key.scheme, keyval: { public: s.key.publicValue } };
      assert.equal(s.key.keyId(), createHash('sha256').update(tufCanonicalize(obj)).digest('hex'));
    }
  });

  it('unknown fields in the key and in keyval survive toJSON and change the key id', () => {
    const json = {
      keytype: 'ed25519', scheme: 'ed25519', keyid_hash_algorithms: ['sha256', 'sha512'],
      keyval: { public: ed.key.publicValue, private: '' }, x_vendor: { a: 1 },
    };
    const k = Key.fromJSON(json);
    assert.deepEqual(k.toJSON(), json);
    assert.notEqual(k.keyId(), ed.keyId);
    assert.equal(k.keyId(), createHash('sha256').update(tufCanonicalize(json)).digest('hex'));
    assert.equal(k.identity(), ed.key.identity());
    assert.ok(k.verify(DATA, ed.sign(DATA)));
  });

  it('identity() is equal for the PEM and hex encodings of one ECDSA key, though the ids differ', () => {
    assert.equal(ecHexKey.identity(), ec.key.identity());
    assert.equal(ecLegacyPemKey.identity(), ec.key.identity());
    assert.notEqual(ecHexKey.keyId(), ec.keyId);
  });

  it('identity() is equal for upper- and lower-case hex of one ed25519 key', () => {
    const upper = new Key({ keytype: 'ed25519', scheme: 'ed25519', publicValue: ed.key.publicValue.toUpperCase() });
    assert.equal(upper.identity(), ed.key.identity());
    assert.notEqual(upper.keyId(), ed.keyId);
  });

  it('identity() differs between different keys', () => {
    const ids = new Set([ed, ed2, ec, ec2, rsa].map((s) => s.key.identity()));
    assert.equal(ids.size, 5);
  });
});

describe('keys: interoperability with @tufjs/models', () => {
  it('tuf-js verifies a root signed here by ed25519, ecdsa and rsa keys (threshold 3)', () => {
    const signers = [ed, ec, rsa];
    const keys = new Map(signers.map((s) => [s.keyId, s.key]));
    const role = new Role(signers.map((s) => s.keyId), 3);
    const root = new Root({
      specVersion: '1.0.31', version: 1, expires: '2031-01-01T00:00:00Z', consistentSnapshot: true, keys,
      roles: new Map([['root', role], ['timestamp', role], ['snapshot', role], ['targets', role]]),
    });
    const md = Metadata.of(root, ...signers);
    const tuf = TufMetadata.fromJSON(MetadataKind.Root, JSON.parse(Buffer.from(md.toBytes()).toString('utf8')) as Parameters<typeof TufMetadata.fromJSON>[1]);
    assert.doesNotThrow(() => tuf.verifyDelegate('root', tuf));
    assert.ok(NOW < Date.parse(root.expires));
  });
});

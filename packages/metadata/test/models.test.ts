import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { canonicalize } from '../src/canonical.js';
import { FormatError, RepositoryError, SpecVersionError } from '../src/errors.js';
import { generateSigner } from '../src/keys.js';
import { Metadata, Signature } from '../src/metadata.js';
import { Root } from '../src/root.js';
import { MetaFile, Role, SPEC_VERSION, formatExpires, parseExpires } from '../src/signed.js';
import type { Signed } from '../src/signed.js';
import { TargetFile, checkLengthAndHashes } from '../src/targetfile.js';
import { Targets } from '../src/targets.js';
import type { Snapshot, Timestamp } from '../src/timestamp.js';
import { verifyThreshold } from '../src/threshold.js';
import { bytesOf, clone, sampleRepo, throwsCode, utf8 } from './helpers.js';

const ed = generateSigner('ed25519');
const ec = generateSigner('ecdsa-sha2-nistp256');
const KID = ed.keyId;
const DKID = ec.keyId;
const H = 'ab'.repeat(32);

type Obj = Record<string, unknown>;
type Path = readonly (string | number)[];

function parent(doc: unknown, path: Path): [Obj | unknown[], string | number] {
  let cur = doc;
  for (const p of path.slice(0, -1)) cur = (cur as Obj)[p as string];
  const last = path[path.length - 1];
  if (last === undefined) throw new Error('empty path');
  return [cur as Obj, last];
}

function setAt(doc: unknown, path: Path, value: unknown): void {
  const [o, k] = parent(doc, path);
  (o as Obj)[k as string] = value;
}

function delAt(doc: unknown, path: Path): void {
  const [o, k] = parent(doc, path);
  Reflect.deleteProperty(o, k);
}

function getAt(doc: unknown, path: Path): unknown {
  const [o, k] = parent(doc, path);
  return (o as Obj)[k as string];
}

/** Envelope around `signed`, signed by `signers` over the canonical bytes (unknown fields included). */
function envelope(signed: Obj, keyid: string, sig: string): Obj {
  return { x_envelope: { any: 'thing' }, signatures: [{ keyid, sig, x_sig: 1 }], signed };
}

function signedEnvelope(signed: Obj, signer = ed): Obj {
  return envelope(signed, signer.keyId, signer.sign(bytesOf(canonicalize(signed))));
}

function keyJSON(s: typeof ed): Obj {
  return { ...s.key.toJSON(), x_key: [1, 2] };
}

/** Hand-written metadata with unknown fields at every level. */
function handRoot(): Obj {
  const role = { keyids: [KID], threshold: 1, x_role: null };
  return signedEnvelope({
    _type: 'root', spec_version: '1.0.31', version: 1, expires: '2031-01-01T00:00:00Z', consistent_snapshot: true,
    x_signed: { nested: [1, 'two', { three: true }] },
    keys: { [KID]: { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: ed.key.publicValue, x_keyval: 'kv' }, x_key: true } },
    roles: { root: { ...role }, timestamp: { ...role }, snapshot: { ...role }, targets: { ...role } },
  });
}

function handTimestamp(): Obj {
  return signedEnvelope({
    _type: 'timestamp', spec_version: '1.0.31', version: 7, expires: '2030-01-02T00:00:00Z', x_signed: 'ts',
    meta: { 'snapshot.json': { version: 3, length: 10, hashes: { sha256: H, sha512: H + H }, x_meta: { m: 1 } } },
  });
}

function handSnapshot(): Obj {
  return signedEnvelope({
    _type: 'snapshot', spec_version: '1.0.31', version: 3, expires: '2030-01-08T00:00:00Z', x_signed: [],
    meta: { 'targets.json': { version: 2, x_meta: [] }, 'role1.json': { version: 5, length: 1, hashes: { sha256: H } } },
  });
}

function handTargets(): Obj {
  return signedEnvelope({
    _type: 'targets', spec_version: '1.0.31', version: 2, expires: '2030-04-01T00:00:00Z', x_signed: 0,
    targets: {
      'a/b.bin': { length: 3, hashes: { sha256: H }, custom: { hardwareIds: ['hw'], vendor: { x: 1 } }, x_target: {} },
      'c.bin': { length: 0, hashes: { sha512: H + H } },
    },
    delegations: {
      x_deleg: 'd',
      keys: { [DKID]: keyJSON(ec) },
      roles: [
        { name: 'role1', keyids: [DKID], threshold: 1, terminating: false, paths: ['a/*'], x_drole: 1 },
        { name: 'role2', keyids: [], threshold: 1, terminating: true, path_hash_prefixes: ['00', 'ff'] },
      ],
    },
  });
}

function handSuccinctTargets(): Obj {
  return signedEnvelope({
    _type: 'targets', spec_version: '1.0.31', version: 1, expires: '2030-04-01T00:00:00Z',
    targets: {},
    delegations: {
      keys: { [DKID]: keyJSON(ec) },
      succinct_roles: { keyids: [DKID], threshold: 1, bit_length: 4, name_prefix: 'bin', x_succinct: { s: 1 } },
      x_deleg: true,
    },
  });
}

type HandName = 'root' | 'timestamp' | 'snapshot' | 'targets' | 'succinct';
const HAND: Record<HandName, () => Obj> = {
  root: handRoot, timestamp: handTimestamp, snapshot: handSnapshot, targets: handTargets, succinct: handSuccinctTargets,
};

function parse(doc: unknown, expected?: 'root' | 'timestamp' | 'snapshot' | 'targets'): Metadata {
  return Metadata.fromBytes(JSON.stringify(doc), expected);
}

function assertRoundTrip(md: Metadata, original: Obj): void {
  const signed = original['signed'];
  assert.equal(canonicalize(md.signed.toJSON()), canonicalize(signed), 'model toJSON must match the signed JSON');
  assert.equal(canonicalize(md.toJSON()), canonicalize(original), 'envelope toJSON must match');
  assert.equal(utf8(md.signedBytes()), canonicalize(signed));
  // A fresh envelope around the model signs exactly the same bytes.
  assert.equal(utf8(Metadata.of(md.signed).signedBytes()), canonicalize(signed));
  // Serialised bytes parse back to the same thing.
  assert.equal(canonicalize(Metadata.fromBytes(md.toBytes()).toJSON()), canonicalize(original));
}

describe('models: round trip keeps every byte that was signed', () => {
  for (const [name, make] of Object.entries(HAND)) {
    it(`${name}: hand-written file with unknown fields at every level re-serialises byte-identically`, () => {
      const doc = make();
      const md = parse(doc);
      assertRoundTrip(md, doc);
    });
  }

  it('unknown fields are covered by the signatures', () => {
    const doc = handRoot();
    const md = parse(doc, 'root') as Metadata<Root>;
    verifyThreshold('root', md.signed.keys, md.signed.role('root'), md);
    setAt(doc, ['signed', 'x_signed', 'nested', 0], 2);
    const tampered = parse(doc, 'root');
    throwsCode(() => verifyThreshold('root', md.signed.keys, md.signed.role('root'), tampered), 'UNSIGNED_METADATA');
  });

  it('every file a RepositoryBuilder publishes round-trips', () => {
    const { repo } = sampleRepo();
    assert.ok(repo.files.size >= 8);
    for (const [name, bytes] of repo.files) {
      const original = JSON.parse(utf8(bytes)) as Obj;
      const md = Metadata.fromBytes(bytes);
      assertRoundTrip(md, original);
      assert.equal(`${md.signed.type}`, (original['signed'] as Obj)['_type'], name);
    }
  });

  it('parsed models expose typed fields', () => {
    const root = parse(handRoot(), 'root') as Metadata<Root>;
    assert.ok(root.signed instanceof Root);
    assert.equal(root.signed.consistentSnapshot, true);
    assert.deepEqual(root.signed.role('targets').keyids, [KID]);
    assert.deepEqual(root.signed.unrecognized, { x_signed: { nested: [1, 'two', { three: true }] } });
    const ts = parse(handTimestamp(), 'timestamp') as Metadata<Timestamp>;
    assert.equal(ts.signed.snapshotMeta.version, 3);
    assert.equal(ts.signed.snapshotMeta.length, 10);
    const sn = parse(handSnapshot(), 'snapshot') as Metadata<Snapshot>;
    assert.deepEqual([...sn.signed.meta.keys()], ['targets.json', 'role1.json']);
    assert.equal(sn.signed.meta.get('targets.json')?.length, undefined);
    const tg = parse(handTargets(), 'targets') as Metadata<Targets>;
    assert.equal(tg.signed.targets.get('a/b.bin')?.length, 3);
    assert.deepEqual(tg.signed.targets.get('a/b.bin')?.custom, { hardwareIds: ['hw'], vendor: { x: 1 } });
    assert.equal(tg.signed.delegations?.roles?.get('role2')?.terminating, true);
    assert.equal(tg.signatures.get(ed.keyId)?.unrecognized['x_sig'], 1);
  });

  it('an unknown field named "__proto__" survives the round trip', () => {
    const doc = handTargets();
    const text = JSON.stringify(doc).replace('"x_signed":0', '"__proto__":{"polluted":true},"x_signed":0');
    const original = JSON.parse(text) as Obj;
    const md = Metadata.fromBytes(text, 'targets');
    assertRoundTrip(md, original);
    assert.equal(({} as Obj)['polluted'], undefined);
  });

  it('a target path named "__proto__" survives the round trip', () => {
    const doc = handTargets();
    setAt(doc, ['signed', 'targets'], JSON.parse(`{"__proto__":{"length":1,"hashes":{"sha256":"${H}"}}}`));
    const md = parse(doc, 'targets') as Metadata<Targets>;
    assert.equal(md.signed.targets.get('__proto__')?.length, 1);
    assertRoundTrip(md, JSON.parse(JSON.stringify(doc)) as Obj);
  });
});

type Case = readonly [name: string, role: HandName, mutate: (doc: Obj) => void, code: string, part: string];

const del = (...path: Path) => (d: Obj): void => delAt(d, ['signed', ...path]);
const set = (value: unknown, ...path: Path) => (d: Obj): void => setAt(d, ['signed', ...path], value);

const CASES: readonly Case[] = [
  // common fields
  ['missing _type', 'root', del('_type'), 'FORMAT', '_type'],
  ['_type of another role', 'root', set('timestamp', '_type'), 'FORMAT', 'expected root metadata'],
  ['unknown _type', 'root', set('mirrors', '_type'), 'FORMAT', 'expected root metadata'],
  ['missing spec_version', 'root', del('spec_version'), 'FORMAT', 'signed.spec_version'],
  ['numeric spec_version', 'timestamp', set(1, 'spec_version'), 'FORMAT', 'signed.spec_version'],
  ['spec_version with one part', 'snapshot', set('1', 'spec_version'), 'FORMAT', 'signed.spec_version'],
  ['spec_version with four parts', 'snapshot', set('1.0.0.0', 'spec_version'), 'FORMAT', 'signed.spec_version'],
  ['spec_version with a letter', 'targets', set('1.0.x', 'spec_version'), 'FORMAT', 'signed.spec_version'],
  ['empty spec_version', 'targets', set('', 'spec_version'), 'FORMAT', 'signed.spec_version'],
  ['spec_version major 2', 'root', set('2.0.0', 'spec_version'), 'SPEC_VERSION', '2.0.0'],
  ['spec_version major 0', 'timestamp', set('0.9.0', 'spec_version'), 'SPEC_VERSION', '0.9.0'],
  ['missing version', 'root', del('version'), 'FORMAT', 'signed.version'],
  ['version 0', 'root', set(0, 'version'), 'FORMAT', 'signed.version'],
  ['negative version', 'timestamp', set(-1, 'version'), 'FORMAT', 'signed.version'],
  ['string version', 'snapshot', set('1', 'version'), 'FORMAT', 'signed.version'],
  ['fractional version', 'targets', set(1.5, 'version'), 'FORMAT', 'signed.version'],
  ['version beyond 2^53', 'targets', set(2 ** 53, 'version'), 'FORMAT', 'signed.version'],
  ['missing expires', 'root', del('expires'), 'FORMAT', 'signed.expires'],
  ['numeric expires', 'timestamp', set(1893456000, 'expires'), 'FORMAT', 'signed.expires'],
  ['expires without Z', 'snapshot', set('2030-01-01T00:00:00', 'expires'), 'FORMAT', 'signed.expires'],
  ['expires date only', 'targets', set('2030-01-01', 'expires'), 'FORMAT', 'signed.expires'],
  ['expires with an offset', 'targets', set('2030-01-01T00:00:00+00:00', 'expires'), 'FORMAT', 'signed.expires'],
  ['expires garbage', 'root', set('next tuesday', 'expires'), 'FORMAT', 'signed.expires'],
  ['expires month 13', 'root', set('2030-13-01T00:00:00Z', 'expires'), 'FORMAT', 'signed.expires'],
  // root
  ['root: missing keys', 'root', del('keys'), 'FORMAT', 'signed.keys: expected an object'],
  ['root: keys is an array', 'root', set([], 'keys'), 'FORMAT', 'signed.keys: expected an object'],
  ['root: key entry not an object', 'root', set('k', 'keys', KID), 'FORMAT', `signed.keys.${KID}: expected an object`],
  ['root: key without keytype', 'root', del('keys', KID, 'keytype'), 'FORMAT', `signed.keys.${KID}.keytype`],
  ['root: key without scheme', 'root', del('keys', KID, 'scheme'), 'FORMAT', `signed.keys.${KID}.scheme`],
  ['root: key without keyval', 'root', del('keys', KID, 'keyval'), 'FORMAT', `signed.keys.${KID}.keyval`],
  ['root: keyval without public', 'root', del('keys', KID, 'keyval', 'public'), 'FORMAT', `signed.keys.${KID}.keyval.public`],
  ['root: numeric public key', 'root', set(7, 'keys', KID, 'keyval', 'public'), 'FORMAT', `signed.keys.${KID}.keyval.public`],
  ['root: missing roles', 'root', del('roles'), 'FORMAT', 'signed.roles'],
  ['root: missing top-level role', 'root', del('roles', 'timestamp'), 'FORMAT', 'role "timestamp" missing'],
  ['root: missing root role', 'root', del('roles', 'root'), 'FORMAT', 'role "root" missing'],
  ['root: unknown role', 'root', set({ keyids: [], threshold: 1 }, 'roles', 'mirror'), 'FORMAT', 'unknown role "mirror"'],
  ['root: role not an object', 'root', set(1, 'roles', 'snapshot'), 'FORMAT', 'signed.roles.snapshot'],
  ['root: role without keyids', 'root', del('roles', 'root', 'keyids'), 'FORMAT', 'signed.roles.root.keyids'],
  ['root: keyids not strings', 'root', set([1], 'roles', 'root', 'keyids'), 'FORMAT', 'signed.roles.root.keyids[0]'],
  ['root: duplicate keyids in a role', 'root', set([KID, KID], 'roles', 'targets', 'keyids'), 'FORMAT', 'listed twice'],
  ['root: threshold 0', 'root', set(0, 'roles', 'root', 'threshold'), 'FORMAT', 'signed.roles.root.threshold'],
  ['root: threshold missing', 'root', del('roles', 'timestamp', 'threshold'), 'FORMAT', 'signed.roles.timestamp.threshold'],
  ['root: threshold a string', 'root', set('1', 'roles', 'root', 'threshold'), 'FORMAT', 'signed.roles.root.threshold'],
  ['root: consistent_snapshot not boolean', 'root', set('yes', 'consistent_snapshot'), 'FORMAT', 'signed.consistent_snapshot'],
  // timestamp
  ['timestamp: missing meta', 'timestamp', del('meta'), 'FORMAT', 'signed.meta'],
  ['timestamp: empty meta', 'timestamp', set({}, 'meta'), 'FORMAT', 'exactly snapshot.json'],
  ['timestamp: meta with an extra entry', 'timestamp', set({ version: 1 }, 'meta', 'targets.json'), 'FORMAT', 'exactly snapshot.json'],
  ['timestamp: meta names another file', 'timestamp', (d) => {
    setAt(d, ['signed', 'meta'], { 'snapshot2.json': getAt(d, ['signed', 'meta', 'snapshot.json']) });
  }, 'FORMAT', 'exactly snapshot.json'],
  ['timestamp: meta entry not an object', 'timestamp', set([], 'meta', 'snapshot.json'), 'FORMAT', 'signed.meta.snapshot.json'],
  ['timestamp: meta version missing', 'timestamp', del('meta', 'snapshot.json', 'version'), 'FORMAT', 'signed.meta.snapshot.json.version'],
  ['timestamp: meta version 0', 'timestamp', set(0, 'meta', 'snapshot.json', 'version'), 'FORMAT', 'signed.meta.snapshot.json.version'],
  ['timestamp: negative length', 'timestamp', set(-1, 'meta', 'snapshot.json', 'length'), 'FORMAT', 'signed.meta.snapshot.json.length'],
  ['timestamp: string length', 'timestamp', set('10', 'meta', 'snapshot.json', 'length'), 'FORMAT', 'signed.meta.snapshot.json.length'],
  ['timestamp: empty hashes', 'timestamp', set({}, 'meta', 'snapshot.json', 'hashes'), 'FORMAT', 'at least one hash'],
  ['timestamp: hashes an array', 'timestamp', set([H], 'meta', 'snapshot.json', 'hashes'), 'FORMAT', 'signed.meta.snapshot.json.hashes'],
  ['timestamp: non-hex hash', 'timestamp', set({ sha256: 'xyz' }, 'meta', 'snapshot.json', 'hashes'), 'FORMAT', 'signed.meta.snapshot.json.hashes.sha256'],
  ['timestamp: odd-length hash', 'timestamp', set({ sha256: 'abc' }, 'meta', 'snapshot.json', 'hashes'), 'FORMAT', 'hashes.sha256'],
  ['timestamp: empty hash', 'timestamp', set({ sha256: '' }, 'meta', 'snapshot.json', 'hashes'), 'FORMAT', 'hashes.sha256'],
  ['timestamp: numeric hash', 'timestamp', set({ sha256: 12 }, 'meta', 'snapshot.json', 'hashes'), 'FORMAT', 'hashes.sha256'],
  // snapshot
  ['snapshot: without targets.json', 'snapshot', del('meta', 'targets.json'), 'FORMAT', 'must list targets.json'],
  ['snapshot: meta not an object', 'snapshot', set('m', 'meta'), 'FORMAT', 'signed.meta'],
  ['snapshot: delegated meta version a string', 'snapshot', set('5', 'meta', 'role1.json', 'version'), 'FORMAT', 'signed.meta.role1.json.version'],
  // targets
  ['targets: missing targets', 'targets', del('targets'), 'FORMAT', 'signed.targets'],
  ['targets: target entry null', 'targets', set(null, 'targets', 'c.bin'), 'FORMAT', 'signed.targets.c.bin'],
  ['targets: target without length', 'targets', del('targets', 'a/b.bin', 'length'), 'FORMAT', 'signed.targets.a/b.bin.length'],
  ['targets: target with float length', 'targets', set(1.5, 'targets', 'a/b.bin', 'length'), 'FORMAT', 'signed.targets.a/b.bin.length'],
  ['targets: target without hashes', 'targets', del('targets', 'a/b.bin', 'hashes'), 'FORMAT', 'signed.targets.a/b.bin.hashes'],
  ['targets: custom an array', 'targets', set([], 'targets', 'a/b.bin', 'custom'), 'FORMAT', 'signed.targets.a/b.bin.custom'],
  ['targets: custom null', 'targets', set(null, 'targets', 'a/b.bin', 'custom'), 'FORMAT', 'signed.targets.a/b.bin.custom'],
  ['targets: delegations an array', 'targets', set([], 'delegations'), 'FORMAT', 'signed.delegations: expected an object'],
  ['targets: delegations without keys', 'targets', del('delegations', 'keys'), 'FORMAT', 'signed.delegations.keys'],
  ['targets: delegation key id not hex', 'targets', set({ 'not-hex': keyJSON(ec) }, 'delegations', 'keys'), 'FORMAT', 'signed.delegations.keys (key id)'],
  ['targets: delegated key malformed', 'targets', del('delegations', 'keys', DKID, 'keyval'), 'FORMAT', `signed.delegations.keys.${DKID}.keyval`],
  ['targets: roles and succinct_roles both', 'targets', set({ keyids: [], threshold: 1, bit_length: 1, name_prefix: 'b' }, 'delegations', 'succinct_roles'), 'FORMAT', 'exactly one of roles and succinct_roles'],
  ['targets: neither roles nor succinct_roles', 'targets', del('delegations', 'roles'), 'FORMAT', 'exactly one of roles and succinct_roles'],
  ['targets: roles not an array', 'targets', set({}, 'delegations', 'roles'), 'FORMAT', 'signed.delegations.roles: expected an array'],
  ['targets: delegated role without name', 'targets', del('delegations', 'roles', 0, 'name'), 'FORMAT', 'signed.delegations.roles[0].name'],
  ['targets: delegated role named targets', 'targets', set('targets', 'delegations', 'roles', 0, 'name'), 'FORMAT', 'reserved'],
  ['targets: delegated role named root', 'targets', set('root', 'delegations', 'roles', 1, 'name'), 'FORMAT', 'reserved'],
  ['targets: delegated role named snapshot', 'targets', set('snapshot', 'delegations', 'roles', 0, 'name'), 'FORMAT', 'reserved'],
  ['targets: delegated role named timestamp', 'targets', set('timestamp', 'delegations', 'roles', 0, 'name'), 'FORMAT', 'reserved'],
  ['targets: duplicate delegated role names', 'targets', set('role1', 'delegations', 'roles', 1, 'name'), 'FORMAT', 'role "role1" listed twice'],
  ['targets: duplicate keyids in a delegated role', 'targets', set([DKID, DKID], 'delegations', 'roles', 0, 'keyids'), 'FORMAT', 'signed.delegations.roles[0].keyids'],
  ['targets: delegated threshold 0', 'targets', set(0, 'delegations', 'roles', 0, 'threshold'), 'FORMAT', 'signed.delegations.roles[0].threshold'],
  ['targets: terminating missing', 'targets', del('delegations', 'roles', 0, 'terminating'), 'FORMAT', 'signed.delegations.roles[0].terminating'],
  ['targets: terminating a string', 'targets', set('false', 'delegations', 'roles', 1, 'terminating'), 'FORMAT', 'signed.delegations.roles[1].terminating'],
  ['targets: paths a string', 'targets', set('a/*', 'delegations', 'roles', 0, 'paths'), 'FORMAT', 'signed.delegations.roles[0].paths: expected an array'],
  ['targets: paths with a number', 'targets', set(['a', 1], 'delegations', 'roles', 0, 'paths'), 'FORMAT', 'signed.delegations.roles[0].paths[1]'],
  ['targets: paths and path_hash_prefixes both', 'targets', set(['00'], 'delegations', 'roles', 0, 'path_hash_prefixes'), 'FORMAT', 'only one of paths and path_hash_prefixes'],
  ['targets: path_hash_prefixes with a number', 'targets', set([0], 'delegations', 'roles', 1, 'path_hash_prefixes'), 'FORMAT', 'signed.delegations.roles[1].path_hash_prefixes[0]'],
  ['succinct: bit_length 0', 'succinct', set(0, 'delegations', 'succinct_roles', 'bit_length'), 'FORMAT', 'signed.delegations.succinct_roles.bit_length'],
  ['succinct: bit_length 33', 'succinct', set(33, 'delegations', 'succinct_roles', 'bit_length'), 'FORMAT', 'succinct_roles.bit_length'],
  ['succinct: bit_length fractional', 'succinct', set(2.5, 'delegations', 'succinct_roles', 'bit_length'), 'FORMAT', 'succinct_roles.bit_length'],
  ['succinct: missing name_prefix', 'succinct', del('delegations', 'succinct_roles', 'name_prefix'), 'FORMAT', 'signed.delegations.succinct_roles.name_prefix'],
  ['succinct: missing keyids', 'succinct', del('delegations', 'succinct_roles', 'keyids'), 'FORMAT', 'signed.delegations.succinct_roles.keyids'],
  ['succinct: threshold 0', 'succinct', set(0, 'delegations', 'succinct_roles', 'threshold'), 'FORMAT', 'signed.delegations.succinct_roles.threshold'],
  ['succinct: not an object', 'succinct', set([], 'delegations', 'succinct_roles'), 'FORMAT', 'signed.delegations.succinct_roles'],
  // envelope
  ['envelope: missing signatures', 'root', (d) => delAt(d, ['signatures']), 'FORMAT', 'signatures: expected an array'],
  ['envelope: signatures an object', 'timestamp', (d) => setAt(d, ['signatures'], {}), 'FORMAT', 'signatures: expected an array'],
  ['envelope: signature not an object', 'snapshot', (d) => setAt(d, ['signatures', 0], 'sig'), 'FORMAT', 'signatures[0]: expected an object'],
  ['envelope: signature without keyid', 'targets', (d) => delAt(d, ['signatures', 0, 'keyid']), 'FORMAT', 'signatures[0].keyid'],
  ['envelope: signature without sig', 'targets', (d) => delAt(d, ['signatures', 0, 'sig']), 'FORMAT', 'signatures[0].sig'],
  ['envelope: non-hex sig', 'root', (d) => setAt(d, ['signatures', 0, 'sig'], 'xyz'), 'FORMAT', 'signatures[0].sig: expected a hex string'],
  ['envelope: odd-length sig', 'root', (d) => setAt(d, ['signatures', 0, 'sig'], 'abc'), 'FORMAT', 'signatures[0].sig'],
  ['envelope: numeric sig', 'root', (d) => setAt(d, ['signatures', 0, 'sig'], 12), 'FORMAT', 'signatures[0].sig'],
  ['envelope: duplicate signature key ids', 'root', (d) => {
    const sigs = d['signatures'] as unknown[];
    sigs.push(clone(sigs[0]));
  }, 'FORMAT', 'signed twice'],
  ['envelope: duplicate signature key ids with different sigs', 'timestamp', (d) => {
    const sigs = d['signatures'] as Obj[];
    sigs.push({ keyid: KID, sig: '00' });
  }, 'FORMAT', 'signed twice'],
  ['envelope: missing signed', 'root', (d) => delAt(d, ['signed']), 'FORMAT', 'signed: expected an object'],
  ['envelope: signed an array', 'root', (d) => setAt(d, ['signed'], []), 'FORMAT', 'signed: expected an object'],
  // canonical JSON constraints on unknown fields
  ['float in an unknown field', 'targets', set(1.5, 'x_signed'), 'CANONICAL_JSON', 'safe integer'],
  ['huge integer in an unknown field', 'snapshot', set(2 ** 60, 'x_signed'), 'CANONICAL_JSON', 'safe integer'],
  ['lone surrogate in an unknown field', 'root', set('\uD800', 'x_signed'), 'CANONICAL_JSON', 'surrogate'],
];

describe('models: malformed metadata is a coded RepositoryError naming the path', () => {
  for (const [name, role, mutate, code, part] of CASES) {
    it(name, () => {
      const make = HAND[role];
      assert.ok(make !== undefined);
      const doc = make();
      mutate(doc);
      const expected = role === 'succinct' ? 'targets' : role;
      const err = throwsCode(() => parse(doc, expected), code, part);
      assert.ok(err instanceof RepositoryError);
      if (code === 'FORMAT') assert.ok(err instanceof FormatError);
      if (code === 'SPEC_VERSION') assert.ok(err instanceof SpecVersionError);
    });
  }

  it('_type mismatch is caught by the model itself', () => {
    const ts = handTimestamp()['signed'];
    throwsCode(() => Root.fromJSON(ts), 'FORMAT', 'signed._type: expected "root", got "timestamp"');
    throwsCode(() => Targets.fromJSON(ts), 'FORMAT', 'signed._type: expected "targets"');
  });

  it('an unknown _type without an expected role is a FormatError', () => {
    const doc = handRoot();
    setAt(doc, ['signed', '_type'], 'mirrors');
    throwsCode(() => parse(doc), 'FORMAT', 'unknown type "mirrors"');
  });

  it('a _type replaced by a deeply nested array is a FormatError, not a RangeError', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const text = JSON.stringify(handRoot()).replace('"_type":"root"', `"_type":${deep}`);
    throwsCode(() => Metadata.fromBytes(text, 'root'), 'FORMAT', '_type');
    throwsCode(() => Metadata.fromBytes(text), 'FORMAT', '_type');
  });

  it('deep nesting in an unknown field is a CANONICAL_JSON error, not a RangeError', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const text = JSON.stringify(handSnapshot()).replace('"x_signed":[]', `"x_signed":${deep}`);
    throwsCode(() => Metadata.fromBytes(text, 'snapshot'), 'CANONICAL_JSON');
  });

  it('bytes that are not JSON are a FormatError', () => {
    throwsCode(() => Metadata.fromBytes(bytesOf('{"signed":'), 'root'), 'FORMAT', 'not valid JSON');
    throwsCode(() => Metadata.fromBytes(new Uint8Array([0xff, 0xfe, 0x00])), 'FORMAT', 'not valid JSON');
    throwsCode(() => Metadata.fromBytes(''), 'FORMAT', 'not valid JSON');
  });

  it('a JSON value that is not an object is a FormatError', () => {
    for (const v of ['[]', 'null', '1', '"root"']) throwsCode(() => Metadata.fromBytes(v), 'FORMAT', 'metadata: expected an object');
  });

  it('parses a Uint8Array view into a larger buffer correctly', () => {
    const text = JSON.stringify(handRoot());
    const big = Buffer.from(`xxxx${text}yyyy`, 'utf8');
    const view = new Uint8Array(big.buffer, big.byteOffset + 4, big.byteLength - 8);
    assert.equal(Metadata.fromBytes(view, 'root').signed.type, 'root');
  });

  it('Root rejects a missing role when constructed directly', () => {
    const role = new Role([KID], 1);
    assert.throws(() => new Root({
      specVersion: SPEC_VERSION, version: 1, expires: '2031-01-01T00:00:00Z', keys: new Map(),
      roles: new Map([['root', role], ['timestamp', role], ['snapshot', role]]),
    }), (e: unknown) => e instanceof FormatError && e.message.includes('"targets" missing'));
  });
});

describe('models: expires', () => {
  for (const s of ['2030-01-01T00:00:00Z', '2030-01-01T00:00:00.5Z', '2030-01-01T00:00:00.123Z', '2030-01-01T00:00:00.123456789Z', '1999-12-31T23:59:59Z']) {
    it(`accepts ${s}`, () => {
      assert.equal(parseExpires(s, 'x'), Date.parse(s));
      const doc = handTimestamp();
      setAt(doc, ['signed', 'expires'], s);
      assert.equal(parse(doc, 'timestamp').signed.expires, s);
    });
  }

  for (const s of ['2030-01-01T00:00:00', '2030-01-01', 'garbage', '', '2030-01-01T00:00:00z', '2030-01-01 00:00:00Z',
    '2030-01-01T00:00:00.Z', '2030-01-01T00:00:00.1234567890Z', '2030-01-01T00:00Z', '30-01-01T00:00:00Z',
    '+002030-01-01T00:00:00Z', '2030-01-01T00:00:00+01:00', '2030-01-01T00:00:60Z', ' 2030-01-01T00:00:00Z']) {
    it(`rejects ${JSON.stringify(s)}`, () => {
      throwsCode(() => parseExpires(s, 'where'), 'FORMAT', 'where');
    });
  }

  it('isExpired: the reference time equal to expires is expired, one millisecond before is not', () => {
    const md = parse(handTimestamp(), 'timestamp');
    const t = Date.parse('2030-01-02T00:00:00Z');
    assert.equal(md.signed.expiresMs, t);
    assert.equal(md.signed.isExpired(t - 1), false);
    assert.equal(md.signed.isExpired(t), true);
    assert.equal(md.signed.isExpired(t + 1), true);
  });

  it('isExpired honours fractional seconds', () => {
    const doc = handTimestamp();
    setAt(doc, ['signed', 'expires'], '2030-01-02T00:00:00.250Z');
    const md = parse(doc, 'timestamp');
    const t = Date.parse('2030-01-02T00:00:00Z');
    assert.equal(md.signed.isExpired(t + 249), false);
    assert.equal(md.signed.isExpired(t + 250), true);
  });

  it('formatExpires writes whole seconds in UTC', () => {
    assert.equal(formatExpires(Date.UTC(2030, 0, 1, 12, 30, 15, 999)), '2030-01-01T12:30:15Z');
    assert.equal(parseExpires(formatExpires(Date.UTC(2031, 5, 7)), 'x'), Date.UTC(2031, 5, 7));
  });
});

describe('models: Metadata envelope', () => {
  it('Metadata.of refuses something that is not a role model', () => {
    throwsCode(() => Metadata.of({ type: 'root' } as unknown as Signed), 'USAGE');
  });

  it('sign() adds or replaces a signature; withoutSignatures() drops them', () => {
    const root = parse(handRoot(), 'root') as Metadata<Root>;
    const plain = root.withoutSignatures();
    assert.equal(plain.signatures.size, 0);
    assert.equal(utf8(plain.signedBytes()), utf8(root.signedBytes()));
    const twice = plain.sign(ed).sign(ed, ec);
    assert.deepEqual([...twice.signatures.keys()].sort(), [ed.keyId, ec.keyId].sort());
    assert.ok(ed.key.verify(twice.signedBytes(), twice.signatures.get(ed.keyId)!.sig));
    assert.equal(plain.unrecognized['x_envelope'] !== undefined, true);
  });

  it('the constructor rejects two signatures by the same key id', () => {
    const ts = parse(handTimestamp(), 'timestamp');
    throwsCode(() => new Metadata(ts.signed, [new Signature('a', '00'), new Signature('a', '11')]), 'FORMAT', 'signed twice');
  });
});

describe('models: length and hash checks', () => {
  const data = bytesOf('hello');
  const sha256 = createHash('sha256').update(data).digest('hex');
  const sha512 = createHash('sha512').update(data).digest('hex');

  it('accepts matching length and hashes, in either case', () => {
    checkLengthAndHashes('f', data, 5, { sha256, sha512: sha512.toUpperCase() });
    checkLengthAndHashes('f', data, undefined, undefined);
    TargetFile.fromData('p', data).verify(data);
  });

  it('a length mismatch is LENGTH_MISMATCH', () => {
    throwsCode(() => checkLengthAndHashes('f', data, 6, { sha256 }), 'LENGTH_MISMATCH', 'expected 6 bytes, got 5');
  });

  it('a mismatch in any known hash is HASH_MISMATCH', () => {
    throwsCode(() => checkLengthAndHashes('f', data, 5, { sha256, sha512: '00'.repeat(64) }), 'HASH_MISMATCH', 'sha512');
    throwsCode(() => TargetFile.fromData('p', data).verify(bytesOf('hellO')), 'HASH_MISMATCH');
  });

  it('only unknown hash algorithms cannot be verified: HASH_MISMATCH', () => {
    throwsCode(() => checkLengthAndHashes('f', data, 5, { md5: 'ab' }), 'HASH_MISMATCH', 'no supported hash algorithm');
  });

  it('sameFileAs needs equal length and at least one common, equal hash', () => {
    const a = TargetFile.fromData('a', data);
    assert.ok(a.sameFileAs(new TargetFile({ path: 'b', length: 5, hashes: { sha256: sha256.toUpperCase() } })));
    assert.ok(!a.sameFileAs(new TargetFile({ path: 'b', length: 6, hashes: { sha256 } })));
    assert.ok(!a.sameFileAs(new TargetFile({ path: 'b', length: 5, hashes: { md5: 'ab' } })));
    assert.ok(!a.sameFileAs(new TargetFile({ path: 'b', length: 5, hashes: { sha256, sha512: '00' } })));
  });

  it('MetaFile omits absent length and hashes', () => {
    assert.deepEqual(new MetaFile({ version: 2 }).toJSON(), { version: 2 });
  });
});

describe('targets: parsing is linear in the number of targets', () => {
  const keys = new Map([[ed.keyId, ed.key]]);
  const role = new Role([ed.keyId], 1);

  /** A signed targets file with `n` targets, written directly as canonical JSON (paths sort as built). */
  function targetsBytes(n: number): Uint8Array {
    const entries: string[] = [];
    for (let i = 0; i < n; i++) {
      const path = `ecu-${String(i % 97).padStart(2, '0')}/image-${String(i).padStart(6, '0')}.bin`;
      entries.push(`"${path}":{"custom":{"releaseCounter":${i}},"hashes":{"sha256":"${H}"},"length":${i}}`);
    }
    entries.sort();
    const signed = `{"_type":"targets","expires":"2031-01-01T00:00:00Z","spec_version":"1.0.31","targets":{${entries.join(',')}},"version":1}`;
    const sig = ed.sign(bytesOf(signed));
    return bytesOf(`{"signatures":[{"keyid":"${ed.keyId}","sig":"${sig}"}],"signed":${signed}}`);
  }

  function parseAndVerify(bytes: Uint8Array, n: number): number {
    const t0 = performance.now();
    const md = Metadata.fromBytes(bytes, 'targets');
    verifyThreshold('targets', keys, role, md);
    const ms = performance.now() - t0;
    assert.equal(md.signed.targets.size, n);
    return ms;
  }

  it('100,000 targets parse and verify in less than 30x the time of 10,000', (t) => {
    const small = targetsBytes(10_000);
    const large = targetsBytes(100_000);
    // Warm-up: JIT and heap growth for both sizes, then one measurement each.
    parseAndVerify(small, 10_000);
    parseAndVerify(large, 100_000);
    const tSmall = parseAndVerify(small, 10_000);
    const tLarge = parseAndVerify(large, 100_000);
    t.diagnostic(`10k: ${tSmall.toFixed(1)} ms, 100k: ${tLarge.toFixed(1)} ms`);
    assert.ok(tLarge < 30 * Math.max(tSmall, 1), `10k: ${tSmall.toFixed(1)} ms, 100k: ${tLarge.toFixed(1)} ms`);
  });
});

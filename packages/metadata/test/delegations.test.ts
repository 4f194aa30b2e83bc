import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalize } from '../src/canonical.js';
import { DelegatedRole, Delegations, SuccinctRoles } from '../src/delegations.js';
import { generateSigner } from '../src/keys.js';
import { rand, seedFrom, throwsCode } from './helpers.js';

const signer = generateSigner('ed25519');
const KID = signer.keyId;
const keys = new Map([[KID, signer.key]]);

function dr(name: string, opts: { paths?: string[]; pathHashPrefixes?: string[]; terminating?: boolean } = {}): DelegatedRole {
  return new DelegatedRole({ name, keyids: [KID], threshold: 1, terminating: opts.terminating ?? false, paths: opts.paths, pathHashPrefixes: opts.pathHashPrefixes });
}

function sha256hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** Independent TAP 15 bin computation with BigInt arithmetic on the hex digest. */
function expectedBin(path: string, bitLength: number, prefix: string): string {
  const first32 = BigInt(`0x${sha256hex(path).slice(0, 8)}`);
  const bin = first32 >> BigInt(32 - bitLength);
  const suffixLength = ((1n << BigInt(bitLength)) - 1n).toString(16).length;
  return `${prefix}-${bin.toString(16).padStart(suffixLength, '0')}`;
}

describe('delegations: delegated roles by path pattern', () => {
  it('any of several patterns delegates a path', () => {
    const r = dr('ecu', { paths: ['ecu-a/*', 'ecu-b/*.bin'] });
    assert.ok(r.isDelegatedPath('ecu-a/x'));
    assert.ok(r.isDelegatedPath('ecu-b/y.bin'));
    assert.ok(!r.isDelegatedPath('ecu-b/y.img'));
    assert.ok(!r.isDelegatedPath('ecu-c/x'));
  });

  it('an empty paths list delegates nothing', () => {
    assert.ok(!dr('none', { paths: [] }).isDelegatedPath('a'));
  });

  it('a role with neither paths nor path_hash_prefixes delegates nothing', () => {
    assert.ok(!dr('neither').isDelegatedPath('anything'));
  });

  it('path_hash_prefixes match a prefix of the hex SHA-256 of the target path', () => {
    const path = 'ecu-a/app-2.0.bin';
    const h = sha256hex(path);
    assert.ok(dr('h', { pathHashPrefixes: [h.slice(0, 2)] }).isDelegatedPath(path));
    assert.ok(dr('h', { pathHashPrefixes: ['zz', h.slice(0, 5)] }).isDelegatedPath(path));
    assert.ok(dr('h', { pathHashPrefixes: [h] }).isDelegatedPath(path));
    const other = (parseInt(h[0]!, 16) ^ 1).toString(16);
    assert.ok(!dr('h', { pathHashPrefixes: [other] }).isDelegatedPath(path));
    assert.ok(!dr('h', { pathHashPrefixes: [] }).isDelegatedPath(path));
  });

  it('path_hash_prefixes hash the UTF-8 bytes of the path', () => {
    const path = 'ecu/é-\u{1F600}.bin';
    const h = createHash('sha256').update(Buffer.from(path, 'utf8')).digest('hex');
    assert.ok(dr('h', { pathHashPrefixes: [h.slice(0, 8)] }).isDelegatedPath(path));
  });

  it('paths and path_hash_prefixes together are rejected', () => {
    throwsCode(() => dr('both', { paths: ['a'], pathHashPrefixes: ['00'] }), 'FORMAT', 'only one of paths and path_hash_prefixes');
  });

  it('toJSON writes terminating, paths or path_hash_prefixes and keeps unknown fields', () => {
    const json = { name: 'r', keyids: [KID], threshold: 1, terminating: true, path_hash_prefixes: ['ab'], x: [1] };
    const r = DelegatedRole.fromJSON(json, 'role');
    assert.equal(canonicalize(r.toJSON()), canonicalize(json));
  });
});

describe('delegations: succinct hash-bin roles (TAP 15)', () => {
  const table = [
    { bitLength: 1, bins: 2, suffix: 1, last: 'bin-1' },
    { bitLength: 4, bins: 16, suffix: 1, last: 'bin-f' },
    { bitLength: 8, bins: 256, suffix: 2, last: 'bin-ff' },
    { bitLength: 13, bins: 8192, suffix: 4, last: 'bin-1fff' },
    { bitLength: 32, bins: 2 ** 32, suffix: 8, last: 'bin-ffffffff' },
  ];
  for (const { bitLength, bins, suffix, last } of table) {
    it(`bit_length ${bitLength}: ${bins} bins, suffix length ${suffix}, names bin-${'0'.repeat(suffix)}..${last}`, () => {
      const sr = new SuccinctRoles({ keyids: [KID], threshold: 1, bitLength, namePrefix: 'bin' });
      assert.equal(sr.numberOfBins, bins);
      assert.equal(sr.suffixLength, suffix);
      assert.equal(sr.binName(0), `bin-${'0'.repeat(suffix)}`);
      assert.equal(sr.binName(bins - 1), last);
      assert.ok(sr.isDelegatedRole(last));
      assert.ok(sr.isDelegatedRole(sr.binName(0)));
    });

    it(`bit_length ${bitLength}: roleForTarget agrees with an independent computation on 300 paths`, () => {
      const sr = new SuccinctRoles({ keyids: [KID], threshold: 1, bitLength, namePrefix: 'bin' });
      const seed = seedFrom(bitLength);
      const r = rand(seed);
      for (let i = 0; i < 300; i++) {
        const path = `ecu-${r.int(1000)}/image-${r.int(1e9)}${r.pick(['.bin', '.img', '-é', '/\u{1F600}'])}`;
        const name = sr.roleForTarget(path);
        assert.equal(name, expectedBin(path, bitLength, 'bin'), `seed ${seed}: ${path}`);
        assert.ok(sr.isDelegatedRole(name));
      }
    });
  }

  it('roleForTarget for a known vector (bit_length 8)', () => {
    const sr = new SuccinctRoles({ keyids: [KID], threshold: 1, bitLength: 8, namePrefix: 'delegated_role' });
    // sha256("") starts with e3b0c442: the first byte is the bin.
    assert.equal(sr.roleForTarget(''), 'delegated_role-e3');
  });

  it('isDelegatedRole edge cases', () => {
    const sr4 = new SuccinctRoles({ keyids: [], threshold: 1, bitLength: 4, namePrefix: 'bin' });
    for (const ok of ['bin-0', 'bin-9', 'bin-a', 'bin-f']) assert.ok(sr4.isDelegatedRole(ok), ok);
    for (const bad of ['bin-g', 'bin-F', 'bin-00', 'bin-', 'bin', 'bin0', 'bim-0', 'xbin-0', 'bin--', 'bin- ', ' bin-0', 'bin-0 ', 'BIN-0', '']) {
      assert.ok(!sr4.isDelegatedRole(bad), bad);
    }
    const sr1 = new SuccinctRoles({ keyids: [], threshold: 1, bitLength: 1, namePrefix: 'bin' });
    assert.ok(sr1.isDelegatedRole('bin-1'));
    assert.ok(!sr1.isDelegatedRole('bin-2'));
    assert.ok(!sr1.isDelegatedRole('bin-f'));
    const sr13 = new SuccinctRoles({ keyids: [], threshold: 1, bitLength: 13, namePrefix: 'bin' });
    assert.ok(sr13.isDelegatedRole('bin-1fff'));
    assert.ok(!sr13.isDelegatedRole('bin-2000'));
    assert.ok(!sr13.isDelegatedRole('bin-fff'));
    const dashed = new SuccinctRoles({ keyids: [], threshold: 1, bitLength: 8, namePrefix: 'a-b' });
    assert.ok(dashed.isDelegatedRole('a-b-0f'));
    assert.ok(!dashed.isDelegatedRole('a-0f'));
  });

  for (const bitLength of [0, 33, 1.5, -1]) {
    it(`bit_length ${bitLength} is rejected`, () => {
      throwsCode(() => new SuccinctRoles({ keyids: [], threshold: 1, bitLength, namePrefix: 'bin' }), 'FORMAT', 'bit_length');
    });
  }

  it('toJSON keeps unknown fields', () => {
    const json = { keyids: [KID], threshold: 2, bit_length: 5, name_prefix: 'p', x_custom: { a: 1 } };
    assert.equal(canonicalize(SuccinctRoles.fromJSON(json, 's').toJSON()), canonicalize(json));
  });
});

describe('delegations: the Delegations object', () => {
  it('rolesForTarget yields matching roles in listed order with their terminating flags', () => {
    const d = new Delegations({
      keys,
      roles: [
        dr('wide', { paths: ['ecu-a/*'] }),
        dr('narrow', { paths: ['ecu-a/x*'], terminating: true }),
        dr('other', { paths: ['ecu-b/*'] }),
        dr('wide-again', { paths: ['*/*'] }),
      ],
    });
    assert.deepEqual([...d.rolesForTarget('ecu-a/xyz')], [
      { name: 'wide', terminating: false },
      { name: 'narrow', terminating: true },
      { name: 'wide-again', terminating: false },
    ]);
    assert.deepEqual([...d.rolesForTarget('ecu-b/q')], [{ name: 'other', terminating: false }, { name: 'wide-again', terminating: false }]);
    assert.deepEqual([...d.rolesForTarget('top-level')], []);
  });

  it('succinct delegations yield exactly one terminating bin', () => {
    const sr = new SuccinctRoles({ keyids: [KID], threshold: 1, bitLength: 6, namePrefix: 'bin' });
    const d = new Delegations({ keys, succinctRoles: sr });
    const got = [...d.rolesForTarget('ecu/fw.bin')];
    assert.deepEqual(got, [{ name: expectedBin('ecu/fw.bin', 6, 'bin'), terminating: true }]);
  });

  it('role(name) finds a listed role, a valid bin, and nothing else', () => {
    const wide = dr('wide', { paths: ['*'] });
    const d = new Delegations({ keys, roles: [wide] });
    assert.equal(d.role('wide'), wide);
    assert.equal(d.role('bin-0'), undefined);
    assert.equal(d.role('targets'), undefined);
    const sr = new SuccinctRoles({ keyids: [KID], threshold: 1, bitLength: 2, namePrefix: 'bin' });
    const ds = new Delegations({ keys, succinctRoles: sr });
    assert.equal(ds.role('bin-3'), sr);
    assert.equal(ds.role('bin-4'), undefined);
    assert.equal(ds.role('wide'), undefined);
  });

  it('exactly one of roles and succinct_roles', () => {
    const sr = new SuccinctRoles({ keyids: [], threshold: 1, bitLength: 2, namePrefix: 'bin' });
    throwsCode(() => new Delegations({ keys, roles: [], succinctRoles: sr }), 'FORMAT', 'exactly one');
    throwsCode(() => new Delegations({ keys }), 'FORMAT', 'exactly one');
    assert.equal(new Delegations({ keys, roles: [] }).roles?.size, 0);
  });

  for (const name of ['root', 'timestamp', 'snapshot', 'targets']) {
    it(`a delegated role may not be named "${name}"`, () => {
      throwsCode(() => new Delegations({ keys, roles: [dr(name, { paths: ['*'] })] }), 'FORMAT', 'reserved');
    });
  }

  it('duplicate delegated role names are rejected', () => {
    throwsCode(() => new Delegations({ keys, roles: [dr('a', { paths: ['x'] }), dr('a', { paths: ['y'] })] }), 'FORMAT', 'listed twice');
  });

  it('fromJSON round-trips with unknown fields and requires hex key ids', () => {
    const json = {
      keys: { [KID]: signer.key.toJSON() },
      roles: [{ name: 'r', keyids: [KID], threshold: 1, terminating: false, paths: ['a/*'] }],
      x_extra: 'e',
    };
    assert.equal(canonicalize(Delegations.fromJSON(json).toJSON()), canonicalize(json));
    throwsCode(() => Delegations.fromJSON({ ...json, keys: { '': signer.key.toJSON() } }), 'FORMAT', 'key id');
  });
});

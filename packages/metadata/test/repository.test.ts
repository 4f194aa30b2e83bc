import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateSigner } from '../src/keys.js';
import type { PrivateKeySigner } from '../src/keys.js';
import { Metadata } from '../src/metadata.js';
import { DEFAULT_EXPIRY_MS, RepositoryBuilder } from '../src/repository.js';
import type { RepositoryOptions } from '../src/repository.js';
import type { Root } from '../src/root.js';
import { formatExpires } from '../src/signed.js';
import { checkThreshold, verifyThreshold } from '../src/threshold.js';
import { NOW, bytesOf, fileOf, sampleRepo, throwsCode } from './helpers.js';

const S = {
  root: generateSigner('ed25519'),
  root2: generateSigner('ecdsa-sha2-nistp256'),
  timestamp: generateSigner('ed25519'),
  snapshot: generateSigner('ed25519'),
  targets: generateSigner('ed25519'),
  newRoot: [generateSigner('ed25519'), generateSigner('ed25519')],
  newTimestamp: generateSigner('ed25519'),
  newTargets: generateSigner('ed25519'),
  delegate: generateSigner('ed25519'),
};

function build(extra: Partial<RepositoryOptions> = {}): RepositoryBuilder {
  return new RepositoryBuilder({
    now: NOW,
    keys: {
      root: { signers: [S.root, S.root2], threshold: 2 },
      timestamp: { signers: [S.timestamp] },
      snapshot: { signers: [S.snapshot] },
      targets: { signers: [S.targets] },
    },
    ...extra,
  });
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Verify every published top-level file the way a client would, from root.json. */
function verifyPublished(repo: RepositoryBuilder): void {
  const root = Metadata.fromBytes(fileOf(repo, 'root.json'), 'root');
  const { keys } = root.signed;
  verifyThreshold('root', keys, root.signed.role('root'), root);
  const ts = Metadata.fromBytes(fileOf(repo, 'timestamp.json'), 'timestamp');
  verifyThreshold('timestamp', keys, root.signed.role('timestamp'), ts);
  const snapName = repo.metaName('snapshot', ts.signed.snapshotMeta.version);
  const snapBytes = fileOf(repo, snapName);
  assert.equal(ts.signed.snapshotMeta.length, snapBytes.byteLength);
  assert.equal(ts.signed.snapshotMeta.hashes?.['sha256'], sha256(snapBytes));
  const snap = Metadata.fromBytes(snapBytes, 'snapshot');
  verifyThreshold('snapshot', keys, root.signed.role('snapshot'), snap);
  for (const [file, meta] of snap.signed.meta) {
    const role = file.slice(0, -'.json'.length);
    const bytes = fileOf(repo, repo.metaName(role, meta.version));
    const md = Metadata.fromBytes(bytes, 'targets');
    assert.equal(md.signed.version, meta.version, role);
    if (meta.length !== undefined) assert.equal(meta.length, bytes.byteLength);
    if (meta.hashes !== undefined) assert.equal(meta.hashes['sha256'], sha256(bytes));
    if (role === 'targets') verifyThreshold('targets', keys, root.signed.role('targets'), md);
  }
}

describe('repository: initial state and file names', () => {
  it('publishes version 1 of every role under consistent-snapshot names', () => {
    const repo = build();
    for (const name of ['1.root.json', 'root.json', '1.targets.json', 'targets.json', '1.snapshot.json', 'snapshot.json', 'timestamp.json']) {
      assert.ok(repo.files.has(name), name);
    }
    assert.equal(repo.root.signed.version, 1);
    assert.equal(repo.targetsOf().signed.version, 1);
    assert.equal(repo.snapshot.signed.version, 1);
    assert.equal(repo.timestamp.signed.version, 1);
    assert.equal(repo.root.signed.consistentSnapshot, true);
    assert.equal(repo.root.signed.role('root').threshold, 2);
    verifyPublished(repo);
  });

  it('without consistent snapshots, only root files carry the version', () => {
    const repo = build({ consistentSnapshot: false });
    assert.equal(repo.root.signed.consistentSnapshot, false);
    assert.ok(repo.files.has('1.root.json'));
    assert.ok(!repo.files.has('1.targets.json'));
    assert.ok(!repo.files.has('1.snapshot.json'));
    assert.equal(repo.metaName('targets', 7), 'targets.json');
    repo.addTarget('a.bin', bytesOf('a'));
    repo.publish();
    assert.equal(repo.targetsOf().signed.version, 2);
    verifyPublished(repo);
  });

  it('timestamp.json is never versioned; role names are URL-encoded in file names', () => {
    const repo = build();
    assert.equal(repo.metaName('timestamp', 9), 'timestamp.json');
    assert.equal(repo.metaName('a/b c', 3), '3.a%2Fb%20c.json');
  });

  it('expiry follows the defaults, or the given overrides, from the injected time', () => {
    const repo = build({ expiryMs: { timestamp: 3_600_000 } });
    assert.equal(repo.timestamp.signed.expires, formatExpires(NOW + 3_600_000));
    assert.equal(repo.snapshot.signed.expires, formatExpires(NOW + DEFAULT_EXPIRY_MS.snapshot));
    assert.equal(repo.root.signed.expires, formatExpires(NOW + DEFAULT_EXPIRY_MS.root));
    repo.now = NOW + 5_000;
    repo.publish();
    assert.equal(repo.timestamp.signed.expires, formatExpires(NOW + 5_000 + 3_600_000));
  });

  it('published bytes parse back to the models the builder holds', () => {
    const repo = build();
    assert.deepEqual(Buffer.from(fileOf(repo, '1.root.json')), Buffer.from(repo.root.toBytes()));
    assert.deepEqual(Buffer.from(fileOf(repo, 'timestamp.json')), Buffer.from(repo.timestamp.toBytes()));
  });
});

describe('repository: publish', () => {
  it('a changed targets role bumps targets, snapshot and timestamp', () => {
    const repo = build();
    repo.addTarget('ecu/fw.bin', bytesOf('fw'));
    const ts = repo.publish();
    assert.equal(repo.targetsOf().signed.version, 2);
    assert.equal(repo.snapshot.signed.version, 2);
    assert.equal(ts.signed.version, 2);
    assert.ok(repo.files.has('2.targets.json') && repo.files.has('2.snapshot.json'));
    assert.ok(repo.files.has('1.targets.json'), 'old versions stay available');
    assert.equal(repo.snapshot.signed.meta.get('targets.json')?.version, 2);
    assert.equal(repo.targetsOf().signed.targets.get('ecu/fw.bin')?.length, 2);
    verifyPublished(repo);
  });

  it('publishing without changes keeps targets and bumps snapshot and timestamp', () => {
    const repo = build();
    repo.publish();
    assert.equal(repo.targetsOf().signed.version, 1);
    assert.equal(repo.snapshot.signed.version, 2);
    assert.equal(repo.timestamp.signed.version, 2);
  });

  it('several changes before one publish bump the version once', () => {
    const repo = build();
    repo.addTarget('a', bytesOf('a'));
    repo.addTarget('b', bytesOf('b'));
    repo.removeTarget('a');
    repo.publish();
    assert.equal(repo.targetsOf().signed.version, 2);
    assert.deepEqual([...repo.targetsOf().signed.targets.keys()], ['b']);
  });

  it('timestamp meta length and hashes match the snapshot bytes', () => {
    const repo = build();
    repo.addTarget('a', bytesOf('a'));
    const ts = repo.publish();
    const bytes = fileOf(repo, `${ts.signed.snapshotMeta.version}.snapshot.json`);
    assert.equal(ts.signed.snapshotMeta.length, bytes.byteLength);
    assert.deepEqual(ts.signed.snapshotMeta.hashes, { sha256: sha256(bytes) });
  });

  it('snapshot META lists only versions unless snapshotMetaHashes is set', () => {
    const plain = build();
    assert.deepEqual(plain.snapshot.signed.meta.get('targets.json')?.toJSON(), { version: 1 });
    const hashed = build({ snapshotMetaHashes: true });
    const meta = hashed.snapshot.signed.meta.get('targets.json');
    const bytes = fileOf(hashed, '1.targets.json');
    assert.equal(meta?.length, bytes.byteLength);
    assert.deepEqual(meta?.hashes, { sha256: sha256(bytes) });
  });

  it('targets carry length, sha256 and sha512 of the data and the custom fields', () => {
    const repo = build();
    const data = bytesOf('firmware');
    const tf = repo.addTarget('ecu/fw.bin', data, { hardwareIds: ['hw'] });
    assert.equal(tf.length, data.byteLength);
    assert.equal(tf.hashes['sha256'], sha256(data));
    assert.equal(tf.hashes['sha512'], createHash('sha512').update(data).digest('hex'));
    tf.verify(data);
    assert.deepEqual(tf.custom, { hardwareIds: ['hw'] });
  });

  it('misuse is a USAGE error', () => {
    const repo = build();
    throwsCode(() => repo.removeTarget('nope'), 'USAGE', 'nope');
    throwsCode(() => repo.targetsOf('nobody'), 'USAGE', 'nobody');
    throwsCode(() => repo.addTarget('x', bytesOf('x'), undefined, 'nobody'), 'USAGE');
    throwsCode(() => repo.sign('nobody', repo.root.signed), 'USAGE', 'nobody');
  });
});

describe('repository: target file names', () => {
  it('consistent snapshots serve the path and hash-prefixed names in the same directory', () => {
    const repo = build();
    const data = bytesOf('image');
    repo.addTarget('ecu-a/sub/fw.bin', data);
    repo.addTarget('top.bin', data);
    const h256 = sha256(data);
    const h512 = createHash('sha512').update(data).digest('hex');
    assert.deepEqual(repo.targetFileNames('ecu-a/sub/fw.bin'), ['ecu-a/sub/fw.bin', `ecu-a/sub/${h256}.fw.bin`, `ecu-a/sub/${h512}.fw.bin`]);
    assert.deepEqual(repo.targetFileNames('top.bin'), ['top.bin', `${h256}.top.bin`, `${h512}.top.bin`]);
    assert.deepEqual(repo.targetFileNames('unknown.bin'), []);
  });

  it('without consistent snapshots only the path is served', () => {
    const repo = build({ consistentSnapshot: false });
    repo.addTarget('a/b.bin', bytesOf('b'));
    assert.deepEqual(repo.targetFileNames('a/b.bin'), ['a/b.bin']);
  });
});

describe('repository: delegations', () => {
  it('delegate creates the role, signs it with its own keys and lists it in snapshot', () => {
    const repo = build();
    repo.delegate('targets', { name: 'ecu-a', paths: ['ecu-a/*'], terminating: true }, [S.delegate]);
    repo.addTarget('ecu-a/app.bin', bytesOf('app'), undefined, 'ecu-a');
    repo.publish();
    const parent = repo.targetsOf().signed;
    const role = parent.delegations?.roles?.get('ecu-a');
    assert.ok(role !== undefined);
    assert.deepEqual(role.keyids, [S.delegate.keyId]);
    assert.equal(role.terminating, true);
    assert.deepEqual(role.paths, ['ecu-a/*']);
    assert.equal(repo.snapshot.signed.meta.get('ecu-a.json')?.version, 1);
    const child = Metadata.fromBytes(fileOf(repo, '1.ecu-a.json'), 'targets');
    verifyThreshold('ecu-a', parent.delegations!.keys, role, child);
    assert.ok(child.signed.targets.has('ecu-a/app.bin'));
    verifyPublished(repo);
  });

  it('changing a delegated role bumps only that role (and snapshot, timestamp)', () => {
    const repo = build();
    repo.delegate('targets', { name: 'ecu-a', paths: ['ecu-a/*'] }, [S.delegate]);
    repo.publish();
    const parentVersion = repo.targetsOf().signed.version;
    repo.addTarget('ecu-a/x', bytesOf('x'), undefined, 'ecu-a');
    repo.publish();
    assert.equal(repo.targetsOf('ecu-a').signed.version, 2);
    assert.equal(repo.targetsOf().signed.version, parentVersion);
    assert.equal(repo.snapshot.signed.meta.get('ecu-a.json')?.version, 2);
    assert.equal(repo.snapshot.signed.meta.get('targets.json')?.version, parentVersion);
  });

  it('delegating the same name again replaces the role instead of duplicating it', () => {
    const repo = build();
    repo.delegate('targets', { name: 'ecu-a', paths: ['a/*'] }, [S.delegate]);
    repo.delegate('targets', { name: 'ecu-a', pathHashPrefixes: ['0'], threshold: 1 }, [S.delegate]);
    const roles = repo.targetsOf().signed.delegations?.roles;
    assert.equal(roles?.size, 1);
    assert.deepEqual(roles?.get('ecu-a')?.pathHashPrefixes, ['0']);
  });

  it('nested delegations sign with the delegating role keys', () => {
    const repo = build();
    const sub = generateSigner('ed25519');
    repo.delegate('targets', { name: 'ecu-a', paths: ['ecu-a/*'] }, [S.delegate]);
    repo.delegate('ecu-a', { name: 'ecu-a-sub', paths: ['ecu-a/sub-*'] }, [sub]);
    repo.publish();
    const mid = repo.targetsOf('ecu-a');
    verifyThreshold('ecu-a', repo.targetsOf().signed.delegations!.keys, repo.targetsOf().signed.delegations!.role('ecu-a')!, mid);
    const leaf = repo.targetsOf('ecu-a-sub');
    verifyThreshold('ecu-a-sub', mid.signed.delegations!.keys, mid.signed.delegations!.role('ecu-a-sub')!, leaf);
    assert.ok(repo.snapshot.signed.meta.has('ecu-a-sub.json'));
  });

  it('delegateSuccinct creates every bin, each signed and listed in snapshot', () => {
    const repo = build();
    const sr = repo.delegateSuccinct('targets', 3, 'bin', [S.delegate]);
    assert.equal(sr.numberOfBins, 8);
    const bin = sr.roleForTarget('ecu/fw.bin');
    repo.addTarget('ecu/fw.bin', bytesOf('fw'), undefined, bin);
    repo.publish();
    const parent = repo.targetsOf().signed;
    assert.equal(parent.delegations?.succinctRoles?.bitLength, 3);
    for (let b = 0; b < 8; b++) {
      const name = sr.binName(b);
      assert.ok(repo.snapshot.signed.meta.has(`${name}.json`), name);
      const md = repo.targetsOf(name);
      verifyThreshold(name, parent.delegations.keys, parent.delegations.role(name)!, md);
    }
    assert.deepEqual([...parent.delegations.rolesForTarget('ecu/fw.bin')], [{ name: bin, terminating: true }]);
    assert.ok(repo.targetsOf(bin).signed.targets.has('ecu/fw.bin'));
    throwsCode(() => repo.delegate('targets', { name: 'x', paths: ['*'] }, [S.delegate]), 'USAGE', 'succinct');
    verifyPublished(repo);
  });

  it('the sample repository verifies end to end', () => {
    const { repo } = sampleRepo();
    verifyPublished(repo);
    const tg = Metadata.fromBytes(fileOf(repo, 'targets.json'), 'targets');
    const child = Metadata.fromBytes(fileOf(repo, 'ecu-a.json'), 'targets');
    verifyThreshold('ecu-a', tg.signed.delegations!.keys, tg.signed.delegations!.role('ecu-a')!, child);
  });
});

describe('repository: root rotation', () => {
  function rootAt(repo: RepositoryBuilder, v: number): Metadata<Root> {
    return Metadata.fromBytes(fileOf(repo, `${v}.root.json`), 'root');
  }

  it('rotate() produces root N+1 signed by a threshold of the old and of the new root keys', () => {
    const repo = build();
    const next = repo.rotate({ root: { signers: S.newRoot, threshold: 2 } });
    assert.equal(next.signed.version, 2);
    const old = rootAt(repo, 1);
    const v2 = rootAt(repo, 2);
    verifyThreshold('root (old)', old.signed.keys, old.signed.role('root'), v2);
    verifyThreshold('root (new)', v2.signed.keys, v2.signed.role('root'), v2);
    assert.deepEqual(v2.signed.role('root').keyids, S.newRoot.map((s) => s.keyId));
    assert.ok(!v2.signed.keys.has(S.root.keyId), 'unused old root keys are dropped');
    assert.ok(v2.signed.keys.has(S.timestamp.keyId));
    assert.deepEqual(Buffer.from(fileOf(repo, 'root.json')), Buffer.from(fileOf(repo, '2.root.json')));
  });

  it('signWithOld: false leaves the old threshold unmet', () => {
    const repo = build();
    repo.rotate({ root: { signers: S.newRoot, threshold: 2 } }, { signWithOld: false });
    const old = rootAt(repo, 1);
    const v2 = rootAt(repo, 2);
    assert.equal(checkThreshold('root', old.signed.keys, old.signed.role('root'), v2).verified, false);
    assert.equal(checkThreshold('root', v2.signed.keys, v2.signed.role('root'), v2).verified, true);
  });

  it('signWithNew: false leaves the new threshold unmet', () => {
    const repo = build();
    repo.rotate({ root: { signers: S.newRoot, threshold: 2 } }, { signWithNew: false });
    const old = rootAt(repo, 1);
    const v2 = rootAt(repo, 2);
    assert.equal(checkThreshold('root', old.signed.keys, old.signed.role('root'), v2).verified, true);
    throwsCode(() => verifyThreshold('root', v2.signed.keys, v2.signed.role('root'), v2), 'UNSIGNED_METADATA', '0 of 2');
  });

  it('rotating only the timestamp key keeps root keys and signs once per key', () => {
    const repo = build();
    const v2 = repo.rotate({ timestamp: { signers: [S.newTimestamp] } });
    assert.equal(v2.signatures.size, 2);
    assert.deepEqual(v2.signed.role('timestamp').keyids, [S.newTimestamp.keyId]);
    assert.ok(!v2.signed.keys.has(S.timestamp.keyId));
    verifyThreshold('root', v2.signed.keys, v2.signed.role('root'), v2);
    repo.publish();
    verifyThreshold('timestamp', v2.signed.keys, v2.signed.role('timestamp'), repo.timestamp);
  });

  it('resignAll() re-signs targets with rotated keys', () => {
    const repo = build();
    const v2 = repo.rotate({ targets: { signers: [S.newTargets] } });
    repo.resignAll();
    verifyThreshold('targets', v2.signed.keys, v2.signed.role('targets'), repo.targetsOf());
    assert.equal(repo.targetsOf().signed.version, 2);
    verifyPublished(repo);
  });

  it('successive rotations chain: each root verifies under its predecessor', () => {
    const repo = build();
    repo.rotate({ root: { signers: [S.newRoot[0] as PrivateKeySigner] } });
    repo.rotate({ root: { signers: [S.newRoot[1] as PrivateKeySigner] } });
    for (const v of [2, 3]) {
      const prev = rootAt(repo, v - 1);
      const cur = rootAt(repo, v);
      verifyThreshold(`root v${v}`, prev.signed.keys, prev.signed.role('root'), cur);
      verifyThreshold(`root v${v}`, cur.signed.keys, cur.signed.role('root'), cur);
    }
  });
});

/**
 * Uptane 2.1 partial verification (§5.4.4.1) on a Secondary: the Director root chain
 * (§5.4.4.3) and Director targets (§5.4.4.6), then this ECU's image (§5.4.3.4).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DownloadLengthError, Metadata, UnsignedMetadataError, generateSigner } from '@reflash/metadata';
import { BadVersionError, ExpiredMetadataError, RollbackError, UptaneError } from '../src/errors.js';
import { partialVerification } from '../src/uptane.js';
import type { PartialVerificationInput, PartialVerificationResult } from '../src/uptane.js';
import { throwsWith } from './support/expect.js';
import { NOW } from './support/simulator.js';
import { UptaneSimulator } from './support/uptane-sim.js';

const DAY = 86_400_000;

/** Director assigning a brake image (release 2) to ecu-brake. */
function world(): UptaneSimulator {
  const u = new UptaneSimulator();
  u.assign('ecu-brake', u.addImage('brake/fw-2.bin', Buffer.from('brake firmware 2'), ['hw-brake'], 2));
  return u;
}

function partial(u: UptaneSimulator, over: Partial<PartialVerificationInput> = {}): PartialVerificationResult {
  return partialVerification({
    state: { root: Metadata.fromBytes(u.director.file('1.root.json'), 'root'), targetsVersion: 0 },
    newRoots: [],
    targets: u.directorTargetsBytes(),
    ecuSerial: 'ecu-brake',
    hardwareId: 'hw-brake',
    referenceTime: NOW + 60_000,
    ...over,
  });
}

void describe('Uptane partial verification (Secondary)', () => {
  void it('accepts Director targets naming this ECU and advances the targets version', () => {
    const u = world();
    const r = partial(u);
    assert.equal(r.target?.target.path, 'brake/fw-2.bin');
    assert.equal(r.target?.releaseCounter, 2);
    assert.equal(r.state.targetsVersion, u.director.repo.targetsOf().signed.version);
    assert.equal(r.state.root.signed.version, 1);
  });

  void it('arbitrary software: Director targets signed by an unknown key -> UNSIGNED_METADATA', () => {
    const u = world();
    const forged = u.director.signed('targets', u.director.repo.targetsOf().signed, [generateSigner()]);
    throwsWith(() => partial(u, { targets: forged }), UnsignedMetadataError, 'UNSIGNED_METADATA');
  });

  void it('rollback attack: Director targets older than the version accepted before -> ROLLBACK', () => {
    const u = world();
    const root = Metadata.fromBytes(u.director.file('1.root.json'), 'root');
    throwsWith(() => partial(u, { state: { root, targetsVersion: 10 } }), RollbackError, 'ROLLBACK');
  });

  void it('freeze attack: expired Director targets -> EXPIRED', () => {
    const u = world();
    throwsWith(() => partial(u, { referenceTime: NOW + 90 * DAY }), ExpiredMetadataError, 'EXPIRED');
  });

  void it('root rotation: Director root N -> N+1 is applied; a link not signed by the old keys is refused', () => {
    const u = world();
    u.director.repo.rotate({ root: { signers: [generateSigner(), generateSigner()], threshold: 2 } });
    const r = partial(u, { newRoots: [u.director.file('2.root.json')] });
    assert.equal(r.state.root.signed.version, 2);
    u.director.repo.rotate({ root: { signers: [generateSigner()] } }, { signWithOld: false });
    const chain = [u.director.file('2.root.json'), u.director.file('3.root.json')];
    throwsWith(() => partial(u, { newRoots: chain }), UnsignedMetadataError, 'UNSIGNED_METADATA');
  });

  void it('root version skip: Director root N+2 given as N+1 -> BAD_VERSION', () => {
    const u = world();
    u.director.repo.rotate({});
    u.director.repo.rotate({});
    throwsWith(() => partial(u, { newRoots: [u.director.file('3.root.json')] }), BadVersionError, 'BAD_VERSION');
  });

  void it('Director targets with delegations -> DIRECTOR_DELEGATION', () => {
    const u = world();
    u.director.repo.delegate('targets', { name: 'sub', paths: ['*'] }, [generateSigner()]);
    u.director.repo.publish();
    throwsWith(() => partial(u), UptaneError, 'DIRECTOR_DELEGATION');
  });

  void it('ECU listed twice in Director targets -> DUPLICATE_ECU_ID', () => {
    const u = world();
    u.assign('ecu-brake', u.addImage('brake/fw-3.bin', Buffer.from('brake firmware 3'), ['hw-brake'], 3));
    throwsWith(() => partial(u), UptaneError, 'DUPLICATE_ECU_ID');
  });

  void it('wrong hardware id for this ECU -> BAD_HARDWARE_ID', () => {
    const u = world();
    throwsWith(() => partial(u, { hardwareId: 'hw-brake-rev-b' }), UptaneError, 'BAD_HARDWARE_ID');
  });

  void it('rollback attack: release counter lower than installed -> RELEASE_COUNTER_ROLLBACK', () => {
    const u = world();
    throwsWith(() => partial(u, { previousReleaseCounter: 3 }), UptaneError, 'RELEASE_COUNTER_ROLLBACK');
    assert.ok(partial(u, { previousReleaseCounter: 2 }).target);
  });

  void it('no target for this ECU: target is undefined', () => {
    const u = world();
    const r = partial(u, { ecuSerial: 'ecu-steer', hardwareId: 'hw-steer' });
    assert.equal(r.target, undefined);
  });

  void it('endless data: Director targets beyond targetsMaxLength -> DOWNLOAD_TOO_LARGE', () => {
    const u = world();
    throwsWith(() => partial(u, { limits: { targetsMaxLength: 100 } }), DownloadLengthError, 'DOWNLOAD_TOO_LARGE');
  });
});

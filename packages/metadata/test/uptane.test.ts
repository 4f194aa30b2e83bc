import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize } from '../src/canonical.js';
import { TargetFile } from '../src/targetfile.js';
import { readUptaneCustom, uptaneCustom } from '../src/uptane.js';
import type { UptaneCustom } from '../src/uptane.js';
import { throwsCode } from './helpers.js';

const H = 'cd'.repeat(32);

function target(custom: Record<string, unknown> | undefined): TargetFile {
  return new TargetFile({ path: 'ecu/fw.bin', length: 1, hashes: { sha256: H }, custom });
}

const FULL: UptaneCustom = {
  hardwareIds: ['hw-1', 'hw-2'],
  ecuIdentifiers: { 'SER-1': { hardwareId: 'hw-1' }, 'SER-2': { hardwareId: 'hw-2' } },
  releaseCounter: 12,
  targetFormat: 'binary',
  encryption: { algorithm: 'aes-256-gcm', keyId: 'ecu-key-1', iv: '000102' },
  delta: { format: 'bsdiff', fromFilename: 'ecu/fw-old.bin', fromLength: 100, fromHashes: { sha256: H } },
};

describe('uptane: custom target fields', () => {
  it('uptaneCustom and readUptaneCustom round-trip every field', () => {
    const custom = uptaneCustom(FULL);
    assert.deepEqual(readUptaneCustom(target(custom)), FULL);
    // and through JSON (what a vehicle receives)
    const parsed = TargetFile.fromJSON('ecu/fw.bin', JSON.parse(JSON.stringify(target(custom).toJSON())));
    assert.deepEqual(readUptaneCustom(parsed), FULL);
  });

  it('uptaneCustom keeps extra fields and lets Uptane fields win', () => {
    const custom = uptaneCustom({ releaseCounter: 1 }, { vendor: { build: 7 }, releaseCounter: 99 });
    assert.deepEqual(custom, { vendor: { build: 7 }, releaseCounter: 1 });
  });

  it('uptaneCustom writes canonical-JSON-ready values and copies its inputs', () => {
    const ids = ['hw'];
    const custom = uptaneCustom({ hardwareIds: ids });
    ids.push('changed');
    assert.equal(canonicalize(custom), '{"hardwareIds":["hw"]}');
  });

  it('optional encryption fields may be absent', () => {
    const c = readUptaneCustom(target({ encryption: { algorithm: 'none' } }));
    assert.deepEqual(c, { encryption: { algorithm: 'none' } });
    assert.ok(!('keyId' in (c.encryption ?? {})));
  });

  it('no custom, or custom without Uptane fields, reads as {}', () => {
    assert.deepEqual(readUptaneCustom(target(undefined)), {});
    assert.deepEqual(readUptaneCustom(target({ vendor: 1 })), {});
  });

  it('releaseCounter 0 is valid', () => {
    assert.equal(readUptaneCustom(target({ releaseCounter: 0 })).releaseCounter, 0);
  });

  it('an ECU serial "__proto__" is kept as a serial', () => {
    const custom = JSON.parse('{"ecuIdentifiers":{"__proto__":{"hardwareId":"hw"}}}') as Record<string, unknown>;
    const read = readUptaneCustom(target(custom));
    assert.deepEqual(Object.keys(read.ecuIdentifiers ?? {}), ['__proto__']);
    assert.equal(canonicalize(uptaneCustom(read)), canonicalize(custom));
  });

  const INVALID: [string, Record<string, unknown>, string][] = [
    ['hardwareIds empty', { hardwareIds: [] }, 'hardwareIds: must not be empty'],
    ['hardwareIds not an array', { hardwareIds: 'hw' }, 'custom.hardwareIds'],
    ['hardwareIds with a number', { hardwareIds: ['hw', 2] }, 'custom.hardwareIds[1]'],
    ['ecuIdentifiers an array', { ecuIdentifiers: [{ hardwareId: 'hw' }] }, 'custom.ecuIdentifiers'],
    ['ecuIdentifiers entry a string', { ecuIdentifiers: { S1: 'hw' } }, 'custom.ecuIdentifiers.S1'],
    ['ecuIdentifiers without hardwareId', { ecuIdentifiers: { S1: {} } }, 'custom.ecuIdentifiers.S1.hardwareId'],
    ['ecuIdentifiers hardwareId a number', { ecuIdentifiers: { S1: { hardwareId: 1 } } }, 'custom.ecuIdentifiers.S1.hardwareId'],
    ['negative releaseCounter', { releaseCounter: -1 }, 'custom.releaseCounter'],
    ['fractional releaseCounter', { releaseCounter: 1.5 }, 'custom.releaseCounter'],
    ['string releaseCounter', { releaseCounter: '3' }, 'custom.releaseCounter'],
    ['targetFormat a number', { targetFormat: 1 }, 'custom.targetFormat'],
    ['encryption a string', { encryption: 'aes' }, 'custom.encryption'],
    ['encryption without algorithm', { encryption: { keyId: 'k' } }, 'custom.encryption.algorithm'],
    ['encryption keyId a number', { encryption: { algorithm: 'a', keyId: 1 } }, 'custom.encryption.keyId'],
    ['encryption iv null', { encryption: { algorithm: 'a', iv: null } }, 'custom.encryption.iv'],
    ['delta an array', { delta: [] }, 'custom.delta'],
    ['delta without format', { delta: { fromFilename: 'f', fromLength: 1, fromHashes: { sha256: H } } }, 'custom.delta.format'],
    ['delta without fromFilename', { delta: { format: 'bsdiff', fromLength: 1, fromHashes: { sha256: H } } }, 'custom.delta.fromFilename'],
    ['delta negative fromLength', { delta: { format: 'bsdiff', fromFilename: 'f', fromLength: -1, fromHashes: { sha256: H } } }, 'custom.delta.fromLength'],
    ['delta empty fromHashes', { delta: { format: 'bsdiff', fromFilename: 'f', fromLength: 1, fromHashes: {} } }, 'custom.delta.fromHashes'],
    ['delta non-hex fromHashes', { delta: { format: 'bsdiff', fromFilename: 'f', fromLength: 1, fromHashes: { sha256: 'xy' } } }, 'custom.delta.fromHashes.sha256'],
  ];
  for (const [name, custom, part] of INVALID) {
    it(`rejects ${name} with FORMAT naming the field`, () => {
      throwsCode(() => readUptaneCustom(target(custom)), 'FORMAT', 'target ecu/fw.bin', part);
    });
  }
});

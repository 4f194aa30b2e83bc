/**
 * Attacks on the transfer and inside the vehicle (Uptane 2.1 §4.2 / STANDARDS.md §2: endless
 * data, arbitrary software on the wire, partial bundle installation; a Secondary's own partial
 * verification, §5.4.4.1).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, generateSigner } from '@reflash/metadata';
import { EcuError, EcuRefusedError } from '../../src/errors.js';
import type { MetadataBundle } from '../../src/link.js';
import { assertAllOn, assertReportedInNextManifest } from '../support/assertions.js';
import { chunks } from '../support/ecu-fixture.js';
import { InterceptedLink } from '../support/links.js';
import { TestVehicle } from '../support/vehicle.js';
import type { TestVehicleOptions } from '../support/vehicle.js';

void describe('attacks on the transfer and in the vehicle', () => {
  const vehicles: TestVehicle[] = [];
  const vehicle = async (opts: TestVehicleOptions = {}): Promise<TestVehicle> => {
    const v = await TestVehicle.create(opts);
    vehicles.push(v);
    return v;
  };
  after(async () => {
    for (const v of vehicles) await v.cleanup();
  });

  void it('endless data: an image that does not end is cut off right after the trusted length', async () => {
    const v = await vehicle();
    v.world.assignAll(2);
    v.backend.faults.endless = true;
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'LENGTH_MISMATCH');
    const req = v.backend.imageRequests[0]!;
    const length = v.world.release('hw-brake', 2).target.length;
    assert.ok(req.sent <= length + v.backend.chunkBytes, `read ${req.sent} bytes of an endless stream for a ${length}-byte image`);
    assert.equal(v.backend.imageRequests.length, 1, 'not retried');
    assertAllOn(v, 1);
    await assertReportedInNextManifest(v, 'LENGTH_MISMATCH');
  });

  void it('endless data: too many bytes after the image, and oversized Director metadata, are refused', async () => {
    const v = await vehicle();
    v.world.assignAll(2);
    v.backend.faults.extraBytes = 10;
    assert.equal((await v.cycle()).record.outcome?.code, 'LENGTH_MISMATCH');
    v.backend.faults = {};
    v.backend.directorFetcher.overrides.set('timestamp.json', Buffer.alloc(1024 * 1024, 0x20));
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'DOWNLOAD_TOO_LARGE');
    assertAllOn(v, 1);
  });

  void it('arbitrary software on the wire: a tampered image is refused by its hashes', async () => {
    const v = await vehicle();
    v.world.assignAll(2);
    v.backend.faults.tamper = true;
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'HASH_MISMATCH');
    assertAllOn(v, 1);
  });

  void it('partial bundle: one ECU fails to boot its new image -> every ECU of the bundle rolls back', async () => {
    const v = await vehicle({ ecuOptions: (e) => (e.serial === 'str-0001' ? { healthCheck: (_s, img) => !img.filepath.endsWith('firmware-2.bin') } : {}) });
    v.world.assignAll(2);
    const r = await v.cycle();
    assert.equal(r.outcome, 'rolled-back');
    assert.equal(r.record.outcome?.code, 'ECU_BOOT_FAILED');
    assert.ok(v.states().includes('rollback'));
    assertAllOn(v, 1);
    const steer = v.ecu('str-0001');
    const tried = steer.record.banks[steer.running.bank === 'a' ? 'b' : 'a'];
    assert.equal(tried.status, 'bad', 'the bootloader gave up on the new image');
    assert.equal(v.ecu('brk-0001').record.banks.b.status, 'bad', 'the brake ECU, already switched, went back too');
    const rep = v.backend.reports.at(-1)!;
    assert.equal(rep.outcome, 'rolled-back');
    assert.deepEqual(rep.ecus.map((e) => e.status), ['rolled-back', 'rolled-back', 'rolled-back']);
  });

  void it('a Secondary\'s partial verification refuses Director metadata signed by an unknown key', async () => {
    const v = await vehicle();
    v.world.assignAll(2);
    const steer = v.ecu('str-0001');
    const forged = Metadata.of(v.world.director.targetsOf().signed, generateSigner()).toBytes();
    const bundle: MetadataBundle = { director: new Map([['targets.json', forged]]), image: new Map() };
    await assert.rejects(steer.verifyMetadata(bundle), (err: unknown) => err instanceof EcuRefusedError && err.code === 'UNSIGNED_METADATA');
    await assert.rejects(steer.writeInactive(chunks(new Uint8Array(1))), (err: unknown) => err instanceof EcuError && err.code === 'ECU_NO_APPROVED_IMAGE');
    const report = await steer.versionReport();
    assert.match(report.signed.attacksDetected, /UNSIGNED_METADATA/);
  });

  void it('an attacker between Primary and Secondary forging Director targets: refused, the bundle rolls back', async () => {
    const forge = (b: MetadataBundle): MetadataBundle => {
      const md = Metadata.fromBytes(b.director.get('targets.json')!, 'targets');
      const forged = Metadata.of(md.signed, generateSigner()).toBytes();
      return { director: new Map([...b.director].map(([n, bytes]) => [n, n.endsWith('targets.json') ? forged : bytes])), image: b.image };
    };
    const v = await vehicle({ wrapLinks: (ecus) => ecus.map((e) => (e.serial === 'str-0001' ? new InterceptedLink(e, { bundle: forge }) : e)) });
    v.world.assignAll(2);
    const r = await v.cycle();
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.record.outcome?.code, 'UNSIGNED_METADATA');
    assert.ok(v.states().includes('rollback'));
    assertAllOn(v, 1);
    assert.match(v.backend.reports.at(-1)!.attacks.join(), /UNSIGNED_METADATA/);
    await assertReportedInNextManifest(v, '');
    const steerReport = v.backend.manifests.at(-1)!.signed.ecuVersionReports.get('str-0001')!;
    assert.match(steerReport.signed.attacksDetected, /UNSIGNED_METADATA/);
  });
});

/**
 * Image downloads on the Primary (primary/download.ts): streamed to disk, bounded by the
 * trusted length, hashed while streaming, resumed with HTTP Range after an interruption
 * (re-hashing the bytes on disk first), retried with bounded exponential backoff.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DownloadError, HashMismatchError } from '@reflash/metadata';
import type { BackoffPolicy } from '../../src/config.js';
import type { ImageInfo } from '../../src/digest.js';
import { backoffDelay } from '../../src/primary/backoff.js';
import { downloadImage } from '../../src/primary/download.js';
import { MemoryBackend } from '../support/memory-backend.js';
import { TestVehicle } from '../support/vehicle.js';
import { World } from '../support/world.js';

const POLICY: BackoffPolicy = { baseMs: 10, factor: 2, capMs: 50, maxAttempts: 5 };

void describe('image download', () => {
  let dir: string;
  const world = new World({ imageBytes: 20_000 });
  const release = world.release('hw-brake', 2);
  const image: ImageInfo = { filepath: release.path, length: release.target.length, hashes: release.target.hashes };
  let n = 0;
  const fresh = (): { backend: MemoryBackend; dest: string; sleeps: number[]; sleep: (ms: number) => Promise<void> } => {
    const sleeps: number[] = [];
    return { backend: new MemoryBackend(world), dest: join(dir, `img-${n++}`), sleeps, sleep: (ms) => { sleeps.push(ms); return Promise.resolve(); } };
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-download-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  void it('an interrupted download resumes from where it stopped (Range start, total bytes)', async () => {
    const { backend, dest, sleeps, sleep } = fresh();
    backend.faults = { drops: 1, dropAfterBytes: 3000 };
    const r = await downloadImage(backend, image, dest, { policy: POLICY, sleep });
    assert.deepEqual(backend.imageRequests.map((q) => q.resumeFrom), [0, 3000]);
    assert.deepEqual(r.requests, [0, 3000]);
    assert.equal(backend.imageRequests[0]!.sent, 3000);
    assert.equal(backend.imageRequests[1]!.sent, image.length - 3000);
    assert.equal(r.bytesTransferred, image.length, 'every byte crossed the network once');
    assert.deepEqual(sleeps, [10]);
    assert.deepEqual(await readFile(dest), release.data);
  });

  void it('after a power loss it resumes from the bytes already on disk, re-hashing them first', async () => {
    const { backend, dest, sleep } = fresh();
    await writeFile(`${dest}.part`, release.data.subarray(0, 5000));
    const r = await downloadImage(backend, image, dest, { policy: POLICY, sleep });
    assert.deepEqual(r.requests, [5000]);
    assert.equal(r.bytesTransferred, image.length - 5000);
    assert.deepEqual(await readFile(dest), release.data);
  });

  void it('corrupted bytes on disk: the hash check fails after the resume, and one fresh download repairs it', async () => {
    const { backend, dest, sleep } = fresh();
    await writeFile(`${dest}.part`, Buffer.alloc(5000, 0x55));
    const r = await downloadImage(backend, image, dest, { policy: POLICY, sleep });
    assert.deepEqual(r.requests, [5000, 0]);
    assert.deepEqual(await readFile(dest), release.data);
  });

  void it('a server that ignores Range (200, whole image) restarts the file from zero', async () => {
    const { backend, dest, sleep } = fresh();
    backend.faults = { drops: 1, dropAfterBytes: 3000, ignoreRange: true };
    const r = await downloadImage(backend, image, dest, { policy: POLICY, sleep });
    assert.deepEqual(r.requests, [0, 3000]);
    assert.equal(r.bytesTransferred, 3000 + image.length);
    assert.deepEqual(await readFile(dest), release.data);
  });

  void it('gives up after maxAttempts with the last DownloadError; backoff doubles up to the cap', async () => {
    const { backend, dest, sleeps, sleep } = fresh();
    backend.faults = { drops: 99, dropAfterBytes: 1000 };
    await assert.rejects(downloadImage(backend, image, dest, { policy: POLICY, sleep }), (err: unknown) => err instanceof DownloadError && err.code === 'FETCH_FAILED');
    assert.equal(backend.imageRequests.length, POLICY.maxAttempts);
    assert.deepEqual(sleeps, [10, 20, 40, 50].slice(0, POLICY.maxAttempts - 1));
    assert.deepEqual(backend.imageRequests.map((q) => q.resumeFrom), [0, 1000, 2000, 3000, 4000], 'each retry resumes');
    assert.equal(backoffDelay(POLICY, 30), POLICY.capMs);
  });

  void it('a tampered image is refused and nothing stays on disk; a complete file is not downloaded again', async () => {
    const { backend, dest, sleep } = fresh();
    backend.faults = { tamper: true };
    await assert.rejects(downloadImage(backend, image, dest, { policy: POLICY, sleep }), HashMismatchError);
    await assert.rejects(readFile(`${dest}.part`), { code: 'ENOENT' });
    backend.faults = {};
    assert.equal((await downloadImage(backend, image, dest, { policy: POLICY, sleep })).cached, false);
    const again = await downloadImage(backend, image, dest, { policy: POLICY, sleep });
    assert.equal(again.cached, true);
    assert.equal(backend.imageRequests.length, 2);
  });

  void it('in a cycle: a dropped connection is resumed and the update completes', async () => {
    const v = await TestVehicle.create();
    try {
      v.world.assignAll(2);
      v.backend.faults = { drops: 2, dropAfterBytes: 4096 };
      const r = await v.cycle();
      assert.equal(r.outcome, 'success');
      const first = v.backend.imageRequests.filter((q) => q.path === v.world.release('hw-brake', 2).path);
      assert.deepEqual(first.map((q) => q.resumeFrom), [0, 4096, 8192]);
    } finally {
      await v.cleanup();
    }
  });
});

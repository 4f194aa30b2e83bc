/**
 * io/file-chunks.ts: a file read in chunks through one reused buffer (the Primary's and the ECUs'
 * image passes), and digestFile over it with a byte limit (a resumed download re-hashes the part
 * already on disk).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetFile } from '@reflash/metadata';
import { StreamingDigest, digestFile } from '../../src/digest.js';
import { fileChunks } from '../../src/io/file-chunks.js';

void describe('fileChunks', () => {
  let dir: string;
  const data = randomBytes(100_000);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-chunks-'));
    await writeFile(join(dir, 'f'), data);
    await writeFile(join(dir, 'empty'), Buffer.alloc(0));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const collect = async (path: string, opts: Parameters<typeof fileChunks>[1]): Promise<{ bytes: Buffer; sizes: number[]; buffers: number }> => {
    const parts: Buffer[] = [];
    const sizes: number[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const c of fileChunks(path, opts)) {
      parts.push(Buffer.from(c));
      sizes.push(c.byteLength);
      buffers.add(c.buffer);
    }
    return { bytes: Buffer.concat(parts), sizes, buffers: buffers.size };
  };

  void it('reads the whole file in chunks of the given size, all views of one buffer', async () => {
    const r = await collect(join(dir, 'f'), { chunkBytes: 30_000 });
    assert.deepEqual(r.bytes, data);
    assert.deepEqual(r.sizes, [30_000, 30_000, 30_000, 10_000]);
    assert.equal(r.buffers, 1);
  });

  void it('from `start`, stops after `limit` bytes (or at the end of the file); nothing for an empty file or limit 0', async () => {
    assert.deepEqual((await collect(join(dir, 'f'), { chunkBytes: 30_000, limit: 45_000 })).sizes, [30_000, 15_000]);
    assert.deepEqual((await collect(join(dir, 'f'), { limit: 45_000 })).bytes, data.subarray(0, 45_000));
    assert.deepEqual((await collect(join(dir, 'f'), { limit: 1_000_000 })).bytes, data);
    assert.deepEqual((await collect(join(dir, 'f'), { start: 99_000 })).bytes, data.subarray(99_000));
    assert.deepEqual((await collect(join(dir, 'f'), { start: 10, limit: 20, chunkBytes: 7 })).sizes, [7, 7, 6]);
    assert.deepEqual((await collect(join(dir, 'f'), { start: 10, limit: 20 })).bytes, data.subarray(10, 30));
    assert.deepEqual((await collect(join(dir, 'f'), { start: 200_000 })).sizes, []);
    assert.deepEqual((await collect(join(dir, 'empty'), {})).sizes, []);
    assert.deepEqual((await collect(join(dir, 'missing'), { limit: 0 })).sizes, []);
  });

  void it('a missing file is ENOENT', async () => {
    await assert.rejects(collect(join(dir, 'missing'), {}), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT');
  });

  void it('digestFile with a limit hashes exactly that prefix', async () => {
    const tf = TargetFile.fromData('f', data);
    const whole = new StreamingDigest({ filepath: 'f', length: tf.length, hashes: tf.hashes });
    await digestFile(join(dir, 'f'), whole);
    whole.verify();
    const prefix = TargetFile.fromData('p', data.subarray(0, 70_001));
    const d = new StreamingDigest({ filepath: 'p', length: prefix.length, hashes: prefix.hashes });
    await digestFile(join(dir, 'f'), d, 70_001);
    assert.equal(d.length, 70_001);
    d.verify();
  });
});

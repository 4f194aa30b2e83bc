import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FsBlobStore } from '../src/blob/store.js';

it('a killed upload leaves only a .part file, removed at the next start; acknowledged blobs stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reflash-blobs-'));
  try {
    const store = new FsBlobStore(dir);
    const ok = await store.put(Readable.from([Buffer.from('acknowledged')]), 12);
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    writeFileSync(join(dir, 'tmp', 'deadbeef.part'), 'half an upload');
    assert.equal(await store.removePartialUploads(), 1);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    assert.equal(await store.size(ok.key), 12);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('an upload longer or shorter than declared is refused and leaves nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reflash-blobs-'));
  try {
    const store = new FsBlobStore(dir);
    await assert.rejects(store.put(Readable.from([Buffer.alloc(10)]), 5), (e: unknown) => (e as { code?: string }).code === 'PAYLOAD_TOO_LARGE');
    await assert.rejects(store.put(Readable.from([Buffer.alloc(3)]), 5), (e: unknown) => (e as { code?: string }).code === 'UPLOAD_INCOMPLETE');
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    assert.deepEqual(readdirSync(dir).sort(), ['tmp']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

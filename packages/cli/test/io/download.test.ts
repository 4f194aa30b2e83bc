/** Streaming target download (TUF 5.7.3): verified while streaming, renamed only on success. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TargetFile } from '@reflash/metadata';
import { HttpFetcher } from '../../src/io/http-fetcher.js';
import { downloadTarget, fileMatchesTarget } from '../../src/io/download.js';
import type { ByteStreamSource } from '../../src/io/download.js';
import { TestServer, bytesHandler } from '../support/http.js';
import { TempDirs, flipByte, listDir } from '../support/repo.js';

const DATA = Buffer.alloc(200_000, 7);
const TARGET = TargetFile.fromData('fw.bin', DATA);

/** A source that yields the given chunks, for cases a well-behaved HTTP server cannot produce. */
function chunks(...parts: Uint8Array[]): ByteStreamSource {
  return {
    async *stream() {
      for (const p of parts) yield await Promise.resolve(p);
    },
  };
}

void describe('downloadTarget', () => {
  let server: TestServer;
  const dirs = new TempDirs();
  const fetcher = new HttpFetcher();
  before(async () => {
    server = await TestServer.start(bytesHandler((p) => (p === '/good' ? DATA : p === '/bad' ? flipByte(DATA, 150_000) : p === '/long' ? Buffer.concat([DATA, Buffer.from('x')]) : undefined)));
  });
  after(async () => {
    await server.close();
    await dirs.cleanup();
  });

  void it('stores a matching download under the destination name', async () => {
    const dir = await dirs.make();
    await downloadTarget(fetcher, `${server.origin}/good`, TARGET, join(dir, 'fw.bin'));
    assert.deepEqual(await readFile(join(dir, 'fw.bin')), DATA);
    assert.deepEqual(await listDir(dir), ['fw.bin']);
    assert.equal(await fileMatchesTarget(join(dir, 'fw.bin'), TARGET), true);
  });

  void it('a hash mismatch leaves nothing behind and keeps an existing file', async () => {
    const dir = await dirs.make();
    await assert.rejects(downloadTarget(fetcher, `${server.origin}/bad`, TARGET, join(dir, 'fw.bin')), { code: 'HASH_MISMATCH' });
    assert.deepEqual(await listDir(dir), []);
    await writeFile(join(dir, 'fw.bin'), 'previous');
    await assert.rejects(downloadTarget(fetcher, `${server.origin}/bad`, TARGET, join(dir, 'fw.bin')), { code: 'HASH_MISMATCH' });
    assert.deepEqual(await listDir(dir), ['fw.bin']);
    assert.equal(await readFile(join(dir, 'fw.bin'), 'utf8'), 'previous');
  });

  void it('more bytes than the target length fail with DOWNLOAD_TOO_LARGE and leave nothing', async () => {
    const dir = await dirs.make();
    await assert.rejects(downloadTarget(fetcher, `${server.origin}/long`, TARGET, join(dir, 'fw.bin')), { code: 'DOWNLOAD_TOO_LARGE' });
    assert.deepEqual(await listDir(dir), []);
  });

  void it('a 404 fails with FetchError 404 and leaves nothing', async () => {
    const dir = await dirs.make();
    await assert.rejects(downloadTarget(fetcher, `${server.origin}/none`, TARGET, join(dir, 'fw.bin')), { status: 404 });
    assert.deepEqual(await listDir(dir), []);
  });

  void it('a short body fails with LENGTH_MISMATCH; a source that ignores the limit is still cut off', async () => {
    const dir = await dirs.make();
    await assert.rejects(downloadTarget(chunks(DATA.subarray(0, 10)), 'x', TARGET, join(dir, 'fw.bin')), { code: 'LENGTH_MISMATCH' });
    await assert.rejects(downloadTarget(chunks(DATA, Buffer.from('more')), 'x', TARGET, join(dir, 'fw.bin')), { code: 'LENGTH_MISMATCH' });
    assert.deepEqual(await listDir(dir), []);
  });

  void it('fileMatchesTarget: false for a missing or different file', async () => {
    const dir = await dirs.make();
    assert.equal(await fileMatchesTarget(join(dir, 'none'), TARGET), false);
    await writeFile(join(dir, 'other'), flipByte(DATA));
    assert.equal(await fileMatchesTarget(join(dir, 'other'), TARGET), false);
    await writeFile(join(dir, 'longer'), Buffer.concat([DATA, DATA]));
    assert.equal(await fileMatchesTarget(join(dir, 'longer'), TARGET), false);
  });
});

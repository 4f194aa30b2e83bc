/** FsStore and the atomic write helper (CONVENTIONS.md §8). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FsStore } from '../../src/io/fs-store.js';
import { AtomicFile, writeFileAtomic } from '../../src/io/atomic.js';
import { TempDirs, listDir } from '../support/repo.js';

void describe('FsStore', () => {
  const dirs = new TempDirs();
  after(() => dirs.cleanup());

  void it('saves <role>.json atomically, replaces content, and leaves no temp file', async () => {
    const dir = await dirs.make();
    const store = new FsStore(dir);
    await store.save('timestamp', Buffer.from('v1'));
    await store.save('timestamp', Buffer.from('version two'));
    await store.save('a%2Fb', Buffer.from('delegated'));
    assert.deepEqual(await listDir(dir), ['a%2Fb.json', 'timestamp.json']);
    assert.equal(Buffer.from((await store.load('timestamp'))!).toString(), 'version two');
  });

  void it('load returns undefined for a missing role; remove ignores a missing file', async () => {
    const store = new FsStore(await dirs.make());
    assert.equal(await store.load('snapshot'), undefined);
    await store.remove('snapshot');
  });

  void it('remove deletes the file, and reports errors other than ENOENT', async () => {
    const dir = await dirs.make();
    const store = new FsStore(dir);
    await store.save('snapshot', Buffer.from('x'));
    await store.remove('snapshot');
    assert.deepEqual(await listDir(dir), []);
    await mkdir(join(dir, 'weird.json'));
    await assert.rejects(store.remove('weird'), (e: unknown) => (e as NodeJS.ErrnoException).code !== 'ENOENT');
    await assert.rejects(store.load('weird'), { code: 'EISDIR' });
  });

  void it('refuses role names that are not safe file names', async () => {
    const store = new FsStore(await dirs.make());
    await assert.rejects(store.save('a/b', Buffer.from('x')), { code: 'USAGE' });
    await assert.rejects(store.load('..'), { code: 'USAGE' });
  });
});

void describe('atomic writes', () => {
  const dirs = new TempDirs();
  after(() => dirs.cleanup());

  void it('writeFileAtomic replaces the destination in one step', async () => {
    const dir = await dirs.make();
    const p = join(dir, 'f');
    await writeFile(p, 'old');
    await writeFileAtomic(p, Buffer.from('new content'));
    assert.equal(await readFile(p, 'utf8'), 'new content');
    assert.deepEqual(await listDir(dir), ['f']);
  });

  void it('an aborted AtomicFile leaves the destination untouched and no temp file', async () => {
    const dir = await dirs.make();
    const p = join(dir, 'f');
    await writeFile(p, 'old');
    const f = await AtomicFile.open(p);
    await f.write(Buffer.from('partial'));
    assert.equal((await listDir(dir)).length, 2, 'temp file exists while writing');
    await f.abort();
    await f.abort();
    assert.equal(await readFile(p, 'utf8'), 'old');
    assert.deepEqual(await listDir(dir), ['f']);
    await assert.rejects(f.write(Buffer.from('x')), { code: 'USAGE' });
  });

  void it('a failed rename (destination is a directory) cleans up the temp file', async () => {
    const dir = await dirs.make();
    const p = join(dir, 'd');
    await mkdir(join(p, 'child'), { recursive: true });
    await assert.rejects(writeFileAtomic(p, Buffer.from('x')));
    assert.deepEqual(await listDir(dir), ['d']);
  });
});

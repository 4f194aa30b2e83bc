/**
 * `reflash image add`: the bytes are streamed to PUT /api/v1/images/PATH exactly, with
 * Content-Length, the SHA-256 computed beforehand, the operator's token; the server's answer
 * must describe what was sent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@reflash/metadata';
import { AdminClient } from '../src/client/admin.js';
import { ApiClientError } from '../src/client/errors.js';
import { captureOutput } from '../src/client/output.js';
import { addImage, checkImageName, digestFile } from '../src/commands/image.js';
import { TestServer } from './support/http.js';

const TOKEN = 'rft_imageimageimageimageimage';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  chunks: number;
}

void describe('reflash image add', () => {
  let server: TestServer;
  let dir: string;
  let received: Received | undefined;
  /** what the stub claims it stored; by default what it received */
  let answer: ((r: Received) => unknown) | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflash-image-'));
    server = await TestServer.start((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), chunks: chunks.length };
        received = r;
        const info = answer?.(r) ?? {
          filename: 'ecu/brakes 2.1.bin', length: r.body.length,
          hashes: { sha256: createHash('sha256').update(r.body).digest('hex'), sha512: createHash('sha512').update(r.body).digest('hex') },
        };
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(info));
      });
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it('streams the exact bytes with Content-Length, x-reflash-sha256 and the token', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const file = join(dir, 'image.bin');
    await writeFile(file, data);
    answer = undefined;
    const out = captureOutput();
    const info = await addImage(new AdminClient({ baseUrl: server.origin, token: TOKEN }), file, 'ecu/brakes 2.1.bin', out);
    const r = received!;
    assert.equal(r.method, 'PUT');
    assert.equal(r.url, '/api/v1/images/ecu/brakes%202.1.bin');
    assert.equal(r.headers['content-length'], String(data.length));
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['x-reflash-sha256'], createHash('sha256').update(data).digest('hex'));
    assert.equal(r.headers['authorization'], `Bearer ${TOKEN}`);
    assert.equal(r.headers['transfer-encoding'], undefined, 'a sized upload, not chunked');
    assert.ok(r.body.equals(data), 'the server received exactly the file');
    assert.ok(r.chunks > 1, 'the body arrived in several chunks (streamed)');
    assert.equal(info.length, data.length);
    assert.deepEqual(out.lines, [
      `ecu/brakes 2.1.bin: ${data.length} bytes`,
      `  sha256 ${createHash('sha256').update(data).digest('hex')}`,
      `  sha512 ${createHash('sha512').update(data).digest('hex')}`,
    ]);
    assert.deepEqual(await digestFile(file), { length: data.length, sha256: info.sha256, sha512: info.sha512 });
  });

  void it('refuses an answer that does not describe the bytes sent', async () => {
    const file = join(dir, 'small.bin');
    await writeFile(file, 'firmware');
    answer = (r) => ({ filename: 'x', length: r.body.length, hashes: { sha256: '0'.repeat(64), sha512: '0'.repeat(128) } });
    await assert.rejects(addImage(new AdminClient({ baseUrl: server.origin, token: TOKEN }), file, 'x', captureOutput()),
      (err: unknown) => err instanceof ApiClientError && err.code === 'BAD_RESPONSE');
  });

  void it('refuses unsafe repository names', () => {
    for (const bad of ['', '/abs.bin', 'a/../b.bin', 'a//b', './a']) assert.throws(() => checkImageName(bad), UsageError);
    assert.equal(checkImageName('supplier/brakes/pad-1.2.bin'), 'supplier/brakes/pad-1.2.bin');
  });
});

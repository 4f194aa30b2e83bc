/**
 * The vehicle's HTTP/1.1 client (net/http-client.ts) against scripted raw TCP/TLS servers:
 * body framings (Content-Length, chunked with extensions and trailers, end of connection), reads
 * split at every byte, interim 1xx answers, a connection cut before the end of the body, an
 * oversized head, inactivity timeouts (no answer, a stalled body), the one reused read buffer,
 * a large body over TLS (several TLS records per socket read), and HttpBackend's mapping of
 * these failures to FetchError 0 (retried by the Primary).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { FetchError } from '@reflash/metadata';
import { HttpProtocolError, HttpTimeoutError, httpRequest } from '../src/net/http-client.js';
import type { HttpResponse } from '../src/net/http-client.js';
import { HttpBackend } from '../src/net/http-backend.js';

/** A server that reads the request head, then runs `answer` on the socket. */
async function rawServer(answer: (s: Socket, head: string) => void | Promise<void>): Promise<{ url: string; server: Server; heads: string[]; sockets: Set<Socket> }> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let acc = '';
    const onData = (d: Buffer): void => {
      acc += d.toString('latin1');
      const end = acc.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      heads.push(acc.slice(0, end));
      void answer(s, acc.slice(0, end));
    };
    s.on('data', onData);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, heads, sockets };
}

/** Write `parts` one by one, each in its own TCP segment as far as the test can force it. */
async function dribble(s: Socket, parts: ReadonlyArray<string | Uint8Array>, end = true): Promise<void> {
  for (const p of parts) {
    s.write(p);
    await new Promise((r) => setTimeout(r, 2));
  }
  if (end) s.end();
}

async function readAll(res: HttpResponse): Promise<Buffer> {
  const out: Buffer[] = [];
  for (;;) {
    const c = await res.read();
    if (c === null) return Buffer.concat(out);
    out.push(Buffer.from(c));
  }
}

const get = (url: string, timeoutMs = 5000): Promise<HttpResponse> => httpRequest({ method: 'GET', url: new URL(`${url}/x?y=1`), headers: { 'user-agent': 't' }, timeoutMs });

void describe('HTTP/1.1 client', () => {
  const servers: Array<Awaited<ReturnType<typeof rawServer>>> = [];
  const serve = async (answer: Parameters<typeof rawServer>[0]): Promise<{ url: string; heads: string[] }> => {
    const s = await rawServer(answer);
    servers.push(s);
    return s;
  };
  after(() => {
    for (const s of servers) {
      for (const c of s.sockets) c.destroy();
      s.server.close();
    }
  });

  void it('Content-Length body over many reads, through one reused buffer; the request head is as sent', async () => {
    const body = randomBytes(1_000_000);
    const { url, heads } = await serve((s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nX-A: 1\r\nx-a: 2\r\n\r\n`);
      s.end(body);
    });
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-a'), '1, 2');
    const h = createHash('sha256');
    const buffers = new Set<ArrayBufferLike>();
    for (let c = await res.read(); c !== null; c = await res.read()) {
      h.update(c);
      buffers.add(c.buffer);
    }
    assert.equal(h.digest('hex'), createHash('sha256').update(body).digest('hex'));
    assert.equal(res.complete, true);
    assert.ok(buffers.size <= 2, `every chunk is a view of one of two read buffers (${buffers.size})`);
    assert.match(heads[0]!, /^GET \/x\?y=1 HTTP\/1\.1\r\n/);
    assert.match(heads[0]!, /\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(heads[0]!, /\r\nconnection: close\r\n/);
    assert.match(heads[0]!, /\r\nuser-agent: t$/);
  });

  void it('chunked body split at every byte, with extensions and trailers; an interim 100 first', async () => {
    const wire = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n';
    const { url } = await serve((s) => dribble(s, [...wire]));
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.equal((await readAll(res)).toString(), 'hello 0123456789');
    assert.equal(res.complete, true);
  });

  void it('a body delimited by the end of the connection; no body for 204', async () => {
    const a = await serve((s) => dribble(s, ['HTTP/1.0 200 OK\r\n', '\r\nab', 'cd']));
    assert.equal((await readAll(await get(a.url))).toString(), 'abcd');
    const b = await serve((s) => dribble(s, ['HTTP/1.1 204 No Content\r\n\r\n'], false));
    const res = await get(b.url);
    assert.equal(res.status, 204);
    assert.equal(await res.read(), null);
  });

  void it('a connection cut before the Content-Length or the last chunk is an error, not a short body; malformed answers and headers', async () => {
    const a = await serve((s) => dribble(s, ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'abc']));
    await assert.rejects(readAll(await get(a.url)), HttpProtocolError);
    const b = await serve((s) => dribble(s, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '5\r\nab']));
    await assert.rejects(readAll(await get(b.url)), HttpProtocolError);
    const c = await serve((s) => dribble(s, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']));
    await assert.rejects(readAll(await get(c.url)), HttpProtocolError);
    const d = await serve((s) => dribble(s, ['HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n']));
    await assert.rejects(get(d.url), HttpProtocolError);
    const e = await serve((s) => dribble(s, ['SSH-2.0-OpenSSH\r\n\r\n']));
    await assert.rejects(get(e.url), HttpProtocolError);
    // A header value with a line break is refused before anything is sent.
    await assert.rejects(httpRequest({ method: 'GET', url: new URL(`${e.url}/`), headers: { 'x-a': 'b\r\nx-injected: 1' }, timeoutMs: 1000 }), /line breaks/);
    assert.equal(e.heads.length, 1);
  });

  void it('a response head larger than 64 KiB is refused', async () => {
    const { url } = await serve((s) => dribble(s, ['HTTP/1.1 200 OK\r\n', `x-big: ${'a'.repeat(70_000)}\r\n`, '\r\n']));
    await assert.rejects(get(url), /response head larger than/);
  });

  void it('inactivity timeout: no answer at all, and a body that stalls; a slow consumer does not count', async () => {
    const silent = await serve(() => undefined);
    const t0 = Date.now();
    await assert.rejects(get(silent.url, 150), HttpTimeoutError);
    assert.ok(Date.now() - t0 < 2000);
    const stall = await serve((s) => dribble(s, ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], false));
    const res = await get(stall.url, 150);
    assert.equal(Buffer.from((await res.read())!).toString(), 'abc');
    await assert.rejects(res.read(), HttpTimeoutError);
    const slow = await serve((s) => dribble(s, ['HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc', 'def']));
    const r2 = await get(slow.url, 100);
    assert.equal(Buffer.from((await r2.read())!).toString(), 'abc');
    await new Promise((r) => setTimeout(r, 300)); // the consumer is busy for 3 timeouts
    assert.equal(Buffer.from((await r2.read())!).toString(), 'def');
  });

  void it('close() drops the connection; reads after it end', async () => {
    let closed = false;
    const { url } = await serve((s) => {
      s.on('close', () => { closed = true; });
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n');
      s.write(Buffer.alloc(100_000));
    });
    const res = await get(url);
    assert.ok((await res.read())!.byteLength > 0);
    res.close();
    assert.equal(await res.read(), null);
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(closed);
  });

  void it('HttpBackend: a timeout and a cut body are FetchError 0 (retried), a 3xx is not followed', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const silent = await serve(() => undefined);
    const b1 = new HttpBackend({ serverUrl: silent.url, vin: 'V', keyId: 'k', privateKey, timeoutMs: 100 });
    await assert.rejects(b1.directorFetcher.fetch(`${b1.directorBaseUrl}1.root.json`, 1000), (e: unknown) => e instanceof FetchError && e.status === 0 && /no progress for 100 ms/.test(e.message));
    const cut = await serve((s) => dribble(s, ['HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', 'abc']));
    const b2 = new HttpBackend({ serverUrl: cut.url, vin: 'V', keyId: 'k', privateKey });
    const image = { filepath: 'a/b.bin', length: 1000, hashes: { sha256: '00'.repeat(32) } };
    const res = await b2.downloadImage(image, { resumeFrom: 0 });
    await assert.rejects((async () => { for await (const c of res.body) assert.ok(c.byteLength > 0); })(), (e: unknown) => e instanceof FetchError && e.status === 0);
    assert.match(cut.heads[0]!, /^GET \/repo\/image\/targets\/a\/0{64}\.b\.bin HTTP\/1\.1\r\n/);
    assert.match(cut.heads[0]!, /\r\nsignature-input: /);
    const moved = await serve((s) => dribble(s, ['HTTP/1.1 302 Found\r\nLocation: http://example.com/\r\nContent-Length: 0\r\n\r\n']));
    const b3 = new HttpBackend({ serverUrl: moved.url, vin: 'V', keyId: 'k', privateKey });
    await assert.rejects(b3.imageFetcher.fetch(`${b3.imageBaseUrl}1.root.json`, 1000), (e: unknown) => e instanceof FetchError && e.status === 302);
  });
});

void describe('HTTP/1.1 client over TLS', () => {
  let dir: string;
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'reflash-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      cert = readFileSync(join(dir, 'cert.pem'));
      key = readFileSync(join(dir, 'key.pem'));
    } catch {
      cert = undefined; // no openssl: skipped below
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('a 4 MiB body arrives intact (several TLS records per socket read); the CA is checked', async (t) => {
    if (cert === undefined || key === undefined) {
      t.skip('openssl not available');
      return;
    }
    const body = randomBytes(4 * 1024 * 1024);
    const server = createTlsServer({ cert, key }, (s) => {
      s.once('data', () => {
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        s.end(body);
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = new URL(`https://localhost:${(server.address() as AddressInfo).port}/img`);
      const res = await httpRequest({ method: 'GET', url, headers: {}, timeoutMs: 5000, ca: cert });
      assert.equal(res.status, 200);
      const h = createHash('sha256');
      let n = 0;
      for (let c = await res.read(); c !== null; c = await res.read()) {
        h.update(c);
        n += c.byteLength;
        if (n % 3 === 0) await new Promise((r) => setImmediate(r)); // a consumer that yields now and then
      }
      assert.equal(h.digest('hex'), createHash('sha256').update(body).digest('hex'));
      // Without the CA: the self-signed certificate is refused.
      await assert.rejects(httpRequest({ method: 'GET', url, headers: {}, timeoutMs: 5000 }), /self[- ]signed/i);
    } finally {
      server.close();
    }
  });
});

/**
 * HttpFetcher against a real local server: every download stops at its maximum size (endless
 * data attack, Uptane 4.3.3 / TUF 5.3.3), status codes and network failures become FetchError.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DownloadLengthError, FetchError } from '@reflash/metadata';
import { HttpFetcher } from '../../src/io/http-fetcher.js';
import { TestServer } from '../support/http.js';

void describe('HttpFetcher', () => {
  let server: TestServer;
  /** bytes the endless handler managed to write before the client hung up */
  let endlessWritten = 0;
  let endlessClosed: Promise<void> = Promise.resolve();
  const fetcher = new HttpFetcher({ timeoutMs: 2_000 });

  before(async () => {
    server = await TestServer.start((req, res) => {
      const path = req.url ?? '';
      if (path === '/ok') {
        res.writeHead(200, { 'content-length': 5 }).end('hello');
      } else if (path === '/chunked') {
        res.writeHead(200);
        res.write('hel');
        res.end('lo');
      } else if (path === '/endless') {
        // Chunked, no Content-Length, never ends: only the client can stop it.
        endlessWritten = 0;
        endlessClosed = new Promise((resolve) => res.on('close', resolve));
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(16_384, 0x61);
        const pump = (): void => {
          while (!res.destroyed) {
            endlessWritten += chunk.byteLength;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
        };
        pump();
      } else if (path === '/huge-announced') {
        // Announces 1 GB, sends a little and then waits: the client must not wait for the rest.
        res.writeHead(200, { 'content-length': 1_000_000_000 });
        res.write(Buffer.alloc(10));
      } else if (path === '/reset') {
        res.writeHead(200, { 'content-length': 1000 });
        res.write(Buffer.alloc(100), () => setTimeout(() => req.socket.destroy(), 20));
      } else if (path === '/silent') {
        // Never answers.
      } else if (path === '/error') {
        res.writeHead(500).end('boom');
      } else {
        res.writeHead(404).end('nope');
      }
    });
  });
  after(() => server.close());

  void it('fetches a small body (with and without Content-Length)', async () => {
    assert.equal(Buffer.from(await fetcher.fetch(`${server.origin}/ok`, 5)).toString(), 'hello');
    assert.equal(Buffer.from(await fetcher.fetch(`${server.origin}/chunked`, 5)).toString(), 'hello');
  });

  void it('rejects a body one byte longer than the limit', async () => {
    await assert.rejects(fetcher.fetch(`${server.origin}/chunked`, 4), (e: unknown) => e instanceof DownloadLengthError && e.code === 'DOWNLOAD_TOO_LARGE');
    await assert.rejects(fetcher.fetch(`${server.origin}/ok`, 4), { code: 'DOWNLOAD_TOO_LARGE' });
  });

  void it('cuts an endless stream off at maxLength and drops the connection', async () => {
    const started = Date.now();
    await assert.rejects(fetcher.fetch(`${server.origin}/endless`, 100_000), { code: 'DOWNLOAD_TOO_LARGE' });
    await endlessClosed; // the server sees the client hang up
    assert.ok(Date.now() - started < 5_000, 'fails fast');
    // What the server pushed before noticing is bounded by socket buffers, not by the stream.
    assert.ok(endlessWritten < 20_000_000, `server wrote ${endlessWritten} bytes`);
  });

  void it('refuses a Content-Length above the limit without reading the body', async () => {
    // Waiting for the body would end in the 2 s idle timeout instead of this error.
    await assert.rejects(fetcher.fetch(`${server.origin}/huge-announced`, 1_000), (e: unknown) => e instanceof DownloadLengthError && /Content-Length/.test(e.message));
  });

  void it('maps 404 to FetchError with status 404 and 500 to status 500', async () => {
    await assert.rejects(fetcher.fetch(`${server.origin}/missing`, 100), (e: unknown) => e instanceof FetchError && e.status === 404 && e.code === 'FETCH_FAILED');
    await assert.rejects(fetcher.fetch(`${server.origin}/error`, 100), (e: unknown) => e instanceof FetchError && e.status === 500);
  });

  void it('maps a connection reset mid-body to FetchError(0) with the cause', async () => {
    await assert.rejects(fetcher.fetch(`${server.origin}/reset`, 10_000), (e: unknown) => e instanceof FetchError && e.status === 0 && e.cause !== undefined);
  });

  void it('maps a refused connection to FetchError(0) with the cause', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(fetcher.fetch(`http://127.0.0.1:${port}/x`, 10), (e: unknown) => e instanceof FetchError && e.status === 0 && e.cause instanceof Error);
  });

  void it('times out a silent server with FetchError', async () => {
    const quick = new HttpFetcher({ timeoutMs: 150 });
    const started = Date.now();
    await assert.rejects(quick.fetch(`${server.origin}/silent`, 10), (e: unknown) => e instanceof FetchError && e.status === 0 && /timed out/.test(e.message));
    assert.ok(Date.now() - started < 5_000);
  });

  void it('times out a body that stops arriving', async () => {
    const quick = new HttpFetcher({ timeoutMs: 150 });
    await assert.rejects(quick.fetch(`${server.origin}/huge-announced`, 2_000_000_000), (e: unknown) => e instanceof FetchError && /timed out/.test(e.message));
  });
});

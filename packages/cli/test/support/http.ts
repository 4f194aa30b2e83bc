/**
 * A real HTTP server on 127.0.0.1 (port 0) for adapter and end-to-end tests. It records every
 * request path and status, and hands requests to a handler the test can swap.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface RequestRecord {
  readonly path: string;
  status: number;
}

export class TestServer {
  readonly requests: RequestRecord[] = [];
  handler: Handler;
  readonly #server: Server;
  readonly origin: string;

  private constructor(server: Server, handler: Handler) {
    this.#server = server;
    this.handler = handler;
    const addr = server.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${addr.port}`;
  }

  static async start(handler: Handler = notFound): Promise<TestServer> {
    const box: { self?: TestServer } = {};
    const server = createServer((req, res) => {
      const self = box.self!;
      const rec: RequestRecord = { path: req.url ?? '', status: 0 };
      self.requests.push(rec);
      res.on('finish', () => { rec.status = res.statusCode; });
      res.on('close', () => { if (rec.status === 0) rec.status = res.statusCode; });
      self.handler(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    box.self = new TestServer(server, handler);
    return box.self;
  }

  /** Paths requested so far (and forget them). */
  take(): string[] {
    const paths = this.requests.map((r) => r.path);
    this.requests.length = 0;
    return paths;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.#server.close((err) => (err === undefined ? resolve() : reject(err))));
  }
}

export function notFound(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
}

/** Serve bytes by request path, as sent (still percent-encoded); undefined -> 404. */
export function bytesHandler(lookup: (path: string) => Uint8Array | undefined): Handler {
  return (req, res) => {
    const body = lookup(new URL(req.url ?? '/', 'http://x').pathname);
    if (body === undefined) return notFound(req, res);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.byteLength }).end(body);
  };
}

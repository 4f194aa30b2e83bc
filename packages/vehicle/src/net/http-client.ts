/**
 * A small HTTP/1.1 client over node:net / node:tls for the vehicle, built for a flat memory
 * footprint while a 1 GiB image streams through it (issue 4: the Primary's peak RSS):
 * - every socket read lands in a buffer allocated per exchange and reused (net.Socket `onread`:
 *   the next read's buffer is chosen right after a read, while its bytes still wait, so two
 *   buffers alternate over TCP, and a few more only when TLS hands over several records in one
 *   go; a buffer is never reused while bytes in it wait), so a download makes no garbage ArrayBuffers (with fetch/undici or node:http each
 *   64 KiB read is a fresh ArrayBuffer, and V8 lets up to 32 MiB of them pile up in the young
 *   generation before it collects them, whatever --max-semi-space-size says);
 * - the body is handed out chunk by chunk as views of that buffer, and the socket is paused
 *   until the consumer asks for the next chunk (backpressure: never more than one read in
 *   memory). A chunk is valid only until the next `read()`: consume or copy it first;
 * - one request per connection (`Connection: close`), no redirects (a 3xx is just a status),
 *   no content codings (`accept-encoding: identity` is the caller's); bodies framed by
 *   Content-Length, chunked Transfer-Encoding or the end of the connection; a connection that
 *   ends before its Content-Length or last chunk is an error (never a short body);
 * - an inactivity timeout: no bytes from the server for `timeoutMs` while waiting for them
 *   (connect, response head, each body read) destroys the socket (HttpTimeoutError). Time the
 *   consumer spends with a chunk does not count.
 * node:tls is loaded only for https URLs.
 */
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';

/** Read buffer per exchange (one socket read at most). */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Largest response head (status line and header fields). */
const MAX_HEAD_BYTES = 64 * 1024;
/** Largest chunk-size or trailer line of a chunked body. */
const MAX_LINE_BYTES = 4096;

export class HttpTimeoutError extends Error {}
/** The server's answer is not HTTP/1.1 as this client reads it, or it ended early. */
export class HttpProtocolError extends Error {}

export interface HttpRequestOptions {
  readonly method: string;
  readonly url: URL;
  /** header fields (lower-case names); Host, Connection and Content-Length are set here */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** inactivity timeout (ms) */
  readonly timeoutMs: number;
  /** trusted CA certificates for https (default: Node's bundled list) */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** read buffer size; default READ_BUFFER_BYTES */
  readonly readBufferBytes?: number;
}

export interface HttpResponse {
  readonly status: number;
  /** header fields by lower-case name (repeated fields joined with ", ") */
  readonly headers: ReadonlyMap<string, string>;
  /** true once the body was read to its end */
  readonly complete: boolean;
  /**
   * The next body chunk, or null at the end of the body. The chunk is a view of the reused read
   * buffer: valid only until the next call.
   */
  read(): Promise<Uint8Array | null>;
  /** Drop the connection (nothing more is read); idempotent. */
  close(): void;
}

type Framing =
  | { kind: 'none' }
  | { kind: 'length'; remaining: number }
  | { kind: 'close' }
  | { kind: 'chunked'; state: 'size' | 'data' | 'data-end' | 'trailer'; remaining: number };

function indexOfHeadEnd(b: Uint8Array, from: number): number {
  for (let i = Math.max(0, from); i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

interface Head {
  readonly status: number;
  readonly headers: Map<string, string>;
}

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/.exec(lines[0] ?? '');
  if (m === null) throw new HttpProtocolError(`not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(line.slice(0, c))) throw new HttpProtocolError(`malformed header field: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, c).toLowerCase();
    const value = line.slice(c + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { status: Number(m[1]), headers };
}

function framingOf(method: string, head: Head): Framing {
  if (method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200) return { kind: 'none' };
  const te = head.headers.get('transfer-encoding');
  if (te !== undefined) {
    const codings = te.split(',').map((s) => s.trim().toLowerCase());
    // RFC 9112 §6.3: chunked last is the framing; otherwise the body runs to the end of the connection.
    return codings[codings.length - 1] === 'chunked' ? { kind: 'chunked', state: 'size', remaining: 0 } : { kind: 'close' };
  }
  const cl = head.headers.get('content-length');
  if (cl !== undefined) {
    const values = new Set(cl.split(',').map((s) => s.trim()));
    const [v] = values;
    if (values.size !== 1 || v === undefined || !/^\d{1,15}$/.test(v)) throw new HttpProtocolError(`bad Content-Length: ${JSON.stringify(cl.slice(0, 80))}`);
    return { kind: 'length', remaining: Number(v) };
  }
  return { kind: 'close' };
}

class Exchange implements HttpResponse {
  status = 0;
  headers: ReadonlyMap<string, string> = new Map();
  complete = false;
  readonly #method: string;
  readonly #timeoutMs: number;
  #socket: Socket | undefined;
  /** unparsed bytes of the socket read being decoded (a view of a read buffer) */
  #raw: Uint8Array | null = null;
  /** socket reads not decoded yet (TLS can deliver several before the socket pauses) */
  readonly #queue: Uint8Array[] = [];
  /** read buffers (#raw and #queue are views of them) */
  readonly #buffers: Buffer[] = [];
  readonly #bufferBytes: number;
  #head: Buffer | null = Buffer.alloc(0);
  #framing: Framing = { kind: 'none' };
  #line = '';
  #eof = false;
  #error: Error | null = null;
  #closed = false;
  #waiting = false;
  #wake: (() => void) | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(method: string, timeoutMs: number, bufferBytes: number) {
    this.#method = method;
    this.#timeoutMs = timeoutMs;
    this.#bufferBytes = bufferBytes;
  }

  /** A read buffer that no undecoded bytes are in (the next socket read goes there). */
  #freeBuffer(): Buffer {
    const inUse = (b: Buffer): boolean => (this.#raw !== null && this.#raw.buffer === b.buffer) || this.#queue.some((q) => q.buffer === b.buffer);
    let free = this.#buffers.find((b) => !inUse(b));
    if (free === undefined) {
      free = Buffer.allocUnsafeSlow(this.#bufferBytes);
      this.#buffers.push(free);
    }
    return free;
  }

  /** Move the next undecoded socket read into #raw; false when there is none. */
  #shift(): boolean {
    const next = this.#queue.shift();
    this.#raw = next ?? null;
    return next !== undefined;
  }

  async start(opts: HttpRequestOptions): Promise<void> {
    const u = opts.url;
    const https = u.protocol === 'https:';
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const port = u.port === '' ? (https ? 443 : 80) : Number(u.port);
    let head = `${opts.method} ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\nconnection: close\r\n`;
    for (const [k, v] of Object.entries(opts.headers)) {
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new HttpProtocolError(`header ${k}: line breaks are not allowed`);
      head += `${k}: ${v}\r\n`;
    }
    if (opts.body !== undefined) head += `content-length: ${opts.body.byteLength}\r\n`;
    const onread = { buffer: (): Buffer => this.#freeBuffer(), callback: (n: number, buf: Uint8Array): boolean => this.#onRead(n, buf) };
    // Unreferenced: an open socket keeps the process alive, the timer alone does not.
    this.#timer = setTimeout(() => this.#onTimer(), this.#timeoutMs).unref();
    this.#waiting = true;
    let socket: Socket;
    if (https) {
      const tls = await import('node:tls');
      const servername = /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
      // `onread` is honoured by tls.connect (passed on to net.Socket) though @types/node omits it.
      const tlsOptions: ConnectionOptions & { onread: typeof onread } = {
        host, port, onread, ...(servername === undefined ? {} : { servername }), ...(opts.ca === undefined ? {} : { ca: opts.ca as string | Buffer | Array<string | Buffer> }),
      };
      socket = tls.connect(tlsOptions);
    } else {
      socket = netConnect({ host, port, onread });
    }
    this.#socket = socket;
    socket.on('error', (err) => this.#fail(err));
    socket.on('end', () => this.#onEof());
    socket.on('close', () => this.#onEof());
    socket.write(`${head}\r\n`);
    if (opts.body !== undefined && opts.body.byteLength > 0) socket.write(opts.body);
    await this.#readHead();
  }

  #onRead(n: number, buf: Uint8Array): boolean {
    this.#queue.push(buf.subarray(0, n));
    this.#timer?.refresh();
    this.#notify();
    return false; // paused until the bytes are consumed
  }

  #onEof(): void {
    this.#eof = true;
    this.#notify();
  }

  #onTimer(): void {
    if (this.#closed) return;
    if (!this.#waiting) {
      this.#timer?.refresh(); // the consumer has the chunk: its time does not count
      return;
    }
    this.#fail(new HttpTimeoutError(`no progress for ${this.#timeoutMs} ms`));
  }

  /** A failure ends the exchange: the socket is dropped, read() throws `err` from now on. */
  #fail(err: Error): void {
    if (this.#error === null && !this.#closed) this.#error = err;
    clearTimeout(this.#timer);
    this.#socket?.destroy();
    this.#notify();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Wait for the next socket read (or the end, an error, the timeout). */
  async #more(): Promise<void> {
    if (this.#error !== null || this.#eof) return;
    this.#waiting = true;
    this.#timer?.refresh();
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#socket?.resume();
    });
    this.#waiting = false;
  }

  async #readHead(): Promise<void> {
    for (;;) {
      if (this.#error !== null) throw this.#error;
      const raw = this.#raw;
      if (raw !== null && raw.length > 0) {
        const prev = this.#head!;
        const acc = Buffer.concat([prev, raw]);
        const end = indexOfHeadEnd(acc, prev.length - 3);
        if (end < 0) {
          if (acc.length > MAX_HEAD_BYTES) throw new HttpProtocolError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
          this.#head = acc;
          this.#raw = null;
          continue;
        }
        if (end > MAX_HEAD_BYTES) throw new HttpProtocolError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
        this.#raw = raw.subarray(end + 4 - prev.length);
        const head = parseHead(acc.subarray(0, end).toString('latin1'));
        if (head.status >= 100 && head.status < 200 && head.status !== 101) {
          this.#head = Buffer.alloc(0); // interim answer (100 Continue, 103): the real one follows
          continue;
        }
        this.#head = null;
        this.status = head.status;
        this.headers = head.headers;
        this.#framing = framingOf(this.#method, head);
        this.#waiting = false;
        return;
      }
      if (this.#shift()) continue;
      if (this.#eof) throw new HttpProtocolError('connection closed before a response');
      await this.#more();
    }
  }

  /** A line of a chunked body (CRLF or LF), or null when the bytes so far end mid-line. */
  #takeLine(): string | null {
    const raw = this.#raw!;
    const nl = raw.indexOf(10);
    const part = Buffer.from(raw.buffer, raw.byteOffset, nl < 0 ? raw.length : nl).toString('latin1');
    this.#line += part;
    if (this.#line.length > MAX_LINE_BYTES) throw new HttpProtocolError('chunked body: line too long');
    if (nl < 0) {
      this.#raw = null;
      return null;
    }
    this.#raw = raw.subarray(nl + 1);
    const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
    this.#line = '';
    return line;
  }

  /** The next body bytes from #raw, null when #raw holds none (or only framing). */
  #decode(): Uint8Array | null {
    const f = this.#framing;
    const raw = this.#raw!;
    if (f.kind === 'close') {
      this.#raw = null;
      return raw;
    }
    if (f.kind === 'length') {
      const take = Math.min(f.remaining, raw.length);
      f.remaining -= take;
      this.#raw = f.remaining === 0 ? null : raw.subarray(take);
      return raw.subarray(0, take);
    }
    if (f.kind === 'chunked') {
      for (;;) {
        if (this.#raw === null || this.#raw.length === 0) return null;
        if (f.state === 'data') {
          const r = this.#raw;
          const take = Math.min(f.remaining, r.length);
          f.remaining -= take;
          this.#raw = r.subarray(take);
          if (f.remaining === 0) f.state = 'data-end';
          return r.subarray(0, take);
        }
        const line = this.#takeLine();
        if (line === null) continue;
        if (f.state === 'size') {
          const size = (line.split(';', 1)[0] ?? '').trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new HttpProtocolError(`chunked body: bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
          f.remaining = parseInt(size, 16);
          f.state = f.remaining === 0 ? 'trailer' : 'data';
        } else if (f.state === 'data-end') {
          if (line !== '') throw new HttpProtocolError('chunked body: no CRLF after chunk data');
          f.state = 'size';
        } else if (line === '') {
          this.#framing = { kind: 'none' }; // trailer section ended: the body is complete
          this.#raw = null;
          return null;
        }
      }
    }
    return null;
  }

  #bodyDone(): boolean {
    const f = this.#framing;
    return f.kind === 'none' || (f.kind === 'length' && f.remaining === 0);
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#error !== null) throw this.#error;
      if (this.#closed) return null;
      if (this.#bodyDone()) {
        this.complete = true;
        this.close();
        return null;
      }
      if (this.#raw !== null && this.#raw.length > 0) {
        const out = this.#decode();
        if (out !== null && out.length > 0) {
          // The last bytes of the body: drop the connection now (the read buffer stays valid).
          if (this.#bodyDone()) {
            this.complete = true;
            this.close();
          }
          return out;
        }
        continue;
      }
      if (this.#shift()) continue;
      if (this.#eof) {
        if (this.#framing.kind === 'close') {
          this.#framing = { kind: 'none' };
          continue;
        }
        throw new HttpProtocolError('connection closed before the end of the body');
      }
      await this.#more();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw = null;
    this.#queue.length = 0;
    clearTimeout(this.#timer);
    this.#socket?.destroy();
    this.#notify();
  }
}

/**
 * Send one request and read the response head. The caller reads the body with `read()` and
 * calls `close()` when it stops before the end (on error or early exit).
 */
export async function httpRequest(opts: HttpRequestOptions): Promise<HttpResponse> {
  const x = new Exchange(opts.method, opts.timeoutMs, opts.readBufferBytes ?? READ_BUFFER_BYTES);
  try {
    await x.start(opts);
  } catch (err) {
    x.close();
    throw err;
  }
  return x;
}

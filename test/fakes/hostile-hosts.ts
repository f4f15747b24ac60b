import http from 'node:http';
import net from 'node:net';
import { PNG_1X1 } from './image-host.js';

// Servers for the guarded fetcher's tests.
// - HostileImageHost: a web server an alert's image URL may point at, misbehaving in every way a
//   hostile or broken host can (wrong types, redirects inward, endless bodies, silence). It
//   listens on 127.0.0.1; the tests open that one address with fetch.allowPrivateAddresses, so
//   it stands for a public host.
// - Canary: a bare TCP listener on an internal address (Redis, a metadata service...). It counts
//   connections and bytes: a refusal must leave it at zero, not merely fail after connecting.

export class HostileImageHost {
  private readonly server: http.Server;
  url = '';
  port = 0;
  /** Requests per path. */
  readonly hits = new Map<string, number>();
  /** Bytes the endless body managed to send before the client stopped reading. */
  streamedBytes = 0;

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://host');
    this.hits.set(url.pathname, (this.hits.get(url.pathname) ?? 0) + 1);
    switch (url.pathname) {
      case '/lead.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG_1X1.length }).end(PNG_1X1);
        return;
      case '/png-labelled-text':
        // A real PNG the server calls text: the bytes decide.
        res.writeHead(200, { 'content-type': 'text/plain' }).end(PNG_1X1);
        return;
      case '/html-labelled-png.png':
        res.writeHead(200, { 'content-type': 'image/png' }).end('<!doctype html><html><body>an admin page</body></html>');
        return;
      case '/missing.png':
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
        return;
      case '/down.png':
        res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
        return;
      case '/redirect':
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/lead.png' }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/endless.png':
        this.endless(res, Number(url.searchParams.get('mb') ?? '200') * 1024 * 1024);
        return;
      case '/declared-huge.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(1024 * 1024 * 1024) });
        res.write(PNG_1X1.subarray(0, 16));
        return; // and nothing more
      case '/silent.png':
        return; // never answers
      case '/stalls.png':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(PNG_1X1.subarray(0, 16));
        return; // headers and a few bytes, then silence
      default:
        res.writeHead(404).end();
    }
  }

  /** A chunked PNG-looking body of `total` bytes, written only as fast as the client reads. */
  private endless(res: http.ServerResponse, total: number): void {
    res.writeHead(200, { 'content-type': 'image/png' }); // no Content-Length: chunked
    const chunk = Buffer.alloc(64 * 1024);
    PNG_1X1.copy(chunk, 0, 0, 8);
    let first = true;
    const pump = () => {
      while (this.streamedBytes < total && !res.destroyed) {
        const piece = first ? chunk : Buffer.alloc(chunk.length);
        first = false;
        this.streamedBytes += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    res.on('error', () => undefined);
    pump();
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A TCP listener on an internal address that records every connection and byte it receives. */
export class Canary {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  connections = 0;
  bytes = 0;
  port = 0;

  constructor(readonly host: string) {
    this.server = net.createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('data', (data) => (this.bytes += data.length));
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on `port` (0: any free one). */
  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, resolve);
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get touched(): boolean {
    return this.connections > 0 || this.bytes > 0;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

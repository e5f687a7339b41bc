import { createServer, request, type Agent, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json: () => any;
}

export interface HttpOptions {
  port: number;
  host?: string;
  method?: string;
  /** Sent exactly as given (no normalisation), so tests can try encoding tricks. */
  path?: string;
  headers?: Record<string, string | string[] | number>;
  body?: string | Buffer;
  /** Send the body chunked (no Content-Length), in these pieces. */
  chunks?: (string | Buffer)[];
  agent?: Agent | false;
  timeoutMs?: number;
  /** With TLS client options the request goes over HTTPS (HTTP/1.1). */
  tls?: { ca?: string; cert?: string; key?: string; servername?: string };
}

/** One HTTP request on loopback; resolves with the whole response. */
export function httpRequest(o: HttpOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[] | number> = { ...(o.headers ?? {}) };
    if (o.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = Buffer.byteLength(o.body);
    const options = { host: o.host ?? '127.0.0.1', port: o.port, method: o.method ?? 'GET', path: o.path ?? '/', headers, agent: o.agent ?? false };
    const send = o.tls ? (cb: (res: IncomingMessage) => void) => httpsRequest({ ...options, ...o.tls }, cb) : (cb: (res: IncomingMessage) => void) => request(options, cb);
    const req = send((res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 15000, () => req.destroy(new Error('test request timed out')));
    req.on('error', reject);
    if (o.chunks) {
      for (const c of o.chunks) req.write(c);
      req.end();
    } else req.end(o.body);
  });
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface TestUpstream {
  port: number;
  url: string;
  requests: RecordedRequest[];
  server: Server;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: RecordedRequest, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

/** A loopback upstream that records every request; by default answers 200 with a small JSON body. */
export async function startUpstream(handler?: UpstreamHandler): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const server = createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on('data', (c: Buffer) => chunks.push(c));
    raw.on('end', () => {
      const rec = { method: raw.method ?? '', url: raw.url ?? '', headers: raw.headers, body: Buffer.concat(chunks) };
      requests.push(rec);
      if (handler) return void Promise.resolve(handler(rec, res, raw)).catch(() => res.destroy());
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
      res.end(JSON.stringify({ ok: true, path: rec.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls until `cond` holds; fails after the deadline. Never a bare sleep. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

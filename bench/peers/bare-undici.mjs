// Peer: the least a Node forwarder on undici can do — node:http + one keep-alive Pool per target and
// pool.dispatch() with a low-level handler; no routing, no plugins, no promise or stream per request.
//   node bench/peers/bare-undici.mjs <port> <upstream-url>
import { createServer } from 'node:http';
import { Pool, util } from 'undici';

const { headerNameToString } = util;

const port = Number(process.argv[2] ?? 18094);
const target = process.argv[3] ?? 'http://127.0.0.1:19000';
const pool = new Pool(target, { connections: 256, keepAliveTimeout: 65_000 });
// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection; undici rejects some outright.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const MAX_BODY = 1 << 20; // the bench sends 1 KB; the cap keeps the buffer bounded

/**
 * One exchange: the buffered request body, then undici's low-level callbacks for the response
 * (the raw-header shape, which undici takes unwrapped: header names and values arrive as a flat
 * array of buffers and are passed on as strings, with no object built).
 */
class Forward {
  constructor(req, res) {
    Object.assign(this, { req, res, chunks: [], size: 0, abort: null, resume: null });
  }
  onConnect(abort) {
    this.abort = abort;
  }
  onHeaders(status, raw, resume) {
    if (status < 200) return true;
    const flat = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = headerNameToString(raw[i]);
      if (!HOP.has(name)) flat.push(name, raw[i + 1].toString('latin1'));
    }
    this.resume = resume;
    this.res.writeHead(status, flat);
    return true;
  }
  onData(chunk) {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resume); // the client is slower than the upstream: wait for its socket
    return false;
  }
  onComplete() {
    this.res.end();
  }
  onError(err) {
    if (this.res.destroyed) return; // the client left first
    if (this.res.headersSent) return this.res.destroy(err);
    this.res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"bad gateway"}');
  }
}

function forward(f) {
  const raw = f.req.rawHeaders;
  const headers = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  headers.push('x-forwarded-for', f.req.socket.remoteAddress); // as bare-proxy (xfwd) and nginx do
  const body = f.size === 0 ? null : f.chunks.length === 1 ? f.chunks[0] : Buffer.concat(f.chunks, f.size);
  pool.dispatch({ path: f.req.url, method: f.req.method, headers, body }, f);
}

const server = createServer((req, res) => {
  const f = new Forward(req, res);
  req.on('data', (c) => (f.size += c.length) <= MAX_BODY && f.chunks.push(c));
  req.on('end', () => (f.size <= MAX_BODY ? forward(f) : res.writeHead(413, { connection: 'close' }).end()));
  res.on('close', () => res.writableFinished || f.abort?.(new Error('client closed')));
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`bare-undici listening on ${port} → ${target}\n`));
const stop = () => server.close(() => pool.close().then(() => process.exit(0))) && server.closeAllConnections();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

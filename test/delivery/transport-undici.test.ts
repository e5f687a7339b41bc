/**
 * Egress attempts over undici (sendSigned through the SSRF guard's dispatchers), against loopback
 * receivers only: signed deliveries, the guard at connect time (literal IPs refused before any
 * socket, names refused after the lookup), the absolute deadline, keep-alive reuse, and the bounded
 * per-endpoint TLS agents. Every wait is on an event; no sleep stands in for synchronisation.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { EgressDispatchers } from '../../gateway/delivery/egress-dispatcher.js';
import { signatureHeader } from '../../gateway/delivery/sign.js';
import { SsrfGuard } from '../../gateway/delivery/ssrf.js';
import { sendSigned, type SignedPost } from '../../gateway/delivery/transport.js';
import { compileConfig } from '../support/snapshot.js';
import { openResources } from './resources.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const { onClose } = openResources();
const OPEN = { egress: { allowCidrs: ['127.0.0.1/32'] } };
const BLOCKED_LITERAL = /^destination 127\.0\.0\.1 is blocked by the SSRF guard \(loopback\); to allow it, add "127\.0\.0\.1\/32" to egress\.allowCidrs$/;
const BLOCKED_NAME = /^destination (127\.0\.0\.1|::1) \(resolved from "localhost"\) is blocked by the SSRF guard \(loopback\)/;

interface Received {
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  url: string;
  body: string;
}

/** A loopback HTTP receiver that counts the connections it accepted and records each request. */
async function receiver(handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, res) => res.end('ok')) {
  const requests: Received[] = [];
  const sockets: Socket[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, rawHeaders: req.rawHeaders, url: req.url ?? '', body: Buffer.concat(chunks).toString() });
      handler(req, res);
    });
  });
  server.on('connection', (s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onClose(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as AddressInfo).port;
  return { port, url: `http://127.0.0.1:${port}`, requests, sockets };
}

/** A raw loopback listener that accepts and never answers (a stalled TLS handshake for https). */
async function silent(): Promise<{ port: number; sockets: Socket[]; accepted: Promise<Socket> }> {
  const sockets: Socket[] = [];
  let first!: (s: Socket) => void;
  const accepted = new Promise<Socket>((r) => (first = r));
  const server: NetServer = createNetServer((s) => {
    s.on('error', () => {});
    // Reads (and drops) the ClientHello so the client's close is seen; never answers.
    s.resume();
    sockets.push(s);
    first(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onClose(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return { port: (server.address() as AddressInfo).port, sockets, accepted };
}

async function snapshot(config: Record<string, unknown>) {
  const snap = await compileConfig(config);
  onClose(() => snap.dispose());
  return snap;
}

function post(url: string, extra: Partial<SignedPost> = {}): SignedPost {
  return { url, msgId: 'msg_1', body: Buffer.from('{"type":"a.b"}'), secrets: [SECRET], nowMs: Date.now(), timeoutMs: 5000, ...extra };
}

describe('sendSigned over undici', () => {
  test('a delivery arrives signed; status, Retry-After and the first 4096 bytes of the answer are kept', async () => {
    const rx = await receiver((_q, res) => {
      res.writeHead(503, { 'retry-after': '7' });
      res.end('x'.repeat(5000));
    });
    const snap = await snapshot(OPEN);
    const nowMs = Date.now();
    const body = Buffer.from('{"type":"a.b","data":{"n":1}}');
    const r = await sendSigned(snap, post(`${rx.url}/hook?q=1`, { body, nowMs, headers: { 'Content-Type': 'text/plain', 'x-tenant': 'acme', 'user-agent': 'hookgate' } }));
    assert.equal(r.status, 503);
    assert.equal(r.timedOut, false);
    assert.equal(r.retryAfter, '7');
    assert.equal(r.response, 'x'.repeat(4096));
    assert.equal(r.error, undefined);
    const got = rx.requests[0]!;
    assert.equal(got.url, '/hook?q=1');
    assert.equal(got.body, body.toString());
    assert.equal(got.headers['webhook-id'], 'msg_1');
    const ts = Math.floor(nowMs / 1000);
    assert.equal(got.headers['webhook-timestamp'], String(ts));
    assert.equal(got.headers['webhook-signature'], signatureHeader('msg_1', ts, body, [SECRET]));
    assert.equal(got.headers['x-tenant'], 'acme');
    assert.equal(got.headers['user-agent'], 'hookgate');
    // Case-insensitive merge: the endpoint's Content-Type is replaced, not sent beside ours.
    assert.deepEqual(got.rawHeaders.filter((_v, i) => i % 2 === 0 && got.rawHeaders[i]!.toLowerCase() === 'content-type').length, 1);
    assert.equal(got.headers['content-type'], 'application/json');
  });

  test('keep-alive: consecutive sends to an origin reuse one connection, even after a body longer than the kept head', async () => {
    const rx = await receiver((_q, res) => res.end('y'.repeat(20000)));
    const snap = await snapshot(OPEN);
    for (let i = 0; i < 3; i++) assert.equal((await sendSigned(snap, post(`${rx.url}/k${i}`))).status, 200);
    assert.equal(rx.requests.length, 3);
    assert.equal(rx.sockets.length, 1, 'one connection for all three');
  });

  test('URL credentials go as Basic auth; redirects are answers, not followed', async () => {
    const rx = await receiver((q, res) => {
      if (q.url === '/moved') return res.writeHead(302, { location: '/there' }).end();
      res.end('ok');
    });
    const snap = await snapshot(OPEN);
    const r = await sendSigned(snap, post(`http://us%40er:p%3Ass@127.0.0.1:${rx.port}/moved`));
    assert.equal(r.status, 302);
    assert.equal(rx.requests.length, 1, 'the Location was not followed');
    assert.equal(rx.requests[0]!.headers.authorization, `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
  });

  test('a blocked literal IP is refused with HG_ENDPOINT_URL_BLOCKED before any connection, http and https', async () => {
    const rx = await receiver();
    const snap = await snapshot({});
    for (const scheme of ['http', 'https']) {
      const r = await sendSigned(snap, post(`${scheme}://127.0.0.1:${rx.port}/hook`));
      assert.equal(r.status, 0, scheme);
      assert.equal(r.timedOut, false);
      assert.match(r.error ?? '', BLOCKED_LITERAL, scheme);
    }
    // The code, through the dispatcher itself.
    await assert.rejects(snap.ssrf.dispatcher(undefined, 5000).request({ origin: rx.url, path: '/', method: 'POST' }), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'HG_ENDPOINT_URL_BLOCKED');
      assert.match(e.message, BLOCKED_LITERAL);
      return true;
    });
    // An allowed send afterwards is accepted after any earlier connection would have been.
    const open = await snapshot(OPEN);
    assert.equal((await sendSigned(open, post(`${rx.url}/allowed`))).status, 200);
    assert.equal(rx.sockets.length, 1, 'only the allowed send connected');
    assert.deepEqual(rx.requests.map((q) => q.url), ['/allowed']);
  });

  test('a name resolving to a blocked address (localhost) is refused at connect, with the TLS settings too', async () => {
    const rx = await receiver();
    const snap = await snapshot({});
    for (const [url, tls] of [[`http://localhost:${rx.port}/h`, undefined], [`https://localhost:${rx.port}/h`, { servername: 'example.test' }]] as const) {
      const r = await sendSigned(snap, post(url, tls ? { tls } : {}));
      assert.equal(r.status, 0, url);
      assert.match(r.error ?? '', BLOCKED_NAME, url);
    }
    await assert.rejects(snap.ssrf.dispatcher(undefined, 5000).request({ origin: `http://localhost:${rx.port}`, path: '/', method: 'POST' }), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'HG_ENDPOINT_URL_BLOCKED');
      return true;
    });
    const open = await snapshot(OPEN);
    assert.equal((await sendSigned(open, post(`${rx.url}/allowed`))).status, 200);
    assert.equal(rx.sockets.length, 1, 'only the allowed send connected');
  });

  test('the deadline ends an attempt whose body trickles: status 0, timedOut, and the socket is closed', async () => {
    const DEADLINE = 400;
    let timer: NodeJS.Timeout | undefined;
    onClose(async () => clearInterval(timer));
    const rx = await receiver((_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      timer = setInterval(() => res.write('z'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const snap = await snapshot(OPEN);
    const r = await sendSigned(snap, post(`${rx.url}/slow`, { timeoutMs: DEADLINE }));
    assert.equal(r.status, 0, 'a 2xx whose body never finished is not a delivery');
    assert.equal(r.timedOut, true);
    assert.equal(r.error, `timed out after ${DEADLINE} ms`);
    assert.ok(r.durationMs >= DEADLINE - 5 && r.durationMs < DEADLINE + 3000, `took ${r.durationMs} ms`);
    const s = rx.sockets[0]!;
    if (!s.destroyed) await once(s, 'close');
    assert.equal(rx.sockets.length, 1);
  });

  test('the deadline also ends an attempt stuck before its request is sent (a TLS handshake that never answers)', async () => {
    const DEADLINE = 300;
    const l = await silent();
    const snap = await snapshot(OPEN);
    const r = await sendSigned(snap, post(`https://127.0.0.1:${l.port}/h`, { timeoutMs: DEADLINE }));
    assert.equal(r.timedOut, true);
    assert.equal(r.status, 0);
    assert.equal(r.error, `timed out after ${DEADLINE} ms`);
    assert.ok(r.durationMs >= DEADLINE - 5 && r.durationMs < DEADLINE + 3000, `took ${r.durationMs} ms`);
    // The stalled connect is not kept: it ends once the longest deadline seen has passed.
    const s = await l.accepted;
    if (!s.destroyed) await once(s, 'close');
  });

  test('a header value undici would refuse is status 0 with the reason, never a throw, and nothing is sent', async () => {
    const rx = await receiver();
    const snap = await snapshot(OPEN);
    const r = await sendSigned(snap, post(`${rx.url}/h`, { headers: { 'x-a': 'a\r\nb' } }));
    assert.equal(r.status, 0);
    assert.match(r.error ?? '', /Invalid character in header content \["x-a"\]/);
    assert.ok(!(r.error ?? '').includes('a\r\nb'));
    const bad = await sendSigned(snap, post(`${rx.url}/h`, { headers: { 'x y': 'v' } }));
    assert.match(bad.error ?? '', /valid HTTP token/);
    assert.equal((await sendSigned(snap, post('not a url'))).error, 'invalid URL');
    assert.equal(rx.requests.length, 0);
  });

  test('closing the guard closes its sockets; a send after that is an error, not a throw', async () => {
    const rx = await receiver();
    const guard = new SsrfGuard({ allowCidrs: ['127.0.0.1/32'] });
    const snap = await snapshot(OPEN);
    const viaGuard = { ...snap, ssrf: guard } as typeof snap;
    assert.equal((await sendSigned(viaGuard, post(`${rx.url}/a`))).status, 200);
    const s = rx.sockets[0]!;
    await guard.close();
    if (!s.destroyed) await once(s, 'close');
    const after = await sendSigned(viaGuard, post(`${rx.url}/b`));
    assert.equal(after.status, 0);
    assert.match(after.error ?? '', /closed/);
  });
});

describe('per-endpoint TLS agents', () => {
  test('one agent per set of TLS settings, reused for the same PEMs, the least recently used closed beyond the bound', async () => {
    const guard = new SsrfGuard({});
    const d = new EgressDispatchers(guard, { tlsAgents: 2 });
    onClose(() => d.close());
    const shared = d.for(undefined, 1000);
    assert.equal(d.for({}, 1000), shared, 'no settings: the shared agent');
    const a = d.for({ servername: 'a.test' }, 1000);
    const b = d.for({ servername: 'b.test' }, 1000);
    assert.notEqual(a, shared);
    assert.notEqual(a, b);
    assert.equal(d.for({ servername: 'a.test' }, 1000), a, 'same settings, same agent (and a is now the most recent)');
    d.for({ servername: 'c.test' }, 1000);
    assert.equal(d.tlsAgentCount, 2);
    assert.equal(d.for({ servername: 'a.test' }, 1000), a, 'a was kept');
    assert.notEqual(d.for({ servername: 'b.test' }, 1000), b, 'b was evicted (and closed)');
    assert.equal((b as unknown as { closed: boolean }).closed, true);
    guard.destroy();
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startGateway, type TestGateway } from './support/gateway.js';

/** A loopback upstream that accepts WebSocket-style upgrades and echoes every byte back. */
async function startEchoUpgrade(): Promise<{ port: number; seen: IncomingMessage[]; close(): Promise<void> }> {
  const seen: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    seen.push(req);
    sockets.add(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Sends an upgrade request; resolves with the upgraded socket, or with the refusal's status and body. */
function upgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<{ socket?: Socket; status?: number; body?: string; headers?: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { connection: 'Upgrade', upgrade: 'websocket', ...headers } });
    req.on('upgrade', (res, socket) => resolve({ socket, status: res.statusCode, headers: res.headers }));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('upgrade timed out')));
    req.end();
  });
}

let g: TestGateway;
let echo: Awaited<ReturnType<typeof startEchoUpgrade>>;

before(async () => {
  echo = await startEchoUpgrade();
  g = await startGateway(`
upstreams:
  ws: { targets: [ { url: "http://127.0.0.1:${echo.port}" } ] }
routes:
  - name: live
    path: /live/*
    stripPrefix: true
    websocket: true
    plugins:
      - key-auth: { keys: [ { key: "ws-key-0123456789", consumer: partner } ] }
    upstream: ws
  - name: plain
    path: /plain
    upstream: ws
`);
});

after(async () => {
  await g.stop();
  await echo.close();
});

test('a websocket route passes the upgrade through after its request phase, and bytes flow both ways', async () => {
  const r = await upgrade(g.port, '/live/feed?x=1', { apikey: 'ws-key-0123456789' });
  assert.equal(r.status, 101);
  assert.ok(r.socket);
  r.socket.write('ping-123');
  const [chunk] = await once(r.socket, 'data');
  assert.equal(String(chunk), 'ping-123');
  r.socket.destroy();
  const seen = echo.seen.at(-1)!;
  assert.equal(seen.url, '/feed?x=1', 'stripPrefix applies to upgrades too');
  assert.equal(seen.headers.upgrade, 'websocket');
  assert.ok(String(seen.headers['x-forwarded-for']).includes('127.0.0.1'));
});

test("the route's plugins can refuse an upgrade: the client gets the plugin's error, not a socket", async () => {
  const before = echo.seen.length;
  const r = await upgrade(g.port, '/live/feed');
  assert.equal(r.status, 401);
  assert.equal(JSON.parse(r.body!).error.code, 'HG_AUTH_INVALID');
  assert.equal(echo.seen.length, before, 'the upstream never saw it');
});

test('an upgrade on a route without websocket: true is refused with HG_UPGRADE_REFUSED; unknown paths with 404', async () => {
  const r = await upgrade(g.port, '/plain');
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body!).error.code, 'HG_UPGRADE_REFUSED');
  const n = await upgrade(g.port, '/nope');
  assert.equal(n.status, 404);
  assert.equal(JSON.parse(n.body!).error.code, 'HG_ROUTE_NOT_FOUND');
});

test('websocket: true on a route without an upstream is a config error', async () => {
  await assert.rejects(startGateway('routes:\n  - name: x\n    path: /x\n    websocket: true\n    respond: { status: 200 }\n'), /websocket: true needs an upstream action/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { guardConnections } from '../gateway/connection-limits.js';
import type { LimitsConfig } from '../gateway/config/types.js';
import { Metrics } from '../gateway/metrics.js';
import { memoryLogger, startGateway } from './support/gateway.js';
import { waitUntil } from './support/http.js';
import { parseResponse, rawConnect, within, type RawClient } from './support/raw-socket.js';

const routes = `
routes:
  - name: ok
    path: /ok
    respond: { status: 200, body: { ok: true } }
`;

/** One GET /ok from `localAddress` on a fresh connection: its status, or 0 when the connection was cut. */
function getFrom(port: number, localAddress: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/ok', localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

test('a 2 s headersTimeout cuts a client that stopped mid-headers within 3.5 s, with a JSON 408', async () => {
  const g = await startGateway(`limits: { headersTimeoutMs: 2000 }\n${routes}`);
  try {
    const c = await rawConnect(g.port);
    c.write('POST /ok HTTP/1.1\r\nHost: x\r\nX-Partial: ');
    // Node's default check interval (30 s) cut such a client at 18 s; now the deadline holds.
    const ms = await within(c.closed, 3500, 'the headers timeout to close the connection');
    assert.ok(ms >= 1900, `closed after ${ms} ms, before the 2 s timeout`);
    const r = parseResponse(c.received());
    assert.equal(r.status, 408);
    assert.equal(r.json.error.code, 'HG_REQUEST_TIMEOUT');
    assert.equal((await g.request({ path: '/ok' })).status, 200);
  } finally {
    await g.stop();
  }
});

test('connections over maxConnectionsPerIp are closed while another address is still served', async () => {
  const g = await startGateway(`limits: { maxConnectionsPerIp: 5 }\n${routes}`);
  const idle: RawClient[] = [];
  try {
    for (let i = 0; i < 8; i++) idle.push(await rawConnect(g.port, '127.0.0.1'));
    await waitUntil(() => idle.filter((c) => c.isClosed()).length === 3, 5000, 'three connections over the cap to be closed');
    // The first five were accepted and are kept; the three after them were refused.
    assert.deepEqual(idle.map((c) => c.isClosed()), [false, false, false, false, false, true, true, true]);
    // Another client address is unaffected, and a sixth from the capped address is refused.
    assert.equal(await getFrom(g.port, '127.0.0.2'), 200);
    assert.equal(await getFrom(g.port, '127.0.0.1'), 0);
    assert.equal(idle.filter((c) => c.isClosed()).length, 3);
    // Closing the idle ones gives the address its connections back.
    for (const c of idle) c.destroy();
    await waitUntil(async () => (await getFrom(g.port, '127.0.0.1')) === 200, 5000, 'the capped address to be served again');
    const text = await g.gw.metrics.registry.metrics();
    assert.match(text, /hookgate_connections_rejected_total\{reason="max_connections_per_ip"\} [4-9]/);
  } finally {
    for (const c of idle) c.destroy();
    await g.stop();
  }
});

test('maxConnections refuses connections over the total cap at accept', async () => {
  const g = await startGateway(`limits: { maxConnections: 4 }\n${routes}`);
  const idle: RawClient[] = [];
  try {
    // From different addresses, so the per-address cap plays no part.
    for (let i = 0; i < 6; i++) idle.push(await rawConnect(g.port, `127.0.0.${10 + i}`));
    await waitUntil(() => idle.filter((c) => c.isClosed()).length === 2, 5000, 'two connections over the cap to be closed');
    assert.deepEqual(idle.map((c) => c.isClosed()), [false, false, false, false, true, true]);
    idle[0]!.destroy();
    await waitUntil(async () => (await getFrom(g.port, '127.0.0.50')) === 200, 5000, 'a free slot to serve a request');
    assert.match(await g.gw.metrics.registry.metrics(), /hookgate_connections_rejected_total\{reason="max_connections"\} [2-9]/);
  } finally {
    for (const c of idle) c.destroy();
    await g.stop();
  }
});

test('guardConnections sets the timeouts and check interval on a plain node server and shares per-address counts across listeners', async () => {
  const limits: LimitsConfig = { bodyBytes: 1, drainTimeoutMs: 0, headersTimeoutMs: 4000, requestTimeoutMs: 9000, bodyIdleTimeoutMs: 0, maxConnections: 0, maxConnectionsPerIp: 2 };
  const a = createServer((_, res) => res.end('a'));
  const b = createServer((_, res) => res.end('b'));
  const guard = guardConnections(a, limits, memoryLogger().logger, new Metrics());
  guard.attach(b);
  assert.equal(a.headersTimeout, 4000);
  assert.equal(a.requestTimeout, 9000);
  assert.equal((a as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval, 500);
  assert.equal(a.maxConnections, undefined, 'maxConnections 0 leaves Node without a cap');
  await Promise.all([a, b].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))));
  const clients: RawClient[] = [];
  try {
    clients.push(await rawConnect((a.address() as AddressInfo).port));
    clients.push(await rawConnect((b.address() as AddressInfo).port));
    await waitUntil(() => guard.openFrom('127.0.0.1') === 2, 5000, 'both connections to be counted');
    const third = await rawConnect((b.address() as AddressInfo).port);
    clients.push(third);
    await within(third.closed, 5000, 'the third connection from the address to be refused');
    assert.equal(guard.openFrom('127.0.0.1'), 2);
  } finally {
    for (const c of clients) c.destroy();
    await Promise.all([a, b].map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())))));
  }
});

/** A throwaway self-signed certificate from the openssl CLI, or undefined where it is missing. */
function selfSigned(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pem = selfSigned();

test('the per-address cap counts raw TCP connections under a TLS server, before the handshake', { skip: pem ? false : 'openssl not available' }, async () => {
  const limits: LimitsConfig = { bodyBytes: 1, drainTimeoutMs: 0, headersTimeoutMs: 4000, requestTimeoutMs: 9000, bodyIdleTimeoutMs: 0, maxConnections: 0, maxConnectionsPerIp: 1 };
  const server = createHttpsServer({ key: pem!.key, cert: pem!.cert }, (_, res) => res.end('secure'));
  const guard = guardConnections(server, limits, memoryLogger().logger);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const held: RawClient[] = [];
  try {
    held.push(await rawConnect(port));
    await waitUntil(() => guard.openFrom('127.0.0.1') === 1, 5000, 'the first connection to be counted');
    const over = await rawConnect(port);
    held.push(over);
    await within(over.closed, 5000, 'the second connection to be refused');
    held[0]!.destroy();
    await waitUntil(() => guard.openFrom('127.0.0.1') === 0, 5000, 'the first connection to be released');
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'secure');
  } finally {
    for (const c of held) c.destroy();
    await new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
  }
});

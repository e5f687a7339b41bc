/**
 * Upstreams over TLS (`upstreams.<name>.tls`): verification on by default, a CA of one's own, a
 * client certificate, a servername, `insecureSkipVerify` with its warning; for the proxy, for
 * `deliver` (same pools) and for WebSocket upgrades; and located config errors for bad files.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { createDeliveryService } from '../gateway/delivery/service.js';
import { ConfigError } from '../gateway/errors.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { waitUntil } from './support/http.js';
import { compileText } from './support/snapshot.js';
import { startTlsReceiver, testPki, type TlsReceiver } from './support/test-certs-egress.js';

const pki = testPki();
const FILES = { 'pki/ca.crt': pki.ca, 'pki/client.crt': pki.clientCert, 'pki/client.key': pki.clientKey };
const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

async function receiver(opts: { requireClientCert?: boolean } = {}): Promise<TlsReceiver> {
  const r = await startTlsReceiver(opts);
  closers.push(() => r.close());
  return r;
}

async function gatewayWith(yaml: string): Promise<TestGateway> {
  const g = await startGateway(yaml, { files: FILES, services: createDeliveryService });
  closers.push(() => g.stop());
  return g;
}

const route = (upstream: string, path = `/${upstream}/*`) => `  - { name: ${upstream}, path: "${path}", upstream: ${upstream} }`;

describe('proxy to https upstreams', () => {
  test('verified against the configured CA, never against the client Host header; unverifiable is a 502', async () => {
    const r = await receiver();
    const g = await gatewayWith(`
upstreams:
  own-ca: { targets: [ { url: "${r.url}" } ], tls: { ca: pki/ca.crt } }
  named: { targets: [ { url: "${r.url}" } ], tls: { ca: pki/ca.crt, servername: upstream.test } }
  default-roots: { targets: [ { url: "${r.url}" } ] }
routes:
${route('own-ca')}
${route('named')}
${route('default-roots')}
`);
    // The forwarded Host names a host the certificate does not carry: if undici took the SNI
    // and the name to verify from it, this would fail (or a client could steer it).
    const ok = await g.request({ path: '/own-ca/x', headers: { host: 'evil.example' } });
    assert.equal(ok.status, 200, ok.text);
    const seen = r.requests.find((x) => x.url === '/own-ca/x')!;
    assert.equal(seen.headers.host, 'evil.example', 'the Host header itself is forwarded as before');
    assert.equal(seen.servername, false, 'no SNI for an IP target without a servername');

    const named = await g.request({ path: '/named/y', headers: { host: 'evil.example' } });
    assert.equal(named.status, 200, named.text);
    assert.equal(r.requests.find((x) => x.url === '/named/y')?.servername, 'upstream.test');

    const bad = await g.request({ path: '/default-roots/z' });
    assert.equal(bad.status, 502, bad.text);
    assert.equal(bad.json().error.code, 'HG_UPSTREAM_UNAVAILABLE');
    assert.equal(r.requests.filter((x) => x.url === '/default-roots/z').length, 0, 'verification is on by default');
  });

  test('client certificate for an upstream that requires one; insecureSkipVerify works and warns', async () => {
    const mtls = await receiver({ requireClientCert: true });
    const g = await gatewayWith(`
upstreams:
  mtls: { targets: [ { url: "${mtls.url}/base" } ], tls: { ca: pki/ca.crt, cert: pki/client.crt, key: pki/client.key } }
  nocert: { targets: [ { url: "${mtls.url}" } ], tls: { ca: pki/ca.crt } }
  lab: { targets: [ { url: "${mtls.url}" } ], tls: { insecureSkipVerify: true, cert: pki/client.crt, key: pki/client.key } }
routes:
${route('mtls')}
${route('nocert')}
${route('lab')}
`);
    const ok = await g.request({ path: '/mtls/a' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(mtls.requests.find((x) => x.url === '/base/mtls/a')?.clientCert, 'hookgate-client');
    assert.equal((await g.request({ path: '/nocert/a' })).status, 502);
    assert.equal((await g.request({ path: '/lab/a' })).status, 200);
    const warn = g.log.lines.find((l) => l.code === 'HG_TLS_VERIFY_OFF');
    assert.ok(warn, 'insecureSkipVerify is logged');
    assert.equal(warn.upstream, 'lab');
    assert.equal(warn.level, 'warn');
    assert.ok(!JSON.stringify(g.log.lines).includes('PRIVATE KEY'), 'the key is never logged');
  });

  test('deliver reuses the TLS pool: the attempt carries the client certificate', async () => {
    const mtls = await receiver({ requireClientCert: true });
    const g = await gatewayWith(`
upstreams:
  mtls: { targets: [ { url: "${mtls.url}" } ], tls: { ca: pki/ca.crt, cert: pki/client.crt, key: pki/client.key } }
routes:
  - { name: async, path: "/async/*", methods: [POST], deliver: { upstream: mtls } }
`);
    const r = await g.request({ method: 'POST', path: '/async/hook', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 202, r.text);
    await waitUntil(() => mtls.requests.length === 1, 10000, 'the delivery');
    assert.equal(mtls.requests[0]!.url, '/async/hook');
    assert.equal(mtls.requests[0]!.clientCert, 'hookgate-client');
    assert.equal(mtls.requests[0]!.body.toString(), '{"a":1}');
  });
});

describe('WebSocket upgrades to an https upstream', () => {
  test('pass with the upstream TLS options (CA, client certificate) and echo through', async () => {
    const seen: { clientCert: string | undefined }[] = [];
    const sockets = new Set<Socket>();
    const server = createServer({ cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end('plain'));
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      seen.push({ clientCert: (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN as string | undefined });
      sockets.add(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    const port = (server.address() as AddressInfo).port;
    const g = await gatewayWith(`
upstreams:
  ws: { targets: [ { url: "https://127.0.0.1:${port}" } ], tls: { ca: pki/ca.crt, cert: pki/client.crt, key: pki/client.key } }
  ws-nocert: { targets: [ { url: "https://127.0.0.1:${port}" } ], tls: { ca: pki/ca.crt } }
routes:
  - { name: ws, path: "/ws", upstream: ws, websocket: true }
  - { name: ws-nocert, path: "/ws-nocert", upstream: ws-nocert, websocket: true }
`);
    const upgrade = (path: string) =>
      new Promise<{ socket?: Socket; closed?: boolean }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: g.port, path, headers: { connection: 'Upgrade', upgrade: 'websocket' } });
        req.on('upgrade', (_res, socket) => resolve({ socket }));
        req.on('response', (res) => {
          res.resume();
          resolve({ closed: true });
        });
        req.on('error', () => resolve({ closed: true }));
        req.setTimeout(10000, () => req.destroy(new Error('upgrade timed out')));
        req.on('timeout', () => reject(new Error('upgrade timed out')));
        req.end();
      });
    const { socket } = await upgrade('/ws');
    assert.ok(socket, 'upgraded');
    socket.write('ping');
    const [echo] = (await once(socket, 'data')) as [Buffer];
    assert.equal(echo.toString(), 'ping');
    socket.destroy();
    assert.equal(seen[0]?.clientCert, 'hookgate-client');

    const refused = await upgrade('/ws-nocert');
    assert.equal(refused.closed, true, 'without the client certificate the upstream refuses the handshake');
    assert.equal(seen.length, 1);
  });
});

describe('upstream tls config errors', () => {
  const yaml = (tls: string, url = 'https://127.0.0.1:9') => `upstreams:\n  main:\n    targets: [ { url: "${url}" } ]\n    tls: ${tls}\nroutes:\n  - { name: r, path: "/*", upstream: main }\n`;
  test('unreadable or unusable files, and tls without an https target, are located errors', async () => {
    const cases: [string, RegExp, string, string?][] = [
      ['{ ca: missing-ca.pem }', /cannot read ca file .*missing-ca\.pem: ENOENT/, 'upstreams.main.tls.ca'],
      [`{ cert: "${pki.files.clientCert}", key: missing.key }`, /cannot read key file/, 'upstreams.main.tls.key'],
      [`{ cert: "${pki.files.clientCert}", key: "${pki.files.serverKey}" }`, /does not belong to/, 'upstreams.main.tls.key'],
      [`{ ca: "${pki.files.ca}" }`, /has tls settings but no https:\/\/ target/, 'upstreams.main.tls', 'http://127.0.0.1:9'],
    ];
    for (const [tls, re, path, url] of cases) {
      await assert.rejects(compileText(yaml(tls, url)), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, re);
        assert.equal(err.path, path);
        assert.ok(err.line !== undefined);
        assert.ok(!err.message.includes('PRIVATE KEY'));
        return true;
      });
    }
  });
});

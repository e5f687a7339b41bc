import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequestRaw } from 'node:https';
import { join } from 'node:path';
import { startGateway } from './support/gateway.js';
import { startUpstream } from './support/http.js';
import { curlWithHttp2, h2Request, httpsRequest, testPki } from './support/tls.js';

const yamlFor = (upstream: string) => `
upstreams:
  main:
    targets: [ { url: "${upstream}" } ]
routes:
  - name: api
    path: /api/*
    upstream: main
  - name: by-host
    path: /where
    host: hooks.example.test
    respond: { status: 200, body: { host: hooks } }
  - name: close-headers
    path: /close
    respond: { status: 200, headers: { connection: close, keep-alive: "timeout=5", x-kept: "yes" }, body: { ok: true } }
  - name: small
    path: /small
    plugins: [ { size-limit: { bytes: 16 } } ]
    respond: { status: 200, body: { ok: true } }
`;

test('HTTP/2 over ALPN with HTTP/1.1 fallback on the same port', async () => {
  const pki = await testPki();
  const up = await startUpstream();
  const g = await startGateway(yamlFor(up.url), { protocol: 'h2' });
  try {
    const session = h2connect(`https://127.0.0.1:${g.port}`, { ca: pki.ca.cert, servername: 'localhost' });
    await new Promise<void>((r, j) => session.once('connect', () => r()).once('error', j));
    assert.equal(session.alpnProtocol, 'h2');
    session.close();
    const h1 = await new Promise<{ status: number; alpn: string | false | null }>((resolve, reject) => {
      const req = httpsRequestRaw({ host: '127.0.0.1', port: g.port, path: '/api/x', ca: pki.ca.cert, servername: 'localhost', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, alpn: (req.socket as import('node:tls').TLSSocket).alpnProtocol }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(h1.status, 200);
    assert.ok(h1.alpn === false || h1.alpn === 'http/1.1', `ALPN ${String(h1.alpn)}`);
    assert.equal(up.requests.length, 1);
    // Neither protocol leaks HTTP/2 pseudo headers upstream, and Host comes from :authority.
    await g.request({ path: '/api/y', headers: { host: 'hooks.example.test' } });
    const seen = up.requests[1]!.headers;
    assert.equal(Object.keys(seen).filter((k) => k.startsWith(':')).length, 0);
    assert.equal(seen.host, 'hooks.example.test');
    assert.equal(seen['x-forwarded-host'], 'hooks.example.test');
    assert.equal(seen['x-forwarded-proto'], 'https');
  } finally {
    await g.stop();
    await up.close();
  }
});

test('many concurrent streams on one HTTP/2 session are each proxied and answered', async () => {
  const pki = await testPki();
  const up = await startUpstream();
  let connections = 0;
  const g = await startGateway(yamlFor(up.url), { protocol: 'h2' });
  const session = h2connect(`https://127.0.0.1:${g.port}`, { ca: pki.ca.cert, servername: 'localhost' });
  session.on('connect', () => connections++);
  try {
    const one = (i: number) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = session.request({ ':path': `/api/stream/${i}`, ':method': i % 2 ? 'POST' : 'GET' }, { endStream: i % 2 === 0 });
        let status = 0;
        let body = '';
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('data', (c) => (body += c));
        s.on('end', () => resolve({ status, body }));
        s.on('error', reject);
        // Odd streams send a body in DATA frames without content-length.
        if (i % 2) s.end(`body-${i}`);
      });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).path, `/api/stream/${i}`);
    }
    assert.equal(connections, 1);
    assert.equal(up.requests.length, 20);
    for (const r of up.requests.filter((x) => x.method === 'POST')) assert.equal(r.body.toString(), `body-${r.url.split('/').pop()}`);
  } finally {
    session.close();
    await g.stop();
    await up.close();
  }
});

test('routing by host uses :authority; connection-specific response headers are dropped, not fatal; 413 leaves the session usable', async () => {
  const pki = await testPki();
  const up = await startUpstream();
  const g = await startGateway(yamlFor(up.url), { protocol: 'h2' });
  try {
    const hosted = await g.request({ path: '/where', headers: { host: 'hooks.example.test' } });
    assert.equal(hosted.status, 200);
    assert.deepEqual(hosted.json(), { host: 'hooks' });
    assert.equal((await g.request({ path: '/where', headers: { host: 'elsewhere.test' } })).status, 404);

    const closing = await g.request({ path: '/close' });
    assert.equal(closing.status, 200);
    assert.equal(closing.headers['x-kept'], 'yes');
    assert.equal(closing.headers.connection, undefined);
    assert.equal(closing.headers['keep-alive'], undefined);
    // Over HTTP/1.1 (TLS) the same route still sends them.
    const h1 = await httpsRequest({ port: g.port, path: '/close', ca: pki.ca.cert });
    assert.equal(h1.headers.connection, 'close');

    // A body over the cap on one stream: 413, and the next stream on the same session works.
    const session = h2connect(`https://127.0.0.1:${g.port}`, { ca: pki.ca.cert, servername: 'localhost' });
    try {
      const send = (path: string, body?: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const s = session.request({ ':path': path, ':method': body ? 'POST' : 'GET', ...(body ? { 'content-length': body.length } : {}) }, { endStream: !body });
          let status = 0;
          let text = '';
          s.on('response', (h) => (status = Number(h[':status'])));
          s.on('data', (c) => (text += c));
          s.on('close', () => (status ? resolve({ status, body: text }) : reject(new Error(`stream reset ${s.rstCode}`))));
          s.on('error', () => {});
          if (body) s.end(body);
        });
      const big = await send('/small', 'x'.repeat(1000));
      assert.equal(big.status, 413);
      assert.equal(JSON.parse(big.body).error.code, 'HG_BODY_TOO_LARGE');
      const next = await send('/small');
      assert.equal(next.status, 200);
    } finally {
      session.close();
    }
  } finally {
    await g.stop();
    await up.close();
  }
});

test('WebSocket upgrades stay HTTP/1.1: the HTTP/2 listener still routes them', async () => {
  const pki = await testPki();
  const up = await startUpstream();
  const g = await startGateway(yamlFor(up.url), { protocol: 'h2' });
  try {
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequestRaw({ host: '127.0.0.1', port: g.port, path: '/api/ws', ca: pki.ca.cert, servername: 'localhost', agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket' } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('upgrade', () => reject(new Error('unexpected upgrade')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(refused.status, 400);
    assert.equal(JSON.parse(refused.body).error.code, 'HG_UPGRADE_REFUSED');
  } finally {
    await g.stop();
    await up.close();
  }
});

test('curl --http2 with --cacert talks HTTP/2 to the listener', { skip: !curlWithHttp2() && 'curl with HTTP/2 is not on PATH' }, async () => {
  const up = await startUpstream();
  const g = await startGateway(yamlFor(up.url), { protocol: 'h2' });
  try {
    // Asynchronously: the gateway answering curl runs in this process.
    const r = await promisify(execFile)(
      'curl',
      ['-sS', '--http2', '--cacert', join(g.dir, 'tls/ca.pem'), '--resolve', `localhost:${g.port}:127.0.0.1`, '-w', '\n%{http_version} %{http_code}', '-d', '{"n":1}', `https://localhost:${g.port}/api/curl`],
      { encoding: 'utf8', timeout: 15000 },
    );
    const [body, meta] = r.stdout.split('\n');
    assert.equal(meta, '2 200');
    assert.equal(JSON.parse(body!).path, '/api/curl');
    assert.equal(up.requests[0]!.body.toString(), '{"n":1}');
    // And h2Request's view of the same route agrees.
    const pki = await testPki();
    assert.equal((await h2Request({ port: g.port, path: '/api/curl2', ca: pki.ca.cert })).status, 200);
  } finally {
    await g.stop();
    await up.close();
  }
});

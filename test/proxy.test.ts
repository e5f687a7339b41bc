import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { startUpstream } from './support/http.js';
import type { TestGateway } from './support/gateway.js';
import { proxyYaml, withGateway } from './support/proxy.js';
import { PROTOCOLS } from './support/tls.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Every proxy case runs over HTTP/1.1 and over HTTP/2 (TLS, ALPN): the gateway must behave the same.
for (const proto of PROTOCOLS) {
  const withGw = (yaml: string, fn: (g: TestGateway) => Promise<void>) => withGateway(yaml, fn, proto);

  test(`[${proto}] forwards method, path, query and body; returns the upstream status, headers and body`, async () => {
    const up = await startUpstream((req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain', 'x-upstream-said': 'hello', 'set-cookie': ['a=1', 'b=2'] });
      res.end(`got ${req.method} ${req.url} ${req.body.toString()}`);
    });
    try {
      await withGw(proxyYaml([{ url: up.url }]), async (g) => {
        const r = await g.request({ method: 'PUT', path: '/api/items/42?x=1&y=%20z&x=2', headers: { 'content-type': 'application/json', 'x-custom': 'kept' }, body: '{"n":42}' });
        assert.equal(r.status, 201);
        assert.equal(r.headers['x-upstream-said'], 'hello');
        assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
        assert.equal(r.text, 'got PUT /api/items/42?x=1&y=%20z&x=2 {"n":42}');
        assert.equal(up.requests.length, 1);
        const seen = up.requests[0]!;
        assert.equal(seen.method, 'PUT');
        assert.equal(seen.url, '/api/items/42?x=1&y=%20z&x=2');
        assert.equal(seen.headers['content-type'], 'application/json');
        assert.equal(seen.headers['x-custom'], 'kept');
        assert.equal(seen.body.toString(), '{"n":42}');

        // An error status from the upstream is passed through as is, not rewritten.
        const del = await g.request({ method: 'DELETE', path: '/api/gone' });
        assert.equal(del.status, 201);
        assert.equal(up.requests[1]!.method, 'DELETE');
      });
    } finally {
      await up.close();
    }
  });

  test(`[${proto}] a target URL with a base path is prefixed; stripPrefix drops the matched prefix; HEAD is proxied without a body`, async () => {
    const up = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(req.url)) });
      res.end(req.method === 'HEAD' ? undefined : req.url);
    });
    try {
      const yaml = `
upstreams:
  based:
    targets: [ { url: "${up.url}/base" } ]
  plain:
    targets: [ { url: "${up.url}" } ]
routes:
  - name: based
    path: /b/*
    upstream: based
  - name: stripped
    path: /svc/v1/*
    stripPrefix: true
    upstream: plain
  `;
      await withGw(yaml, async (g) => {
        assert.equal((await g.request({ path: '/b/x/y?q=1' })).text, '/base/b/x/y?q=1');
        assert.equal((await g.request({ path: '/svc/v1/orders/7?z=%2F' })).text, '/orders/7?z=%2F');
        assert.equal((await g.request({ path: '/svc/v1' })).text, '/');
        const head = await g.request({ method: 'HEAD', path: '/svc/v1/abc' });
        assert.equal(head.status, 200);
        assert.equal(head.headers['content-length'], String('/abc'.length));
        assert.equal(head.body.length, 0);
      });
    } finally {
      await up.close();
    }
  });

  test(`[${proto}] streams a large request body (Content-Length and chunked) and a large response intact`, async () => {
    const big = randomBytes(6 * 1024 * 1024);
    const up = await startUpstream((req, res) => {
      if (req.url.startsWith('/api/download')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        // Several writes without a Content-Length: the response is streamed chunked.
        for (let i = 0; i < big.length; i += 1 << 20) res.write(big.subarray(i, i + (1 << 20)));
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${req.body.length} ${sha256(req.body)} ${req.headers['transfer-encoding'] ?? '-'}`);
    });
    try {
      await withGw(proxyYaml([{ url: up.url }], '', 'limits: { bodyBytes: 16777216 }'), async (g) => {
        const r = await g.request({ method: 'POST', path: '/api/upload', body: big });
        assert.equal(r.status, 200);
        assert.equal(r.text, `${big.length} ${sha256(big)} -`);

        const pieces: Buffer[] = [];
        for (let i = 0; i < big.length; i += 700_000) pieces.push(big.subarray(i, i + 700_000));
        const c = await g.request({ method: 'POST', path: '/api/upload', chunks: pieces });
        assert.equal(c.status, 200);
        assert.equal(c.text, `${big.length} ${sha256(big)} chunked`);

        const d = await g.request({ path: '/api/download' });
        assert.equal(d.status, 200);
        assert.equal(d.body.length, big.length);
        assert.equal(sha256(d.body), sha256(big));
      });
    } finally {
      await up.close();
    }
  });

  test(`[${proto}] weighted round-robin: weights 1 and 2 split 30 requests exactly 10:20, interleaved`, async () => {
    const a = await startUpstream();
    const b = await startUpstream();
    try {
      await withGw(proxyYaml([{ url: a.url, weight: 1 }, { url: b.url, weight: 2 }]), async (g) => {
        const order: string[] = [];
        for (let i = 0; i < 30; i++) {
          const before = a.requests.length;
          const r = await g.request({ path: `/api/n/${i}` });
          assert.equal(r.status, 200);
          order.push(a.requests.length > before ? 'a' : 'b');
        }
        assert.equal(a.requests.length, 10);
        assert.equal(b.requests.length, 20);
        // Smooth WRR never sends the light target twice in a row, nor the heavy one three times.
        const s = order.join('');
        assert.ok(!s.includes('aa'), s);
        assert.ok(!s.includes('bbb'), s);
      });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test(`[${proto}] hop-by-hop headers are stripped both ways; X-Forwarded-* and X-Request-Id are set`, async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        connection: 'x-hop-res',
        'x-hop-res': 'secret-res',
        'keep-alive': 'timeout=1234',
        'proxy-authenticate': 'Basic realm="up"',
        trailer: 'x-trailer',
        'x-end-to-end': 'kept',
      });
      res.end('ok');
    });
    try {
      await withGw(proxyYaml([{ url: up.url }]), async (g) => {
        const r = await g.request({
          path: '/api/hop',
          headers: {
            host: 'hooks.example.test',
            connection: 'keep-alive, x-foo',
            'x-foo': 'must-not-pass',
            'keep-alive': 'timeout=99',
            te: 'trailers',
            // No "upgrade" token in Connection, so this is a plain request carrying a stray Upgrade header.
            upgrade: 'h2c',
            'proxy-authorization': 'Basic c2VjcmV0OnNlY3JldA==',
            'x-forwarded-for': '203.0.113.9',
            'x-end-to-end': 'kept',
          },
        });
        assert.equal(r.status, 200);
        const h = up.requests[0]!.headers;
        // HTTP/2 has no Connection header, so there x-foo is an ordinary header.
        const hop = proto === 'http1' ? ['x-foo', 'te', 'upgrade', 'proxy-authorization'] : ['te', 'proxy-authorization'];
        for (const name of hop) assert.equal(h[name], undefined, `${name} must not reach the upstream`);
        assert.notEqual(h['keep-alive'], 'timeout=99');
        assert.notEqual(h.connection ?? '', 'keep-alive, x-foo');
        assert.equal(h['x-end-to-end'], 'kept');
        assert.equal(h['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
        assert.equal(h['x-forwarded-proto'], proto === 'h2' ? 'https' : 'http');
        assert.equal(h['x-forwarded-host'], 'hooks.example.test');
        assert.match(String(h['x-request-id']), /^[0-9a-f-]{36}$/);

        for (const name of ['x-hop-res', 'proxy-authenticate', 'trailer']) assert.equal(r.headers[name], undefined, `${name} must not reach the client`);
        assert.notEqual(r.headers['keep-alive'], 'timeout=1234');
        assert.notEqual(r.headers.connection, 'x-hop-res');
        assert.equal(r.headers['x-end-to-end'], 'kept');

        // A client without X-Forwarded-For gets just its own address; ids are fresh per request.
        await g.request({ path: '/api/hop2' });
        const h2 = up.requests[1]!.headers;
        assert.equal(h2['x-forwarded-for'], '127.0.0.1');
        assert.notEqual(h2['x-request-id'], h['x-request-id']);
      });
    } finally {
      await up.close();
    }
  });

  test(`[${proto}] keep-alive connections to the upstream are reused across sequential requests`, async () => {
    const up = await startUpstream();
    let connections = 0;
    up.server.on('connection', () => connections++);
    try {
      await withGw(proxyYaml([{ url: up.url }]), async (g) => {
        for (let i = 0; i < 20; i++) {
          const r = await g.request({ method: i % 2 ? 'POST' : 'GET', path: `/api/k/${i}`, body: i % 2 ? 'x'.repeat(100) : undefined });
          assert.equal(r.status, 200);
        }
        assert.equal(up.requests.length, 20);
        assert.ok(connections <= 2, `expected the agent to reuse its connection, saw ${connections} connections for 20 requests`);
      });
    } finally {
      await up.close();
    }
  });

  test(`[${proto}] healthz and readyz answer, and unknown paths get a JSON 404`, async () => {
    await withGw(proxyYaml([{ url: 'http://127.0.0.1:9' }]), async (g) => {
      const h = await g.request({ path: '/healthz' });
      assert.equal(h.status, 200);
      assert.deepEqual(h.json(), { status: 'ok' });
      const r = await g.request({ path: '/readyz' });
      assert.equal(r.status, 200);
      assert.equal(r.json().status, 'ready');
      assert.equal(r.json().store, 'memory');
      const n = await g.request({ path: '/nope' });
      assert.equal(n.status, 404);
      assert.equal(typeof n.json().error.code, 'string');
    });
  });
}

test('a client cannot delete a header a plugin set by naming it in Connection; its own named headers are still stripped', async () => {
  const up = await startUpstream();
  try {
    await withGateway(
      `
upstreams:
  main: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: api
    path: /api/*
    plugins:
      - headers: { request: { add: { x-tenant: by-plugin } } }
    upstream: main
  - name: plain
    path: /plain/*
    upstream: main
`,
      async (g) => {
        const r = await g.request({
          path: '/api/tenant',
          headers: { connection: 'keep-alive, X-Tenant, x-client-hop', 'x-tenant': 'by-plugin', 'x-client-hop': 'must-not-pass', 'x-end-to-end': 'kept' },
        });
        assert.equal(r.status, 200);
        const h = up.requests[0]!.headers;
        assert.equal(h['x-tenant'], 'by-plugin', 'the plugin set it (even to the value the client sent): it is forwarded');
        assert.equal(h['x-client-hop'], undefined, 'a client header named in Connection is hop-by-hop');
        assert.equal(h['x-end-to-end'], 'kept');
        // On a route whose plugins rewrite nothing, the client's named headers are stripped too.
        const r2 = await g.request({ path: '/plain/tenant', headers: { connection: 'x-tenant', 'x-tenant': 'client' } });
        assert.equal(r2.status, 200);
        assert.equal(up.requests[1]!.headers['x-tenant'], undefined);
      },
    );
  } finally {
    await up.close();
  }
});

// HTTP/1.1 keep-alive (HTTP/2 multiplexing on one session is covered in http2.test.ts).
test('a client keep-alive connection carries many proxied requests', async () => {
  const up = await startUpstream();
  try {
    await withGateway(proxyYaml([{ url: up.url }]), async (g) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let sockets = 0;
      try {
        for (let i = 0; i < 10; i++) {
          const status = await new Promise<number>((resolve, reject) => {
            const req = request({ host: '127.0.0.1', port: g.port, path: `/api/c/${i}`, agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            });
            req.on('socket', (s) => {
              if (!(s as unknown as { _hgSeen?: boolean })._hgSeen) {
                (s as unknown as { _hgSeen?: boolean })._hgSeen = true;
                sockets++;
              }
            });
            req.on('error', reject);
            req.end();
          });
          assert.equal(status, 200);
        }
        assert.equal(sockets, 1);
      } finally {
        agent.destroy();
      }
    });
  } finally {
    await up.close();
  }
});

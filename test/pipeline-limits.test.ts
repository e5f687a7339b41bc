import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '../gateway/context.js';
import type { PluginDefinition } from '../gateway/plugin.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/http.js';
import { parseResponse, rawConnect, rawExchange, within } from './support/raw-socket.js';

/** What the log phase saw of each request: the status and code the access log records. */
const seen: { route: string; status: number; code: string | undefined }[] = [];

const testPlugins: PluginDefinition[] = [
  {
    name: 'never-settles',
    schema: { type: 'object' },
    create: () => ({ onRequest: () => new Promise<void>(() => {}) }),
  },
  {
    name: 'reads-body',
    schema: { type: 'object' },
    create: () => ({ needsBody: true, onRequest: () => undefined }),
  },
  {
    name: 'answers',
    schema: { type: 'object', properties: { status: { type: 'integer' }, header: { type: 'string' } } },
    create: (p: { status: number; header?: string }) => ({ onRequest: () => ({ status: p.status, headers: p.header === undefined ? {} : { 'x-bad': p.header }, body: { refused: true } }) }),
  },
  {
    name: 'observe',
    schema: { type: 'object' },
    create: () => ({ onLog: (ctx: Context) => void seen.push({ route: ctx.routeName, status: ctx.status, code: ctx.errorCode }) }),
  },
];

function yaml(up: TestUpstream, limits: string): string {
  return `
limits: ${limits}
plugins: [ { observe: {} } ]
upstreams:
  up: { targets: [ { url: "${up.url}" } ], timeoutMs: 60000 }
routes:
  - name: stall
    path: /stall
    plugins: [ { never-settles: {} } ]
    upstream: up
  - name: buffered
    path: /buffered
    plugins: [ { reads-body: {} } ]
    upstream: up
  - name: proxied
    path: /proxied/*
    upstream: up
  - name: bad-header
    path: /bad-header
    plugins: [ { answers: { status: 403, header: "a\\nb" } } ]
    upstream: up
  - name: bad-status
    path: /bad-status
    plugins: [ { answers: { status: 42 } } ]
    upstream: up
`;
}

async function withGateway(limits: string, fn: (g: TestGateway, up: TestUpstream) => Promise<void>, upstream?: Parameters<typeof startUpstream>[0]): Promise<void> {
  const up = await startUpstream(upstream);
  const g = await startGateway(yaml(up, limits), { plugins: testPlugins });
  seen.length = 0;
  try {
    await fn(g, up);
  } finally {
    await g.stop();
    await up.close();
  }
}

test('a plugin promise that never settles is cut by limits.requestTimeoutMs with a 504, seen by the log phase and the metrics', async () => {
  await withGateway('{ requestTimeoutMs: 1000 }', async (g, up) => {
    const started = performance.now();
    const r = await g.request({ path: '/stall' });
    const ms = performance.now() - started;
    assert.equal(r.status, 504);
    assert.equal(r.json().error.code, 'HG_DEADLINE_EXCEEDED');
    assert.ok(ms >= 950, `answered after ${ms} ms, before the deadline`);
    assert.equal(up.requests.length, 0);
    assert.deepEqual(seen, [{ route: 'stall', status: 504, code: 'HG_DEADLINE_EXCEEDED' }]);
    assert.match(await g.gw.metrics.registry.metrics(), /hookgate_requests_total\{route="stall",status="504"\} 1/);
    assert.ok(g.log.lines.some((l) => l.code === 'HG_DEADLINE_EXCEEDED' && l.route === 'stall'));
  });
});

test('the deadline covers until the response starts: a streamed upstream response longer than it is not cut', async () => {
  const pieces = 6;
  await withGateway(
    '{ requestTimeoutMs: 1000 }',
    async (g) => {
      const r = await g.request({ path: '/proxied/stream' });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'chunk.'.repeat(pieces));
      assert.deepEqual(seen, [{ route: 'proxied', status: 200, code: undefined }]);
    },
    (_req, res) => {
      // Headers at once, then the body over about 1.5 s: past the 1 s deadline.
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write('chunk.');
        if (++sent === pieces) {
          clearInterval(timer);
          res.end();
        }
      }, 250);
    },
  );
});

for (const [route, length] of [
  ['/buffered', 100],
  ['/proxied/big', 200_000],
] as const) {
  test(`a client that stops sending the body is cut by limits.bodyIdleTimeoutMs (${route}, ${route === '/buffered' ? 'buffered' : 'streamed'})`, async () => {
    await withGateway('{ bodyIdleTimeoutMs: 1000, requestTimeoutMs: 20000 }', async (g, up) => {
      const c = await rawConnect(g.port);
      c.write(`POST ${route} HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n${'x'.repeat(10)}`);
      const ms = await within(c.closed, 5000, 'the body idle timeout to close the connection');
      assert.ok(ms >= 950, `closed after ${ms} ms`);
      const r = parseResponse(c.received());
      assert.equal(r.status, 408);
      assert.equal(r.json.error.code, 'HG_BODY_IDLE_TIMEOUT');
      assert.match(r.headers, /connection: close/i);
      assert.equal(up.requests.length, 0, 'no complete request reached the upstream');
      assert.equal(seen[0]?.code, 'HG_BODY_IDLE_TIMEOUT');
    });
  });
}

test('a body trickled slowly enough to dodge the idle timeout still meets the whole-request deadline (408)', async () => {
  await withGateway('{ bodyIdleTimeoutMs: 1000, requestTimeoutMs: 1500 }', async (g, up) => {
    const c = await rawConnect(g.port);
    c.write('POST /buffered HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n');
    const trickle = setInterval(() => c.write('x'), 200);
    try {
      await within(c.closed, 5000, 'the request deadline to close the connection');
    } finally {
      clearInterval(trickle);
    }
    const r = parseResponse(c.received());
    assert.equal(r.status, 408);
    assert.equal(r.json.error.code, 'HG_REQUEST_TIMEOUT');
    assert.equal(up.requests.length, 0);
  });
});

test('after a 413 that closes the connection, a request pipelined behind it never reaches the upstream', async () => {
  await withGateway('{ bodyBytes: 64 }', async (g, up) => {
    // Every request that starts arriving, even one cut before its end.
    const upstreamSaw: string[] = [];
    up.server.on('request', (req) => upstreamSaw.push(req.url ?? ''));
    const big = 'a'.repeat(100);
    const first = `POST /buffered HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`;
    const second = 'GET /proxied/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const raw = await rawExchange(g.port, first + second);
    const r = parseResponse(raw);
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'HG_BODY_TOO_LARGE');
    assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
    // A later request on the same upstream pool is a barrier: anything dispatched before it has arrived.
    assert.equal((await g.request({ path: '/proxied/after' })).status, 200);
    assert.deepEqual(upstreamSaw, ['/proxied/after']);
    // It did not run at all (a forward cut when the socket closed may never reach the upstream,
    // but it would still have had a log line).
    assert.deepEqual(seen.map((s) => `${s.route} ${s.status}`), ['buffered 413', 'proxied 200']);
  });
});

test('a request pipelined behind one that asked for Connection: close does not run', async () => {
  await withGateway('{}', async (g, up) => {
    const raw = await rawExchange(g.port, 'GET /proxied/first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /proxied/second HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(parseResponse(raw).status, 200);
    assert.equal((await g.request({ path: '/proxied/after' })).status, 200);
    assert.deepEqual(up.requests.map((q) => q.url), ['/proxied/first', '/proxied/after']);
  });
});

test('a plugin response that cannot be written becomes a 500 HG_INTERNAL, and the log records the 500', async () => {
  await withGateway('{}', async (g) => {
    for (const path of ['/bad-header', '/bad-status']) {
      const r = await g.request({ path });
      assert.equal(r.status, 500, path);
      assert.equal(r.json().error.code, 'HG_INTERNAL', path);
    }
    assert.deepEqual(seen, [
      { route: 'bad-header', status: 500, code: 'HG_INTERNAL' },
      { route: 'bad-status', status: 500, code: 'HG_INTERNAL' },
    ]);
    assert.equal(g.log.lines.filter((l) => l.msg === 'the response could not be written; answered 500 instead').length, 2);
    // The connection was answered, not cut: the gateway serves the next request.
    assert.equal((await g.request({ path: '/proxied/next' })).status, 200);
  });
});

test('a request with two Host headers is refused with 400 HG_BAD_REQUEST', async () => {
  await withGateway('{}', async (g, up) => {
    const r = parseResponse(await rawExchange(g.port, 'GET /proxied/x HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n'));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'HG_BAD_REQUEST');
    assert.equal(up.requests.length, 0);
  });
});

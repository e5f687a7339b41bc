import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { waitUntil, type HttpResult } from '../support/http.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/redis.js';
import { startRedisServer } from '../support/redis-server.js';
import { h2Request, PROTOCOLS, testPki } from '../support/tls.js';

/** A request from a chosen loopback source address (the whole 127/8 is local on Linux), in the gateway's protocol. */
async function from(g: TestGateway, localAddress: string, path: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  if (g.protocol === 'h2') return h2Request({ port: g.port, path, headers, localAddress, ca: (await testPki()).ca.cert });
  const port = g.port;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function statuses(g: TestGateway, n: number, path: string, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await g.request({ path, headers })).status);
  return out;
}

function assertLimited(r: HttpResult, points: number, durationSec: number): void {
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json().error.code, 'HG_RATE_LIMITED');
  const retry = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= durationSec, `Retry-After ${r.headers['retry-after']}`);
  assert.equal(r.headers['ratelimit-limit'], String(points));
  assert.equal(r.headers['ratelimit-remaining'], '0');
}

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

// The memory-store cases run over HTTP/1.1 and over HTTP/2 (TLS, ALPN).
for (const proto of PROTOCOLS) {
  test(`[${proto}] memory store, by ip: points per duration with RateLimit-* headers, then 429 with Retry-After`, async () => {
    const g = await startGateway(`
routes:
  - name: r
    path: /r
    plugins:
      - rate-limit: { by: ip, points: 3, durationSec: 60 }
    respond: { status: 200, body: { ok: true } }
`, { protocol: proto });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await from(g, '127.0.0.1', '/r');
        assert.equal(r.status, 200);
        assert.equal(r.headers['ratelimit-limit'], '3');
        assert.equal(r.headers['ratelimit-remaining'], String(2 - i));
        const reset = Number(r.headers['ratelimit-reset']);
        assert.ok(reset >= 1 && reset <= 60, `RateLimit-Reset ${reset}`);
      }
      assertLimited(await from(g, '127.0.0.1', '/r'), 3, 60);
      assertLimited(await from(g, '127.0.0.1', '/r'), 3, 60);
      // Another client address has its own bucket.
      const other = await from(g, '127.0.0.2', '/r');
      assert.equal(other.status, 200);
      assert.equal(other.headers['ratelimit-remaining'], '2');
      // A reload does not hand out a fresh allowance: the count lives beside the store.
      assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
      assertLimited(await from(g, '127.0.0.1', '/r'), 3, 60);
      assert.equal((await from(g, '127.0.0.2', '/r')).headers['ratelimit-remaining'], '1');
    } finally {
      await g.stop();
    }
  });

  test(`[${proto}] memory store: the window resets after durationSec`, async () => {
    const g = await startGateway(`
routes:
  - name: r
    path: /r
    plugins:
      - rate-limit: { by: route, points: 2, durationSec: 1 }
    respond: { status: 200 }
`, { protocol: proto });
    try {
      assert.deepEqual(await statuses(g, 3, '/r'), [200, 200, 429]);
      // Poll (no sleep): the next window lets requests through again.
      await waitUntil(async () => (await g.request({ path: '/r' })).status === 200, 5000, 'the window to reset');
    } finally {
      await g.stop();
    }
  });

  test(`[${proto}] memory store, by consumer after key-auth: each consumer has its own bucket`, async () => {
    const g = await startGateway(`
routes:
  - name: r
    path: /r
    plugins:
      - key-auth: { keys: [ { key: key-alice, consumer: alice }, { key: key-bob, consumer: bob }, { key: key-alice-2, consumer: alice } ] }
      - rate-limit: { by: consumer, points: 2, durationSec: 60 }
    respond: { status: 200 }
`, { protocol: proto });
    try {
      assert.deepEqual(await statuses(g, 2, '/r', { apikey: 'key-alice' }), [200, 200]);
      // Alice's second key is the same consumer: same bucket.
      assertLimited(await g.request({ path: '/r', headers: { apikey: 'key-alice-2' } }), 2, 60);
      assert.deepEqual(await statuses(g, 3, '/r', { apikey: 'key-bob' }), [200, 200, 429]);
      // Rejected callers never reach the limiter.
      assert.equal((await g.request({ path: '/r' })).status, 401);
    } finally {
      await g.stop();
    }
  });

  test(`[${proto}] memory store, by header and by route (with a shared scope)`, async () => {
    const g = await startGateway(`
routes:
  - name: h
    path: /h
    plugins:
      - rate-limit: { by: header, header: X-Tenant, points: 1, durationSec: 60 }
    respond: { status: 200 }
  - name: r1
    path: /r1
    plugins:
      - rate-limit: { by: route, points: 2, durationSec: 60 }
    respond: { status: 200 }
  - name: r2
    path: /r2
    plugins:
      - rate-limit: { by: route, points: 2, durationSec: 60 }
    respond: { status: 200 }
  - name: s1
    path: /s1
    plugins:
      - rate-limit: { by: route, points: 3, durationSec: 60, scope: shared }
    respond: { status: 200 }
  - name: s2
    path: /s2
    plugins:
      - rate-limit: { by: route, points: 3, durationSec: 60, scope: shared }
    respond: { status: 200 }
`, { protocol: proto });
    try {
      assert.deepEqual(await statuses(g, 2, '/h', { 'x-tenant': 'acme' }), [200, 429]);
      assert.deepEqual(await statuses(g, 2, '/h', { 'x-tenant': 'globex' }), [200, 429]);
      assert.deepEqual(await statuses(g, 2, '/h'), [200, 429], 'no header: one shared bucket');

      // by: route counts every caller together, per route.
      assert.equal((await from(g, '127.0.0.1', '/r1')).status, 200);
      assert.equal((await from(g, '127.0.0.3', '/r1')).status, 200);
      assert.equal((await from(g, '127.0.0.4', '/r1')).status, 429);
      assert.deepEqual(await statuses(g, 3, '/r2'), [200, 200, 429], 'another route has its own limit');

      // The same scope on two routes is one limit.
      assert.deepEqual([...(await statuses(g, 2, '/s1')), ...(await statuses(g, 2, '/s2'))], [200, 200, 200, 429]);
    } finally {
      await g.stop();
    }
  });
}

test('by ip behind trusted proxies, without ip-filter: the forwarded client is keyed, IPv6 by its /64 (ipv6Prefix)', async () => {
  const g = await startGateway(`
listen: { host: 127.0.0.1, port: 0, trustedProxies: [127.0.0.1] }
routes:
  - name: r
    path: /r
    plugins:
      - rate-limit: { by: ip, points: 2, durationSec: 60 }
    respond: { status: 200 }
  - name: exact
    path: /exact
    plugins:
      - rate-limit: { by: ip, points: 1, durationSec: 60, ipv6Prefix: 128 }
    respond: { status: 200 }
`);
  try {
    const via = (client: string, path = '/r') => g.request({ path, headers: { 'x-forwarded-for': client } });
    // Two addresses of one /64 share a bucket, in whatever spelling they arrive.
    assert.equal((await via('2001:db8:1:2::a')).status, 200);
    assert.equal((await via('2001:DB8:1:2:0:0:0:B')).status, 200);
    assertLimited(await via('[2001:db8:1:2:ffff::1]:443'), 2, 60);
    // The next /64 is another client.
    assert.equal((await via('2001:db8:1:3::1')).status, 200);
    // IPv4 clients by address; the proxy itself is not the client.
    assert.equal((await via('203.0.113.5')).status, 200);
    assert.equal((await via('203.0.113.5')).status, 200);
    assertLimited(await via('203.0.113.5'), 2, 60);
    assert.equal((await via('203.0.113.6')).status, 200);
    // ipv6Prefix: 128 keys each address.
    assert.equal((await via('2001:db8:9::1', '/exact')).status, 200);
    assert.equal((await via('2001:db8:9::2', '/exact')).status, 200);
    assertLimited(await via('2001:db8:9::1', '/exact'), 1, 60);
  } finally {
    await g.stop();
  }
});

test('redis store: the limit holds in Redis, and across a reload', async () => {
  const prefix = testPrefix('rl');
  cleanups.push(() => deleteKeys(prefix));
  const yaml = `
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
routes:
  - name: r
    path: /r
    plugins:
      - rate-limit: { by: route, points: 4, durationSec: 60 }
    respond: { status: 200 }
`;
  const g = await startGateway(yaml);
  const redis = new Redis(REDIS_URL);
  try {
    assert.deepEqual(await statuses(g, 3, '/r'), [200, 200, 200]);
    assert.equal(await redis.get(`${prefix}rl:r:route`), '3', 'the counter lives in Redis');
    const ttl = await redis.pttl(`${prefix}rl:r:route`);
    assert.ok(ttl > 0 && ttl <= 60_000, `ttl ${ttl}`);
    // A reload makes new limiter instances; the count is in Redis, so it carries over.
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    const last = await g.request({ path: '/r' });
    assert.equal(last.status, 200);
    assert.equal(last.headers['ratelimit-remaining'], '0');
    assertLimited(await g.request({ path: '/r' }), 4, 60);
  } finally {
    redis.disconnect();
    await g.stop();
  }
});

test('redis outage: allow keeps serving under the insurance limit, deny answers 503; limiting resumes after restart', async () => {
  const server = await startRedisServer();
  cleanups.push(() => server.stop());
  const prefix = 'hgtest:outage:';
  const g = await startGateway(`
store: { driver: redis, url: "${server.url}", prefix: "${prefix}" }
routes:
  - name: allow
    path: /allow
    plugins:
      - rate-limit: { by: route, points: 3, durationSec: 60, onStoreError: allow }
    respond: { status: 200 }
  - name: deny
    path: /deny
    plugins:
      - rate-limit: { by: route, points: 3, durationSec: 60, onStoreError: deny }
    respond: { status: 200 }
`);
  const probe = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 50 });
  probe.on('error', () => {});
  try {
    assert.deepEqual(await statuses(g, 2, '/allow'), [200, 200]);
    assert.deepEqual(await statuses(g, 1, '/deny'), [200]);
    await probe.connect();
    assert.equal(await probe.get(`${prefix}rl:allow:route`), '2');

    await server.stop();
    await waitUntil(async () => (await g.request({ path: '/readyz' })).status === 503, 10000, 'readyz to report the outage');
    const notReady = await g.request({ path: '/readyz' });
    assert.equal(notReady.json().error.code, 'HG_NOT_READY');

    // allow: an in-process limiter takes over, still enforcing `points`.
    assert.deepEqual(await statuses(g, 4, '/allow'), [200, 200, 200, 429]);
    // deny: nothing goes through while the store is down.
    for (let i = 0; i < 3; i++) {
      const r = await g.request({ path: '/deny' });
      assert.equal(r.status, 503);
      assert.equal(r.json().error.code, 'HG_STORE_UNAVAILABLE');
      assert.equal(r.headers['retry-after'], '1');
    }

    await server.restart();
    await waitUntil(async () => (await g.request({ path: '/readyz' })).status === 200, 15000, 'the store to reconnect');
    await waitUntil(() => probe.status === 'ready', 15000, 'the probe to reconnect');
    // The restarted Redis is empty (no persistence): Redis-backed counting starts over and is enforced.
    assert.deepEqual(await statuses(g, 4, '/deny'), [200, 200, 200, 429]);
    assert.equal(await probe.get(`${prefix}rl:deny:route`), '4', 'counted in Redis again');
    assert.deepEqual(await statuses(g, 4, '/allow'), [200, 200, 200, 429]);
    assert.equal(await probe.get(`${prefix}rl:allow:route`), '4');
  } finally {
    probe.disconnect();
    await g.stop();
    await server.stop();
  }
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../gateway/errors.js';
import { encodePath, normalizePath, Router, type RouteMatcherSpec } from '../gateway/router.js';
import { startUpstream, type TestUpstream } from './support/http.js';
import { startGateway, type TestGateway } from './support/gateway.js';

/** Asserts `fn` throws a GatewayError with this code and status. */
function throwsGateway(fn: () => unknown, code: string, status: number): GatewayError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof GatewayError, `expected a GatewayError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.status, status);
  return caught;
}

describe('normalizePath', () => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['', '/'],
    ['/webhook/v1/orders', '/webhook/v1/orders'],
    ['/webhook//v1///orders', '/webhook/v1/orders'],
    ['/webhook/./v1/./orders', '/webhook/v1/orders'],
    ['/webhook/v1/x/../orders', '/webhook/v1/orders'],
    ['/webhook/v1/%6Frders', '/webhook/v1/orders'],
    ['/webhook/v1/public/%2e%2e/%2E%2E/admin', '/webhook/admin'],
    ['/webhook/v1/public/..%2f..%2fadmin', '/webhook/admin'],
    ['/webhook/v1/public/..%2F..%2Fadmin', '/webhook/admin'],
    ['/webhook/v1/public%2F..%2F..%2Fadmin', '/webhook/admin'],
    ['/webhook\\v1\\orders', '/webhook/v1/orders'],
    ['/webhook/v1/public/..\\..\\admin', '/webhook/admin'],
    ['/webhook/v1/public/..%5c..%5cadmin', '/webhook/admin'],
    ['/../../../etc/passwd', '/etc/passwd'],
    ['/a/b/../../..', '/'],
    ['/webhook/v1/orders/', '/webhook/v1/orders/'],
    ['/a%20b/c', '/a b/c'],
  ];
  for (const [input, want] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
      assert.equal(normalizePath(input), want);
    });
  }

  test('is idempotent on its own output', () => {
    for (const [input] of cases) {
      const once = normalizePath(input);
      assert.equal(normalizePath(encodePath(once)), once, input);
    }
  });

  test('malformed percent-encoding is 400 HG_BAD_PATH', () => {
    for (const p of ['/webhook/%', '/webhook/%zz', '/webhook/%E0%A4%A', '/a/%2', '/%ff']) {
      throwsGateway(() => normalizePath(p), 'HG_BAD_PATH', 400);
    }
  });

  test('a NUL byte, raw or encoded, is 400 HG_BAD_PATH', () => {
    throwsGateway(() => normalizePath('/webhook/%00/admin'), 'HG_BAD_PATH', 400);
    throwsGateway(() => normalizePath('/webhook/\0admin'), 'HG_BAD_PATH', 400);
  });

  test('encodePath re-encodes what decoding produced, so the upstream decodes to the same path', () => {
    assert.equal(encodePath('/a b/c?d#e'), '/a%20b/c%3Fd%23e');
    assert.equal(decodeURIComponent(encodePath('/a b/ü/%')), '/a b/ü/%');
  });
});

describe('Router', () => {
  const spec = (path: string, route: string, extra: Partial<RouteMatcherSpec<string>> = {}): RouteMatcherSpec<string> => ({ path, route, ...extra });
  const none = {};

  test('exact routes match only their own path', () => {
    const r = new Router([spec('/webhook/v1/orders', 'orders')]);
    assert.equal(r.match('GET', '/webhook/v1/orders', undefined, none).route, 'orders');
    assert.equal(r.match('GET', '/webhook/v1/orders', undefined, none).prefixLength, 0);
    throwsGateway(() => r.match('GET', '/webhook/v1/orders/x', undefined, none), 'HG_ROUTE_NOT_FOUND', 404);
    throwsGateway(() => r.match('GET', '/webhook/v1', undefined, none), 'HG_ROUTE_NOT_FOUND', 404);
    throwsGateway(() => r.match('GET', '/webhook/v1/ordersx', undefined, none), 'HG_ROUTE_NOT_FOUND', 404);
  });

  test('prefix routes match the prefix and below, on segment boundaries', () => {
    const r = new Router([spec('/webhook/v1/*', 'v1')]);
    for (const p of ['/webhook/v1', '/webhook/v1/', '/webhook/v1/a', '/webhook/v1/a/b/c']) {
      const m = r.match('POST', p, undefined, none);
      assert.equal(m.route, 'v1', p);
      assert.equal(m.prefixLength, '/webhook/v1'.length);
    }
    for (const p of ['/webhook/v10', '/webhook/v1x/a', '/webhook', '/']) {
      throwsGateway(() => r.match('POST', p, undefined, none), 'HG_ROUTE_NOT_FOUND', 404);
    }
  });

  test('the longest prefix wins, whatever the declaration order', () => {
    const specs = [spec('/*', 'root'), spec('/webhook/*', 'webhook'), spec('/webhook/v1/*', 'v1'), spec('/webhook/v1/github/*', 'github')];
    for (const list of [specs, [...specs].reverse()]) {
      const r = new Router(list);
      assert.equal(r.match('GET', '/webhook/v1/github/push', undefined, none).route, 'github');
      assert.equal(r.match('GET', '/webhook/v1/stripe', undefined, none).route, 'v1');
      assert.equal(r.match('GET', '/webhook/v2/x', undefined, none).route, 'webhook');
      assert.equal(r.match('GET', '/other', undefined, none).route, 'root');
      assert.equal(r.match('GET', '/', undefined, none).route, 'root');
    }
  });

  test('an exact route beats any prefix, even one declared first', () => {
    const r = new Router([spec('/webhook/v1/*', 'prefix'), spec('/webhook/v1/orders/*', 'longer'), spec('/webhook/v1/orders', 'exact')]);
    assert.equal(r.match('POST', '/webhook/v1/orders', undefined, none).route, 'exact');
    assert.equal(r.match('POST', '/webhook/v1/orders/1', undefined, none).route, 'longer');
  });

  test('same path: declaration order decides', () => {
    const r = new Router([spec('/a', 'first'), spec('/a', 'second')]);
    assert.equal(r.match('GET', '/a', undefined, none).route, 'first');
  });

  test('a method mismatch is 405 HG_METHOD_NOT_ALLOWED with an Allow header listing the allowed methods', () => {
    const r = new Router([spec('/hook', 'post', { methods: ['post'] }), spec('/hook', 'put', { methods: ['PUT', 'PATCH'] })]);
    assert.equal(r.match('POST', '/hook', undefined, none).route, 'post');
    assert.equal(r.match('PATCH', '/hook', undefined, none).route, 'put');
    const err = throwsGateway(() => r.match('GET', '/hook', undefined, none), 'HG_METHOD_NOT_ALLOWED', 405);
    const allow = err.headers?.allow?.split(/,\s*/).sort();
    assert.deepEqual(allow, ['PATCH', 'POST', 'PUT']);
  });

  test('a method mismatch on a prefix route is 405 too', () => {
    const r = new Router([spec('/in/*', 'in', { methods: ['POST'] })]);
    const err = throwsGateway(() => r.match('DELETE', '/in/x', undefined, none), 'HG_METHOD_NOT_ALLOWED', 405);
    assert.equal(err.headers?.allow, 'POST');
  });

  test('an unknown path is 404 even when other paths have methods', () => {
    const r = new Router([spec('/hook', 'h', { methods: ['POST'] })]);
    throwsGateway(() => r.match('GET', '/nope', undefined, none), 'HG_ROUTE_NOT_FOUND', 404);
  });

  test('host matching is case-insensitive and ignores the port; a route without host matches any host', () => {
    const r = new Router([spec('/h', 'a', { host: 'A.example.com' }), spec('/h', 'b', { host: 'b.example.com' }), spec('/h', 'any')]);
    assert.equal(r.match('GET', '/h', 'a.example.com', none).route, 'a');
    assert.equal(r.match('GET', '/h', 'A.EXAMPLE.COM:8080', none).route, 'a');
    assert.equal(r.match('GET', '/h', 'b.example.com', none).route, 'b');
    assert.equal(r.match('GET', '/h', 'c.example.com', none).route, 'any');
    assert.equal(r.match('GET', '/h', undefined, none).route, 'any');
    const strict = new Router([spec('/h', 'a', { host: 'a.example.com' })]);
    throwsGateway(() => strict.match('GET', '/h', 'evil.example.com', none), 'HG_ROUTE_NOT_FOUND', 404);
    throwsGateway(() => strict.match('GET', '/h', 'a.example.com.evil', none), 'HG_ROUTE_NOT_FOUND', 404);
  });

  test('header versioning sends x-webhook-version 1 and 2 to different routes', () => {
    const r = new Router([
      spec('/webhook/v1/orders', 'orders-v1', { methods: ['POST'], headers: { 'X-Webhook-Version': '1' } }),
      spec('/webhook/v1/orders', 'orders-v2', { methods: ['POST'], headers: { 'x-webhook-version': '2' } }),
    ]);
    assert.equal(r.match('POST', '/webhook/v1/orders', undefined, { 'x-webhook-version': '1' }).route, 'orders-v1');
    assert.equal(r.match('POST', '/webhook/v1/orders', undefined, { 'x-webhook-version': '2' }).route, 'orders-v2');
    throwsGateway(() => r.match('POST', '/webhook/v1/orders', undefined, { 'x-webhook-version': '3' }), 'HG_ROUTE_NOT_FOUND', 404);
    throwsGateway(() => r.match('POST', '/webhook/v1/orders', undefined, {}), 'HG_ROUTE_NOT_FOUND', 404);
  });

  test('route paths are normalised when compiled', () => {
    const r = new Router([spec('/webhook//v1/./orders', 'o'), spec('/a/b/../c/*', 'c')]);
    assert.equal(r.match('GET', '/webhook/v1/orders', undefined, none).route, 'o');
    assert.equal(r.match('GET', '/a/c/d', undefined, none).route, 'c');
  });

  test('10,000 routes (mixed exact and prefix) compile and every one matches correctly', () => {
    const specs: RouteMatcherSpec<string>[] = [];
    for (let i = 0; i < 5000; i++) {
      specs.push(spec(`/svc/${i}/hook`, `exact-${i}`, { methods: i % 2 ? ['POST'] : undefined }));
      specs.push(spec(`/svc/${i}/*`, `prefix-${i}`));
    }
    assert.equal(specs.length, 10000);
    const r = new Router(specs);
    for (let i = 0; i < 5000; i++) {
      assert.equal(r.match('POST', `/svc/${i}/hook`, undefined, none).route, `exact-${i}`);
      // Exact routes with methods: a GET falls through to the prefix, which allows any method.
      assert.equal(r.match('GET', `/svc/${i}/hook`, undefined, none).route, i % 2 ? `prefix-${i}` : `exact-${i}`);
      const m = r.match('PUT', `/svc/${i}/other/deep`, undefined, none);
      assert.equal(m.route, `prefix-${i}`);
      assert.equal(m.prefixLength, `/svc/${i}`.length);
    }
    throwsGateway(() => r.match('GET', '/svc/5000/hook', undefined, none), 'HG_ROUTE_NOT_FOUND', 404);
    throwsGateway(() => r.match('GET', '/svc', undefined, none), 'HG_ROUTE_NOT_FOUND', 404);
  });
});

describe('routing through a real gateway', () => {
  let up: TestUpstream;
  let g: TestGateway;

  before(async () => {
    up = await startUpstream();
    g = await startGateway(`
upstreams:
  up: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: admin
    path: /webhook/admin
    respond: { status: 200, body: "admin-route" }
  - name: public
    path: /webhook/v1/public/*
    respond: { status: 200, body: "public-route" }
  - name: orders
    path: /webhook/v1/orders
    methods: [POST]
    upstream: up
  - name: orders-v1
    path: /webhook/v2/orders
    methods: [POST]
    headers: { x-webhook-version: "1" }
    deprecated: { sunset: "2027-06-30", link: "https://example.com/deprecation" }
    respond: { status: 200, body: "orders-v1" }
  - name: orders-v2
    path: /webhook/v2/orders
    methods: [POST]
    headers: { x-webhook-version: "2" }
    respond: { status: 200, body: "orders-v2" }
  - name: stripped
    path: /strip/me/*
    stripPrefix: true
    upstream: up
  - name: kept
    path: /keep/me/*
    upstream: up
  - name: hosted
    path: /hosted
    host: hooks.example.com
    respond: { status: 200, body: "hosted" }
`);
  });

  after(async () => {
    await g?.stop();
    await up?.close();
  });

  test('..%2f tricks reach the route the normalised path names, never the public prefix', async () => {
    for (const path of ['/webhook/v1/public/..%2f..%2fadmin', '/webhook/v1/public/..%2F..%2Fadmin', '/webhook/v1/public/%2e%2e/%2e%2e/admin', '/webhook/v1/public/..\\..\\admin']) {
      const r = await g.request({ path });
      assert.equal(r.status, 200, path);
      assert.equal(r.text, 'admin-route', path);
    }
    const pub = await g.request({ path: '/webhook/v1/public/page' });
    assert.equal(pub.text, 'public-route');
  });

  test('duplicate slashes, dot segments and encoded letters reach the route, and the upstream sees the normalised path', async () => {
    const before = up.requests.length;
    for (const path of ['/webhook//v1/./orders', '/webhook/v1/%6Frders', '/webhook/v1/x/../orders', '/webhook\\v1\\orders']) {
      const r = await g.request({ method: 'POST', path, body: '{}', headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['x-upstream'], 'yes', path);
    }
    const seen = up.requests.slice(before).map((q) => q.url);
    assert.deepEqual(seen, ['/webhook/v1/orders', '/webhook/v1/orders', '/webhook/v1/orders', '/webhook/v1/orders']);
  });

  test('the query string is forwarded unchanged', async () => {
    const before = up.requests.length;
    const r = await g.request({ method: 'POST', path: '/webhook//v1/orders?a=1&b=%2F', body: 'x' });
    assert.equal(r.status, 200);
    assert.equal(up.requests[before]!.url, '/webhook/v1/orders?a=1&b=%2F');
  });

  test('an encoded slash inside a prefix route is forwarded as a separator', async () => {
    const before = up.requests.length;
    const r = await g.request({ path: '/keep/me/a%2Fb%2F..%2Fc' });
    assert.equal(r.status, 200);
    assert.equal(up.requests[before]!.url, '/keep/me/a/c');
  });

  test('double encoding and ..; stay literal segments, and are forwarded so the upstream cannot resolve them either', async () => {
    const before = up.requests.length;
    assert.equal((await g.request({ path: '/keep/me/..%252f..%252fadmin' })).status, 200);
    assert.equal((await g.request({ path: '/keep/me/%252e%252e/admin' })).status, 200);
    assert.equal((await g.request({ path: '/keep/me/..;/..;/admin' })).status, 200);
    assert.deepEqual(
      up.requests.slice(before).map((q) => q.url),
      ['/keep/me/..%252f..%252fadmin', '/keep/me/%252e%252e/admin', '/keep/me/..%3B/..%3B/admin'],
    );
    // Decoding once more (as a careless upstream might) still does not yield a `..` segment.
    for (const q of up.requests.slice(before)) {
      const once = decodeURIComponent(q.url);
      assert.ok(!once.split('/').includes('..'), once);
    }
  });

  test('errors have the JSON shape {"error":{"code","message"}}', async () => {
    const nf = await g.request({ path: '/nope' });
    assert.equal(nf.status, 404);
    assert.match(String(nf.headers['content-type']), /application\/json/);
    assert.equal(nf.json().error.code, 'HG_ROUTE_NOT_FOUND');
    assert.equal(typeof nf.json().error.message, 'string');
    assert.deepEqual(Object.keys(nf.json()), ['error']);
    assert.deepEqual(Object.keys(nf.json().error).sort(), ['code', 'message']);

    const na = await g.request({ method: 'GET', path: '/webhook/v1/orders' });
    assert.equal(na.status, 405);
    assert.equal(na.json().error.code, 'HG_METHOD_NOT_ALLOWED');
    assert.equal(na.headers.allow, 'POST');

    const bad = await g.request({ path: '/webhook/%zz' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().error.code, 'HG_BAD_PATH');

    const nul = await g.request({ path: '/webhook/%00admin' });
    assert.equal(nul.status, 400);
    assert.equal(nul.json().error.code, 'HG_BAD_PATH');
  });

  test('header versioning through the gateway', async () => {
    const v1 = await g.request({ method: 'POST', path: '/webhook/v2/orders', headers: { 'x-webhook-version': '1' } });
    assert.equal(v1.text, 'orders-v1');
    const v2 = await g.request({ method: 'POST', path: '/webhook/v2/orders', headers: { 'x-webhook-version': '2' } });
    assert.equal(v2.text, 'orders-v2');
    const none = await g.request({ method: 'POST', path: '/webhook/v2/orders' });
    assert.equal(none.status, 404);
  });

  test('a deprecated route adds Deprecation, Sunset and Link headers; others do not', async () => {
    const v1 = await g.request({ method: 'POST', path: '/webhook/v2/orders', headers: { 'x-webhook-version': '1' } });
    assert.equal(v1.headers.deprecation, 'true');
    assert.equal(v1.headers.sunset, new Date('2027-06-30').toUTCString());
    assert.equal(v1.headers.sunset, 'Wed, 30 Jun 2027 00:00:00 GMT');
    assert.equal(v1.headers.link, '<https://example.com/deprecation>; rel="deprecation"');
    const v2 = await g.request({ method: 'POST', path: '/webhook/v2/orders', headers: { 'x-webhook-version': '2' } });
    assert.equal(v2.headers.deprecation, undefined);
    assert.equal(v2.headers.sunset, undefined);
  });

  test('stripPrefix forwards the path without the prefix; without it the path is kept', async () => {
    const before = up.requests.length;
    assert.equal((await g.request({ path: '/strip/me/orders/42?x=1' })).status, 200);
    assert.equal((await g.request({ path: '/strip/me' })).status, 200);
    assert.equal((await g.request({ path: '/strip//me/./a/../b' })).status, 200);
    assert.equal((await g.request({ path: '/keep/me/orders/42' })).status, 200);
    assert.deepEqual(
      up.requests.slice(before).map((q) => q.url),
      ['/orders/42?x=1', '/', '/b', '/keep/me/orders/42'],
    );
  });

  test('host matching through the gateway', async () => {
    const ok = await g.request({ path: '/hosted', headers: { host: 'hooks.example.com' } });
    assert.equal(ok.text, 'hosted');
    const no = await g.request({ path: '/hosted', headers: { host: 'other.example.com' } });
    assert.equal(no.status, 404);
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type TestUpstream } from '../support/http.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { PROTOCOLS } from '../support/tls.js';

// These cases run over HTTP/1.1 and over HTTP/2 (TLS, ALPN): the plugin must behave the same.
for (const proto of PROTOCOLS) {
  describe(`headers plugin through the gateway [${proto}]`, () => {
    let up: TestUpstream;
    let g: TestGateway;

    before(async () => {
      up = await startUpstream((_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-upstream': 'yes',
          'x-powered-by': 'upstream-framework',
          server: 'upstream/1.0',
          'x-overwrite-me': 'from-upstream',
        });
        res.end('{"ok":true}');
      });
      g = await startGateway(`
upstreams:
  up: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: proxied
    path: /proxied
    plugins:
      - headers:
          request:
            add: { X-Gateway: hookgate, X-Tenant: fixed-tenant }
            remove: [X-Internal-Debug, Authorization]
          response:
            add: { X-Frame-Options: DENY, X-Overwrite-Me: from-gateway }
            remove: [X-Powered-By, Server]
    upstream: up
  - name: answer
    path: /answer
    plugins:
      - headers:
          response:
            add: { Cache-Control: no-store }
            remove: [X-Answer-Internal]
    respond: { status: 200, headers: { x-answer-internal: "hidden", x-answer-public: "shown" }, body: "answered" }
  - name: guarded
    path: /guarded
    plugins:
      - headers:
          response:
            add: { X-Frame-Options: DENY }
      - size-limit: { bytes: 1 }
    upstream: up
  - name: plain
    path: /plain
    plugins:
      - headers: {}
    upstream: up
`, { protocol: proto });
    });

    after(async () => {
      await g?.stop();
      await up?.close();
    });

    test('request add overwrites the client value, request remove drops headers before forwarding', async () => {
      const before = up.requests.length;
      const r = await g.request({
        path: '/proxied',
        headers: {
          'x-tenant': 'client-chosen',
          'x-internal-debug': '1',
          authorization: 'Bearer client-token',
          'x-kept': 'kept',
        },
      });
      assert.equal(r.status, 200);
      const got = up.requests[before]!.headers;
      assert.equal(got['x-gateway'], 'hookgate');
      assert.equal(got['x-tenant'], 'fixed-tenant');
      assert.equal(got['x-internal-debug'], undefined);
      assert.equal(got.authorization, undefined);
      assert.equal(got['x-kept'], 'kept');
    });

    test('response add and remove are what the client sees', async () => {
      const r = await g.request({ path: '/proxied' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-frame-options'], 'DENY');
      assert.equal(r.headers['x-overwrite-me'], 'from-gateway');
      assert.equal(r.headers['x-powered-by'], undefined);
      assert.equal(r.headers.server, undefined);
      assert.equal(r.headers['x-upstream'], 'yes');
      assert.equal(r.text, '{"ok":true}');
    });

    test('response rules apply to answers the gateway writes itself', async () => {
      const r = await g.request({ path: '/answer' });
      assert.equal(r.text, 'answered');
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(r.headers['x-answer-internal'], undefined);
      assert.equal(r.headers['x-answer-public'], 'shown');
    });

    test('response rules apply to gateway errors on the route too', async () => {
      const before = up.requests.length;
      const r = await g.request({ method: 'POST', path: '/guarded', body: 'too big' });
      assert.equal(r.status, 413);
      assert.equal(r.headers['x-frame-options'], 'DENY');
      assert.equal(up.requests.length, before);
    });

    test('empty params change nothing', async () => {
      const before = up.requests.length;
      const r = await g.request({ path: '/plain', headers: { 'x-client': 'c' } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-powered-by'], 'upstream-framework');
      assert.equal(up.requests[before]!.headers['x-client'], 'c');
    });

    test('an invalid params shape is a located config error', async () => {
      await assert.rejects(
        () =>
          startGateway(`
routes:
  - name: bad
    path: /bad
    plugins:
      - headers: { request: { add: { X-A: 1 } } }
    respond: { status: 200 }
`, { protocol: proto }),
        (err: unknown) => err instanceof Error && /gateway\.yaml:\d+ at routes\[0\]\.plugins\[0\]\.headers\.request\.add\.X-A: plugin "headers": found 1, expected string/.test(err.message),
      );
    });
  });
}

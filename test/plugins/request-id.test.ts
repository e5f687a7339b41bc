import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type TestUpstream } from '../support/http.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { PROTOCOLS } from '../support/tls.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// These cases run over HTTP/1.1 and over HTTP/2 (TLS, ALPN): the plugin must behave the same.
for (const proto of PROTOCOLS) {
  describe(`request-id through the gateway [${proto}]`, () => {
    let up: TestUpstream;
    let g: TestGateway;

    before(async () => {
      up = await startUpstream();
      g = await startGateway(`
upstreams:
  up: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: default
    path: /default
    plugins:
      - request-id: {}
    upstream: up
  - name: custom
    path: /custom
    plugins:
      - request-id: { header: X-Correlation-Id }
    upstream: up
  - name: untrusted
    path: /untrusted
    plugins:
      - request-id: { trustIncoming: false }
    upstream: up
  - name: quiet
    path: /quiet
    plugins:
      - request-id: { responseHeader: false }
    upstream: up
  - name: answer
    path: /answer
    plugins:
      - request-id: {}
    respond: { status: 201, body: { ok: true } }
  - name: limited
    path: /limited
    plugins:
      - request-id: {}
      - size-limit: { bytes: 4 }
    upstream: up
`, { protocol: proto });
    });

    after(async () => {
      await g?.stop();
      await up?.close();
    });

    /** Sends a request and returns the response plus what the upstream received (if it was reached). */
    async function send(path: string, headers: Record<string, string> = {}) {
      const before = up.requests.length;
      const res = await g.request({ path, headers });
      const forwarded = up.requests.slice(before);
      assert.ok(forwarded.length <= 1);
      return { res, upstream: forwarded[0] };
    }

    test('without an incoming id a UUID is generated, forwarded as x-request-id and echoed', async () => {
      const { res, upstream } = await send('/default');
      assert.equal(res.status, 200);
      const id = res.headers['x-request-id'];
      assert.equal(typeof id, 'string');
      assert.match(id as string, UUID);
      assert.equal(upstream!.headers['x-request-id'], id);
      const again = await send('/default');
      assert.notEqual(again.res.headers['x-request-id'], id, 'each request gets its own id');
    });

    test('a safe incoming id is reused', async () => {
      for (const incoming of ['abc-123', 'req_01HZX.9:trace-7', 'A'.repeat(128)]) {
        const { res, upstream } = await send('/default', { 'x-request-id': incoming });
        assert.equal(res.headers['x-request-id'], incoming);
        assert.equal(upstream!.headers['x-request-id'], incoming);
      }
    });

    test('an unsafe incoming id is replaced by a fresh UUID', async () => {
      for (const incoming of ['has space', '<script>alert(1)</script>', 'a'.repeat(129), 'semi;colon', '"quoted"', 'ünïcode']) {
        const { res, upstream } = await send('/default', { 'x-request-id': Buffer.from(incoming).toString('latin1') });
        const id = res.headers['x-request-id'] as string;
        assert.match(id, UUID, incoming);
        assert.equal(upstream!.headers['x-request-id'], id);
      }
    });

    test('a custom header name: read from it, forwarded under it and as x-request-id, echoed under it', async () => {
      const { res, upstream } = await send('/custom', { 'x-correlation-id': 'corr-42', 'x-request-id': 'ignored-here' });
      assert.equal(res.headers['x-correlation-id'], 'corr-42');
      assert.equal(upstream!.headers['x-correlation-id'], 'corr-42');
      assert.equal(upstream!.headers['x-request-id'], 'corr-42');

      const fresh = await send('/custom');
      const id = fresh.res.headers['x-correlation-id'] as string;
      assert.match(id, UUID);
      assert.equal(fresh.upstream!.headers['x-correlation-id'], id);
      assert.equal(fresh.upstream!.headers['x-request-id'], id);
    });

    test('trustIncoming: false always generates', async () => {
      const { res, upstream } = await send('/untrusted', { 'x-request-id': 'client-chosen' });
      const id = res.headers['x-request-id'] as string;
      assert.match(id, UUID);
      assert.equal(upstream!.headers['x-request-id'], id);
    });

    test('responseHeader: false forwards the id but does not echo it', async () => {
      const { res, upstream } = await send('/quiet', { 'x-request-id': 'quiet-1' });
      assert.equal(upstream!.headers['x-request-id'], 'quiet-1');
      // The upstream's own response carries none, and the plugin adds none.
      assert.equal(res.headers['x-request-id'], undefined);
    });

    test('the id is echoed on answers the gateway writes itself, and on its errors', async () => {
      const ok = await send('/answer', { 'x-request-id': 'answer-1' });
      assert.equal(ok.res.status, 201);
      assert.equal(ok.res.headers['x-request-id'], 'answer-1');
      assert.equal(ok.upstream, undefined);

      const before = up.requests.length;
      const big = await g.request({ method: 'POST', path: '/limited', headers: { 'x-request-id': 'too-big-1' }, body: 'more than four bytes' });
      assert.equal(big.status, 413);
      assert.equal(big.headers['x-request-id'], 'too-big-1');
      const anon = await g.request({ method: 'POST', path: '/limited', body: 'more than four bytes' });
      assert.equal(anon.status, 413);
      assert.match(anon.headers['x-request-id'] as string, UUID, 'an early error still gets a generated id, never an empty header');
      assert.equal(up.requests.length, before);
    });
  });
}

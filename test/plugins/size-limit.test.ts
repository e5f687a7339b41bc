import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sizeLimitPlugin } from '../../plugins/size-limit/index.js';
import { startUpstream, waitUntil, type TestUpstream } from '../support/http.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { PROTOCOLS } from '../support/tls.js';

const GITHUB_SECRET = 'size-limit-test-secret';
const CAP = 1000;

function githubHeaders(body: Buffer, delivery: string): Record<string, string> {
  return {
    'x-hub-signature-256': 'sha256=' + createHmac('sha256', GITHUB_SECRET).update(body).digest('hex'),
    'x-github-delivery': delivery,
    'content-type': 'application/octet-stream',
  };
}

/** Splits a buffer into pieces of these sizes (the last takes the rest). */
function split(buf: Buffer, ...sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  out.push(buf.subarray(at));
  return out.filter((b) => b.length > 0);
}

describe('size-limit schema', () => {
  test('bytes is required and must be a non-negative integer; nothing else is allowed', () => {
    const s = sizeLimitPlugin.schema as { required: string[]; properties: { bytes: { type: string; minimum: number } }; additionalProperties: boolean };
    assert.deepEqual(s.required, ['bytes']);
    assert.equal(s.properties.bytes.type, 'integer');
    assert.equal(s.properties.bytes.minimum, 0);
    assert.equal(s.additionalProperties, false);
  });
});

// These cases run over HTTP/1.1 and over HTTP/2 (TLS, ALPN): the plugin must behave the same.
for (const proto of PROTOCOLS) {
  describe(`size-limit through the gateway [${proto}]`, () => {
    let up: TestUpstream;
    let g: TestGateway;
    /** Upstream requests whose body has not ended (nor been aborted), to see that an aborted forward is torn down. */
    const pending = new Set<IncomingMessage>();

    before(async () => {
      up = await startUpstream();
      up.server.prependListener('request', (req: IncomingMessage) => {
        pending.add(req);
        req.once('end', () => pending.delete(req));
        req.once('close', () => pending.delete(req));
      });
      g = await startGateway(`
limits: { bodyBytes: 5000 }
upstreams:
  up: { targets: [ { url: "${up.url}" } ], timeoutMs: 30000 }
routes:
  - name: capped
    path: /capped
    methods: [POST]
    plugins:
      - size-limit: { bytes: ${CAP} }
    upstream: up
  - name: signed
    path: /signed
    methods: [POST]
    plugins:
      - size-limit: { bytes: ${CAP} }
      # dedupe off: the same body is sent twice on purpose (GitHub dedupes by signature).
      - verify-signature: { preset: github, secrets: ["${GITHUB_SECRET}"], dedupe: false }
    upstream: up
  - name: global-cap
    path: /global
    methods: [POST]
    plugins:
      - size-limit: { bytes: 100000 }
    upstream: up
  - name: zero
    path: /zero
    methods: [POST]
    plugins:
      - size-limit: { bytes: 0 }
    upstream: up
`, { protocol: proto });
    });

    after(async () => {
      await g?.stop();
      await up?.close();
    });

    test('Content-Length over the cap: 413 HG_BODY_TOO_LARGE and the upstream is never hit', async () => {
      const before = up.requests.length;
      const r = await g.request({ method: 'POST', path: '/capped', body: Buffer.alloc(CAP + 1, 0x61) });
      assert.equal(r.status, 413);
      assert.equal(r.json().error.code, 'HG_BODY_TOO_LARGE');
      // HTTP/2 has no connection to close: each request has its own stream.
      assert.equal(r.headers.connection, proto === 'http1' ? 'close' : undefined);
      assert.equal(up.requests.length, before);
    });

    test('a lying small Content-Length cannot smuggle more bytes than declared to the upstream', async () => {
      // Node's parser reads exactly Content-Length bytes; the rest would be a new (invalid) request.
      const before = up.requests.length;
      const r = await g.request({ method: 'POST', path: '/capped', headers: { 'content-length': 5 }, body: 'hello' });
      assert.equal(r.status, 200);
      assert.equal(up.requests[before]!.body.toString(), 'hello');
    });

    test('a chunked body over the cap: 413, and the upstream never gets a complete body', async () => {
      const before = up.requests.length;
      const r = await g.request({ method: 'POST', path: '/capped', chunks: [Buffer.alloc(600, 0x61), Buffer.alloc(600, 0x62), Buffer.alloc(600, 0x63)] });
      assert.equal(r.status, 413);
      assert.equal(r.json().error.code, 'HG_BODY_TOO_LARGE');
      // HTTP/2 has no connection to close: each request has its own stream.
      assert.equal(r.headers.connection, proto === 'http1' ? 'close' : undefined);
      assert.equal(up.requests.length, before, 'the upstream completed a request it should never have seen in full');
    });

    test(
      'a chunked body over the cap on a warm upstream connection: the partial forward is torn down at once',
      async () => {
        const warm = await g.request({ method: 'POST', path: '/capped', body: 'warm' });
        assert.equal(warm.status, 200);
        const before = up.requests.length;
        const r = await g.request({ method: 'POST', path: '/capped', chunks: [Buffer.alloc(600, 0x61), Buffer.alloc(600, 0x62)] });
        assert.equal(r.status, 413);
        await waitUntil(() => pending.size === 0, 3000, 'the partial upstream request to be aborted');
        assert.equal(up.requests.length, before);
      },
    );

    test('under the cap passes with the exact bytes (Content-Length and chunked)', async () => {
      const body = randomBytes(CAP);
      let before = up.requests.length;
      const a = await g.request({ method: 'POST', path: '/capped', body });
      assert.equal(a.status, 200);
      assert.ok(up.requests[before]!.body.equals(body));

      before = up.requests.length;
      const b = await g.request({ method: 'POST', path: '/capped', chunks: split(body, 1, 333, 333) });
      assert.equal(b.status, 200);
      assert.ok(up.requests[before]!.body.equals(body));
    });

    test('with a body-needing plugin the forwarded bytes equal the sent bytes exactly', async () => {
      // Every byte value, and multi-byte UTF-8 split across chunk boundaries.
      const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('€𝄞ü'.repeat(50)), Buffer.from('\r\n\0end')]);
      assert.ok(body.length <= CAP);
      let before = up.requests.length;
      const a = await g.request({ method: 'POST', path: '/signed', headers: githubHeaders(body, 'delivery-cl-1'), body });
      assert.equal(a.status, 200, a.text);
      const gotA = up.requests[before]!;
      assert.ok(gotA.body.equals(body), 'Content-Length upload altered');
      assert.equal(gotA.headers['content-length'], String(body.length));

      before = up.requests.length;
      const b = await g.request({ method: 'POST', path: '/signed', headers: githubHeaders(body, 'delivery-chunked-1'), chunks: split(body, 257, 1, 2, 100) });
      assert.equal(b.status, 200, b.text);
      const gotB = up.requests[before]!;
      assert.ok(gotB.body.equals(body), 'chunked upload altered');
      assert.equal(gotB.headers['content-length'], String(body.length));
      assert.equal(gotB.headers['transfer-encoding'], undefined);
    });

    test('with a body-needing plugin a chunked body over the cap is 413 before the signature is checked', async () => {
      const body = Buffer.alloc(CAP + 50, 0x7a);
      const before = up.requests.length;
      const r = await g.request({ method: 'POST', path: '/signed', headers: githubHeaders(body, 'delivery-big-1'), chunks: split(body, 500, 500) });
      assert.equal(r.status, 413);
      assert.equal(r.json().error.code, 'HG_BODY_TOO_LARGE');
      assert.equal(up.requests.length, before);
    });

    test('the smallest cap applies: limits.bodyBytes below the plugin cap wins', async () => {
      const before = up.requests.length;
      const over = await g.request({ method: 'POST', path: '/global', body: Buffer.alloc(5001, 0x61) });
      assert.equal(over.status, 413);
      const chunked = await g.request({ method: 'POST', path: '/global', chunks: [Buffer.alloc(3000, 0x61), Buffer.alloc(3000, 0x61)] });
      assert.equal(chunked.status, 413);
      assert.equal(up.requests.length, before);
      const ok = await g.request({ method: 'POST', path: '/global', body: Buffer.alloc(5000, 0x61) });
      assert.equal(ok.status, 200);
      assert.equal(up.requests[before]!.body.length, 5000);
    });

    test('bytes: 0 allows only an empty body', async () => {
      const before = up.requests.length;
      const empty = await g.request({ method: 'POST', path: '/zero', body: '' });
      assert.equal(empty.status, 200);
      const one = await g.request({ method: 'POST', path: '/zero', body: 'x' });
      assert.equal(one.status, 413);
      assert.equal(up.requests.length, before + 1);
    });

    test('the gateway keeps serving after rejections (connections were closed cleanly)', async () => {
      const r = await g.request({ method: 'POST', path: '/capped', body: 'fine' });
      assert.equal(r.status, 200);
    });
  });
}

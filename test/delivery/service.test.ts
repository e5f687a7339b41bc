/**
 * The delivery service's actions: `deliver` forwards exactly the normalised, re-encoded path
 * (as the proxy does), and `publish` refuses a body that is not valid UTF-8.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDeliveryService, parseEvent } from '../../gateway/delivery/service.js';
import { GatewayError } from '../../gateway/errors.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { openResources } from './resources.js';

const { onClose, receiver } = openResources();

async function gatewayWith(yaml: string): Promise<TestGateway> {
  const g = await startGateway(yaml, { services: createDeliveryService });
  onClose(() => g.stop());
  return g;
}

describe('deliver forwards the normalised, re-encoded path', () => {
  test('encoded dots, ? and # stay inside the base path and the path; the proxy route sends the same', async () => {
    const up = await receiver();
    const g = await gatewayWith(`
upstreams:
  base: { targets: [ { url: "${up.url}/base" } ] }
routes:
  - { name: asyncb, path: "/asyncb/*", methods: [POST], deliver: { upstream: base, retry: { schedule: [0] } } }
  - { name: syncb, path: "/syncb/*", methods: [POST], upstream: base }
`);
    const cases: [string, string][] = [
      // Decoded once by normalisation, `%252e%252e` is the literal text `%2e%2e`, not a dot segment.
      ['/asyncb/%252e%252e/%252e%252e/admin/delete-all', '/base/asyncb/%252e%252e/%252e%252e/admin/delete-all'],
      ['/asyncb/a%3Fb=1', '/base/asyncb/a%3Fb%3D1'],
      ['/asyncb/a%23frag/c', '/base/asyncb/a%23frag/c'],
      ['/asyncb/x/../y?q=1', '/base/asyncb/y?q=1'],
    ];
    for (const [sent] of cases) {
      const r = await g.request({ method: 'POST', path: sent, body: '{}', headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 202, `${sent}: ${r.text}`);
    }
    await waitUntil(() => up.requests.length === cases.length, 10000, 'the deliveries');
    assert.deepEqual(
      up.requests.map((r) => r.url).sort(),
      cases.map(([, want]) => want).sort(),
    );
    for (const r of up.requests) assert.ok(r.url.startsWith('/base/asyncb/'), `${r.url} stays under the base path`);

    // The proxy action forwards the same bytes for the same request.
    const before = up.requests.length;
    for (const [sent] of cases) {
      const r = await g.request({ method: 'POST', path: sent.replace('/asyncb/', '/syncb/'), body: '{}' });
      assert.equal(r.status, 200, r.text);
    }
    assert.deepEqual(
      up.requests.slice(before).map((r) => r.url),
      cases.map(([, want]) => want.replace('/asyncb/', '/syncb/')),
    );
  });
});

describe('publish refuses invalid UTF-8', () => {
  const invalid = [
    Buffer.concat([Buffer.from('{"type":"a.b","data":{"s":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]), // bad continuation byte
    Buffer.concat([Buffer.from('{"type":"a.b","data":{"s":"'), Buffer.from([0xff]), Buffer.from('"}}')]), // never valid in UTF-8
    Buffer.concat([Buffer.from('{"type":"a.b","data":{"s":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}}')]), // a UTF-16 surrogate
  ];

  test('parseEvent: HG_EVENT_INVALID for each invalid sequence; valid UTF-8 passes unchanged', () => {
    for (const body of invalid) {
      assert.throws(
        () => parseEvent(body),
        (err: unknown) => err instanceof GatewayError && err.code === 'HG_EVENT_INVALID' && /UTF-8/.test(err.message),
      );
    }
    assert.deepEqual(parseEvent(Buffer.from('{"type":"a.b","data":{"s":"é✓😀"}}')), { type: 'a.b', data: { s: 'é✓😀' } });
  });

  test('through the gateway: 400 with the code, nothing delivered; the next valid event is delivered', async () => {
    const rx = await receiver();
    const g = await gatewayWith(`
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: ep, url: "${rx.url}/hook" }
`);
    for (const body of invalid) {
      const r = await g.request({ method: 'POST', path: '/events', body, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json().error.code, 'HG_EVENT_INVALID');
    }
    const ok = await g.request({ method: 'POST', path: '/events', body: '{"type":"a.b","data":{"s":"é"}}', headers: { 'content-type': 'application/json' } });
    assert.equal(ok.status, 202, ok.text);
    await waitUntil(() => rx.requests.length === 1, 10000, 'the valid event');
    assert.equal(JSON.parse(rx.requests[0]!.body.toString('utf8')).data.s, 'é');
  });
});

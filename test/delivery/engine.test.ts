/** Egress and async ingress through a gateway with the delivery service, on the memory store and on Redis. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import type { OperationalEvent } from '../../gateway/delivery/operational.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil, type RecordedRequest } from '../support/http.js';
import { testStores } from '../support/redis.js';
import { openResources } from './resources.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const { onClose, receiver } = openResources();

async function gatewayWith(yaml: string): Promise<TestGateway> {
  const g = await startGateway(yaml, { services: createDeliveryService });
  onClose(() => g.stop());
  return g;
}

function verifyAll(reqs: RecordedRequest[], secret = SECRET): void {
  const wh = new Webhook(secret);
  for (const r of reqs) {
    // The official library is the oracle: it checks the signature and the timestamp window.
    wh.verify(r.body.toString('utf8'), r.headers as Record<string, string>);
  }
}

function publish(g: TestGateway, type: string, data: unknown, headers: Record<string, string> = {}) {
  return g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ type, data }) });
}

for (const driver of ['memory', 'redis'] as const) {
  // One prefix per gateway: gateways sharing a prefix would share one queue and take each other's jobs.
  const stores = testStores(`engine-${driver}`);
  // At file level, after openResources' hook: the keys go once the gateways are closed, so a
  // delivery still running at the end of a test cannot write one back.
  after(() => stores.cleanUp());
  describe(`egress with the ${driver} store`, () => {
    const storeYaml = () => stores.yaml(driver);

    test('fans out to subscribed endpoints; every delivery verifies with standardwebhooks', async () => {
      const a = await receiver();
      const b = await receiver();
      const g = await gatewayWith(`${storeYaml()}
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: invoices, url: "${a.url}/hook", events: ["invoice.*"], secret: "${SECRET}", headers: { x-tenant: acme } }
    - { id: all, url: "${b.url}/hook", events: ["*"], secret: "${SECRET}" }
`);
      const r1 = await publish(g, 'invoice.paid', { amount: 10 });
      assert.equal(r1.status, 202);
      assert.equal(r1.json().endpoints, 2);
      assert.match(r1.json().id, /^msg_/);
      assert.equal(r1.headers['hookgate-message-id'], r1.json().id);
      const r2 = await publish(g, 'customer.created', { id: 'c1' });
      assert.equal(r2.json().endpoints, 1);
      await waitUntil(() => a.requests.length === 1 && b.requests.length === 2, 10000, 'deliveries');
      verifyAll([...a.requests, ...b.requests]);
      const got = a.requests[0]!;
      assert.equal(got.headers['webhook-id'], r1.json().id);
      assert.equal(got.headers['x-tenant'], 'acme');
      assert.equal(got.headers['content-type'], 'application/json');
      const payload = JSON.parse(got.body.toString());
      assert.deepEqual(Object.keys(payload), ['type', 'timestamp', 'data']);
      assert.equal(payload.type, 'invoice.paid');
      assert.deepEqual(payload.data, { amount: 10 });
      assert.ok(!Number.isNaN(Date.parse(payload.timestamp)));
      // The attempt log records it.
      const m = await g.admin('GET', `/admin/messages/${r1.json().id}`);
      assert.equal(m.json().status, 'delivered');
      assert.equal(m.json().deliveries.invoices.attempts[0].status, 200);
    });

    test('retries on failure with the configured schedule, same webhook-id, then succeeds', async () => {
      let n = 0;
      const times: number[] = [];
      const r = await receiver((_req, res) => {
        times.push(Date.now());
        n++;
        res.writeHead(n <= 2 ? 500 : 200).end(n <= 2 ? 'boom' : 'ok');
      });
      const g = await gatewayWith(`${storeYaml()}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "300ms", "600ms", "1s"] }
  endpoints:
    - { id: flaky, url: "${r.url}/hook", secret: "${SECRET}" }
`);
      const id = (await publish(g, 'order.created', { n: 1 })).json().id;
      await waitUntil(() => r.requests.length === 3, 15000, '3 attempts');
      verifyAll(r.requests);
      assert.deepEqual(new Set(r.requests.map((q) => q.headers['webhook-id'])), new Set([id]));
      // Lower bounds only (jitter is ±20%): never earlier than the schedule allows.
      assert.ok(times[1]! - times[0]! >= 300 * 0.8 - 5, `gap 1 was ${times[1]! - times[0]!} ms`);
      assert.ok(times[2]! - times[1]! >= 600 * 0.8 - 5, `gap 2 was ${times[2]! - times[1]!} ms`);
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${id}`)).json().status === 'delivered', 5000, 'delivered status');
      const att = (await g.admin('GET', `/admin/messages/${id}`)).json().deliveries.flaky.attempts;
      assert.deepEqual(att.map((a: any) => a.status), [500, 500, 200]);
      assert.equal(att[0].response, 'boom');
    });

    test('exhausted attempts mark the message failed and raise message.attempt.exhausted', async () => {
      const r = await receiver((_req, res) => void res.writeHead(503).end('x'.repeat(10000)));
      const g = await gatewayWith(`${storeYaml()}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "50ms"] }
  endpoints:
    - { id: down, url: "${r.url}/hook" }
`);
      const events: OperationalEvent[] = [];
      (g.gw.service as any).engine.events.on('operational', (e: OperationalEvent) => events.push(e));
      const id = (await publish(g, 'x.y', {})).json().id;
      await waitUntil(() => events.some((e) => e.type === 'message.attempt.exhausted'), 10000, 'exhausted event');
      assert.equal(r.requests.length, 2);
      const m = (await g.admin('GET', `/admin/messages/${id}`)).json();
      assert.equal(m.status, 'failed');
      assert.equal(m.deliveries.down.attempts.length, 2);
      assert.equal(m.deliveries.down.attempts[0].response.length, 4096, 'response body truncated to 4 KB');
      assert.ok(g.log.lines.some((l) => l.event === 'message.attempt.exhausted'), 'operational event logged');
    });

    test('410 disables the endpoint at once; 3xx is a failure and is not followed', async () => {
      const gone = await receiver((_req, res) => void res.writeHead(410).end());
      const redirect = await receiver((req, res) => {
        if (req.url === '/hook') res.writeHead(302, { location: '/elsewhere' }).end();
        else res.writeHead(200).end();
      });
      const g = await gatewayWith(`${storeYaml()}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "50ms", "50ms"] }
  endpoints:
    - { id: gone, url: "${gone.url}/hook" }
    - { id: moved, url: "${redirect.url}/hook" }
`);
      const events: OperationalEvent[] = [];
      (g.gw.service as any).engine.events.on('operational', (e: OperationalEvent) => events.push(e));
      const id = (await publish(g, 'a.b', {})).json().id;
      await waitUntil(() => events.some((e) => e.type === 'endpoint.disabled'), 10000, 'endpoint.disabled');
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${id}`)).json().deliveries.moved.status === 'failed', 10000, 'moved failed');
      assert.equal(gone.requests.length, 1, 'no retry after 410');
      const ep = (await g.admin('GET', '/admin/endpoints/gone')).json();
      assert.equal(ep.state, 'disabled');
      assert.match(ep.disabledReason, /410/);
      assert.equal(redirect.requests.filter((q) => q.url === '/elsewhere').length, 0, 'redirect not followed');
      assert.equal(redirect.requests.length, 3, '3xx retried as a failure');
      // A disabled endpoint gets no new messages.
      assert.equal((await publish(g, 'a.b', {})).json().endpoints, 1);
    });

    test('Idempotency-Key returns the first answer and delivers once', async () => {
      const r = await receiver();
      const g = await gatewayWith(`${storeYaml()}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: one, url: "${r.url}/hook" }
`);
      const a = await publish(g, 'a.b', { n: 1 }, { 'idempotency-key': 'key-1' });
      const b = await publish(g, 'a.b', { n: 1 }, { 'idempotency-key': 'key-1' });
      const c = await publish(g, 'a.b', { n: 1 }, { 'idempotency-key': 'key-2' });
      assert.equal(b.status, 202);
      assert.equal(b.json().id, a.json().id);
      assert.equal(b.headers['idempotent-replayed'], 'true');
      assert.notEqual(c.json().id, a.json().id);
      await waitUntil(() => r.requests.length === 2, 10000, '2 deliveries');
      assert.deepEqual(new Set(r.requests.map((q) => q.headers['webhook-id'])), new Set([a.json().id, c.json().id]));
    });

    test('async ingress: 202 at once, then the exact request reaches the upstream, retried until 2xx', async () => {
      let n = 0;
      const up = await receiver((_req, res) => {
        n++;
        res.writeHead(n === 1 ? 502 : 204).end();
      });
      const g = await gatewayWith(`${storeYaml()}
upstreams:
  orders: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: inbox
    path: /webhook/v1/orders
    methods: [POST, PUT]
    deliver: { upstream: orders, retry: { schedule: [0, "50ms", "50ms"] } }
`);
      const body = Buffer.from('{"order": 1,   "raw": "bytes\\u00e9"}');
      const res = await g.request({ method: 'PUT', path: '/webhook/v1/orders?src=test', headers: { 'content-type': 'application/json', authorization: 'Bearer secret-token', cookie: 'a=b', 'x-hub-signature-256': 'sha256=abc' }, body });
      assert.equal(res.status, 202);
      const id = res.json().id;
      assert.equal(res.headers['hookgate-message-id'], id);
      await waitUntil(() => up.requests.length === 2, 10000, '2 attempts');
      const got = up.requests[1]!;
      assert.equal(got.method, 'PUT');
      assert.equal(got.url, '/webhook/v1/orders?src=test');
      assert.deepEqual(got.body, body);
      assert.equal(got.headers['content-type'], 'application/json');
      assert.equal(got.headers.authorization, undefined, 'credentials are not forwarded');
      assert.equal(got.headers.cookie, undefined);
      assert.equal(got.headers['x-hub-signature-256'], 'sha256=abc', 'provider signatures are kept');
      assert.equal(got.headers['hookgate-message-id'], id);
      assert.equal(got.headers['hookgate-attempt'], '2');
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${id}`)).json().status === 'delivered', 5000, 'delivered');
    });
  });
}

describe('publish input', () => {
  test('malformed events get 400 HG_EVENT_INVALID', async () => {
    const g = await gatewayWith(`routes:
  - { name: events, path: /events, publish: {} }
`);
    for (const body of ['not json', '[]', '{"data":{}}', '{"type":"a b","data":{}}', '{"type":"a.b"}', '{"type":"a.b","data":{},"extra":1}', '{"type":7,"data":{}}']) {
      const r = await g.request({ method: 'POST', path: '/events', body });
      assert.equal(r.status, 400, body);
      assert.equal(r.json().error.code, 'HG_EVENT_INVALID', body);
    }
    assert.ok(g.log.lines.some((l) => l.code === 'HG_QUEUE_NOT_DURABLE'), 'memory-store warning logged');
  });
});

describe('Retry-After and the operational webhook', () => {
  test('Retry-After stretches the next delay (clamped to twice the scheduled one)', async () => {
    const times: number[] = [];
    const r = await receiver((_req, res) => {
      times.push(Date.now());
      // A 500: a 429 or 503 with Retry-After holds the whole endpoint for all of it (health/signals.ts).
      if (times.length === 1) res.writeHead(500, { 'retry-after': '30' }).end();
      else res.writeHead(200).end();
    });
    const g = await gatewayWith(`routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "200ms", "1s"] }
  endpoints:
    - { id: ep, url: "${r.url}/hook" }
`);
    await publish(g, 'a.b', {});
    await waitUntil(() => times.length === 2, 10000, 'second attempt');
    // Scheduled 200 ms ±20%; Retry-After 30 s is clamped to twice that: at least 320 ms.
    assert.ok(times[1]! - times[0]! >= 2 * 200 * 0.8 - 5, `gap was ${times[1]! - times[0]!} ms`);
  });

  test('operational events are also sent, signed, to egress.operationalWebhook', async () => {
    const ops = await receiver();
    const gone = await receiver((_req, res) => void res.writeHead(410).end());
    const OPS_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
    const g = await gatewayWith(`routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  operationalWebhook: { url: "${ops.url}/ops", secret: "${OPS_SECRET}" }
  endpoints:
    - { id: gone, url: "${gone.url}/hook" }
`);
    await publish(g, 'a.b', {});
    await waitUntil(() => ops.requests.some((q) => JSON.parse(q.body.toString()).type === 'endpoint.disabled'), 10000, 'endpoint.disabled on the ops webhook');
    verifyAll(ops.requests, OPS_SECRET);
    const ev = ops.requests.map((q) => JSON.parse(q.body.toString())).find((e) => e.type === 'endpoint.disabled');
    assert.equal(ev.data.endpointId, 'gone');
  });
});

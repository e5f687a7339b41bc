/**
 * Layered delivery policy through a running gateway, on the memory store and on Redis: the
 * engine applies each layer's timeout, throttle, in-flight cap and payload limit, and a reload
 * changes the next attempt's policy.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { testStores } from '../support/redis.js';
import { openResources } from './resources.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const { onClose, receiver } = openResources();

async function gatewayWith(yaml: string): Promise<TestGateway> {
  const g = await startGateway(yaml, { services: createDeliveryService });
  onClose(() => g.stop());
  return g;
}

function publish(g: TestGateway, type: string, data: unknown, tenant?: string) {
  return g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tenant === undefined ? { type, data } : { type, data, tenant }) });
}

async function attemptsOf(g: TestGateway, id: string, target: string): Promise<{ status: number; error?: string }[]> {
  return (await g.admin('GET', `/admin/messages/${id}`)).json().deliveries[target]?.attempts ?? [];
}

for (const driver of ['memory', 'redis'] as const) {
  describe(`layered delivery policy with the ${driver} store`, () => {
    // One prefix per gateway: gateways sharing a prefix would share one queue and take each other's jobs.
    const stores = testStores(`policy-${driver}`);
    after(() => stores.cleanUp());
    const storeYaml = () => stores.yaml(driver);
    const routes = 'routes:\n  - { name: events, path: /events, methods: [POST], publish: {} }';

    test("an endpoint's attemptTimeoutMs beats the global one (and the older egress field)", async () => {
      // Never answers: each attempt ends at its deadline.
      const r = await receiver(() => {});
      const g = await gatewayWith(`${storeYaml()}
${routes}
egress:
  allowCidrs: ["127.0.0.1/32"]
  attemptTimeoutMs: 20000
  policy: { attemptTimeoutMs: 15000, retry: { schedule: [0] } }
  endpoints:
    - { id: quick, url: "${r.url}/hook", secret: "${SECRET}", policy: { attemptTimeoutMs: 300 } }
`);
      const id = (await publish(g, 'order.created', {})).json().id;
      await waitUntil(async () => (await attemptsOf(g, id, 'quick')).length === 1, 10000, 'the attempt to time out');
      const [a] = await attemptsOf(g, id, 'quick');
      assert.equal(a!.status, 0);
      assert.equal(a!.error, 'timed out after 300 ms');
      assert.equal(r.requests.length, 1);
    });

    test("a tenant's rateLimitPerSec throttles its endpoints; the default tenant's are not", async () => {
      const acme = await receiver();
      const other = await receiver();
      const g = await gatewayWith(`${storeYaml()}
${routes}
tenants:
  - { id: acme, policy: { rateLimitPerSec: 2 } }
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: acme-hook, tenant: acme, url: "${acme.url}/hook", secret: "${SECRET}" }
    - { id: plain, url: "${other.url}/hook", secret: "${SECRET}" }
`);
      const arrivals: number[] = [];
      acme.server.on('request', () => arrivals.push(Date.now()));
      const started = Date.now();
      for (let i = 0; i < 6; i++) {
        assert.equal((await publish(g, 'order.created', { i }, 'acme')).status, 202);
        assert.equal((await publish(g, 'order.created', { i })).status, 202);
      }
      await waitUntil(() => other.requests.length === 6, 10000, 'the default tenant\'s deliveries');
      const plainDone = Date.now();
      await waitUntil(() => acme.requests.length === 6, 20000, 'the throttled deliveries');
      // 6 at 2 per second need at least three distinct seconds: two full second boundaries.
      assert.ok(arrivals[5]! - arrivals[0]! >= 1000, `6 throttled deliveries took only ${arrivals[5]! - arrivals[0]!} ms`);
      assert.ok(new Set(arrivals.map((t) => Math.floor(t / 1000))).size >= 3);
      assert.ok(plainDone - started < arrivals[5]! - started, 'the unthrottled endpoint finished first');
    });

    test('maxInFlight caps concurrent attempts to an endpoint (counted at the receiver)', async () => {
      let active = 0;
      let peak = 0;
      const r = await receiver((_req, res) => {
        active++;
        peak = Math.max(peak, active);
        // A slow endpoint: the answer comes 150 ms later.
        setTimeout(() => {
          active--;
          res.writeHead(200).end();
        }, 150);
      });
      const g = await gatewayWith(`${storeYaml()}
${routes}
egress:
  allowCidrs: ["127.0.0.1/32"]
  maxInFlightPerEndpoint: 16
  endpoints:
    - { id: slow, url: "${r.url}/hook", secret: "${SECRET}", policy: { maxInFlight: 2 } }
`);
      for (let i = 0; i < 8; i++) assert.equal((await publish(g, 'order.created', { i })).status, 202);
      await waitUntil(() => r.requests.length === 8 && active === 0, 30000, '8 deliveries');
      assert.equal(peak, 2, `peak concurrency ${peak}`);
    });

    test('maxPayloadBytes refuses a publish with 413 and queues nothing; the smallest limit of the targets applies', async () => {
      const a = await receiver();
      const b = await receiver();
      const g = await gatewayWith(`${storeYaml()}
${routes}
tenants:
  - { id: default, policy: { maxPayloadBytes: 1500 } }
eventTypes:
  - { name: report.ready, version: 1, policy: { maxPayloadBytes: 300 } }
egress:
  allowCidrs: ["127.0.0.1/32"]
  policy: { maxPayloadBytes: 2000 }
  endpoints:
    - { id: roomy, url: "${a.url}/hook", secret: "${SECRET}", events: ["order.*", "user.*", "report.*"] }
    - { id: tight, url: "${b.url}/hook", secret: "${SECRET}", events: ["order.*"], policy: { maxPayloadBytes: 150 } }
`);
      const big = (n: number) => ({ blob: 'x'.repeat(n) });
      // The (default) tenant's 1500 bytes beat the global 2000, for a type no endpoint narrows.
      const tooBig = await publish(g, 'user.created', big(1700));
      assert.equal(tooBig.status, 413);
      assert.equal(tooBig.json().error.code, 'HG_TENANT_PAYLOAD_TOO_LARGE');
      assert.match(tooBig.json().error.message, /1500 bytes/);
      // No target at all: the layers above an endpoint still apply.
      const nobody = await publish(g, 'audit.logged', big(1700));
      assert.equal(nobody.status, 413);
      assert.match(nobody.json().error.message, /1500 bytes/);
      assert.equal((await publish(g, 'audit.logged', big(10))).json().endpoints, 0);
      // The event type's limit (300) beats the global one.
      assert.equal((await publish(g, 'report.ready', big(400))).status, 413);
      // One target's limit (tight: 150) refuses the whole publish, for every target.
      const refused = await publish(g, 'order.created', big(200));
      assert.equal(refused.status, 413);
      assert.match(refused.json().error.message, /150 bytes/);
      assert.equal((await g.admin('GET', '/admin/messages')).json().messages.length, 1, 'nothing was stored but the small audit event');
      // Under every limit: delivered to both.
      const ok = await publish(g, 'order.created', big(10));
      assert.equal(ok.status, 202);
      assert.equal(ok.json().endpoints, 2);
      await waitUntil(() => a.requests.length === 1 && b.requests.length === 1, 10000, 'the small event');
      assert.equal((await g.admin('GET', '/admin/messages')).json().messages.length, 2);
    });

    test('a reload changes the schedule of the next retry', async () => {
      const r = await receiver((_req, res) => void res.writeHead(500).end());
      const config = (retry: string) => `${storeYaml()}
${routes}
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: flaky, url: "${r.url}/hook", secret: "${SECRET}", policy: { retry: ${retry} } }
`;
      const first = config('{ schedule: [0, "2s", "1h"] }');
      const g = await gatewayWith(first);
      const id = (await publish(g, 'order.created', {})).json().id;
      await waitUntil(async () => (await attemptsOf(g, id, 'flaky')).length === 1, 10000, 'attempt 1');
      // Attempt 2 is due in 2 s (±20%); under this schedule, attempt 3 would wait an hour.
      g.write(first.replace('{ schedule: [0, "2s", "1h"] }', '{ schedule: [0, "2s", "50ms", "50ms"] }'));
      const reloaded = await g.admin('POST', '/admin/reload');
      assert.equal(reloaded.status, 200);
      assert.equal(r.requests.length, 1, 'the reload landed before attempt 2 (precondition)');
      // Attempt 2 runs on the new policy, so attempts 3 and 4 follow at once; 4 is the last.
      await waitUntil(() => r.requests.length === 4, 15000, 'attempts 3 and 4 on the new schedule');
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${id}`)).json().status === 'failed', 5000, 'exhausted after 4 attempts');
      assert.equal((await attemptsOf(g, id, 'flaky')).length, 4);
    });
  });
}

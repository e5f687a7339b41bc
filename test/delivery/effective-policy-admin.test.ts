/**
 * Delivery policy in the admin API, on the memory store and on Redis: `GET /admin/endpoints/{id}`
 * shows the effective policy with each field's layer (and per event type), POST / PATCH set an
 * API endpoint's own layer (validated like gateway.yaml), event types carry a layer, and a
 * reload changes what is shown.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/redis.js';
import { openResources } from './resources.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const { onClose, receiver } = openResources();

type Resolved = Record<string, { value: unknown; from: string }>;

/** `{field: [value, from]}` of an effective policy, for compact comparisons. */
function flat(p: Resolved): Record<string, [unknown, string]> {
  return Object.fromEntries(['retry', 'attemptTimeoutMs', 'rateLimitPerSec', 'maxInFlight', 'maxPayloadBytes'].map((f) => [f, [p[f]!.value, p[f]!.from]]));
}

for (const driver of ['memory', 'redis'] as const) {
  describe(`effective policy in the admin API (${driver} store)`, () => {
    const prefixes: string[] = [];
    after(async () => {
      for (const p of prefixes) await deleteKeys(p);
    });

    async function gateway(): Promise<{ g: TestGateway; yaml: string }> {
      const r = await receiver();
      let store = 'store: { driver: memory }';
      if (driver === 'redis') {
        const prefix = testPrefix('policy-admin');
        prefixes.push(prefix);
        store = `store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }`;
      }
      const yaml = `${store}
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
tenants:
  - { id: acme, policy: { rateLimitPerSec: 5, retry: { schedule: [0, "1s"] } } }
eventTypes:
  - { name: invoice.paid, version: 1, policy: { maxPayloadBytes: 1000 } }
  - { name: invoice.paid, version: 2, policy: { attemptTimeoutMs: 2500 } }
  - { name: user.created, version: 1, policy: { maxPayloadBytes: 10 } }
egress:
  allowCidrs: ["127.0.0.1/32"]
  policy: { attemptTimeoutMs: 5000 }
  endpoints:
    - { id: cfg, tenant: acme, url: "${r.url}/cfg", secret: "${SECRET}", events: ["invoice.*"], retry: { schedule: [0, "2s", "3s"] }, policy: { maxInFlight: 3 } }
    - { id: pinned, url: "${r.url}/pinned", secret: "${SECRET}", events: ["invoice.*"], eventVersions: { invoice.paid: 1 } }
`;
      const g = await startGateway(yaml, { services: createDeliveryService });
      onClose(() => g.stop());
      return { g, yaml };
    }

    test('GET /admin/endpoints/{id} shows each field with its layer, and per subscribed event type', async () => {
      const { g, yaml } = await gateway();
      const cfg = (await g.admin('GET', '/admin/endpoints/cfg')).json();
      assert.deepEqual(cfg.policy, { maxInFlight: 3 });
      assert.deepEqual(flat(cfg.effectivePolicy), {
        retry: [[0, 2000, 3000], 'endpoint'],
        attemptTimeoutMs: [5000, 'global'],
        rateLimitPerSec: [5, 'tenant'],
        maxInFlight: [3, 'endpoint'],
        maxPayloadBytes: [null, 'default'],
      });
      // user.created has a policy but cfg does not subscribe to it; invoice.paid v2 is the latest.
      assert.deepEqual(Object.keys(cfg.effectivePolicy.eventTypes), ['invoice.paid']);
      const inv = cfg.effectivePolicy.eventTypes['invoice.paid'];
      assert.equal(inv.version, 2);
      assert.deepEqual(inv.attemptTimeoutMs, { value: 2500, from: 'eventType' });
      assert.deepEqual(inv.rateLimitPerSec, { value: 5, from: 'tenant' });
      // The pin decides the version, so the version 1 layer applies.
      const pinned = (await g.admin('GET', '/admin/endpoints/pinned')).json().effectivePolicy;
      assert.deepEqual(flat(pinned).rateLimitPerSec, [null, 'default'], 'the default tenant has no policy');
      assert.equal(pinned.retry.from, 'default');
      assert.deepEqual([pinned.eventTypes['invoice.paid'].version, pinned.eventTypes['invoice.paid'].maxPayloadBytes], [1, { value: 1000, from: 'eventType' }]);

      // A reload changes it: every layer gateway.yaml declares.
      g.write(
        yaml
          .replace('policy: { attemptTimeoutMs: 5000 }', 'policy: { attemptTimeoutMs: 7000, rateLimitPerSec: 100 }')
          .replace('policy: { rateLimitPerSec: 5, retry', 'policy: { rateLimitPerSec: 6, retry')
          .replace('version: 2, policy: { attemptTimeoutMs: 2500 }', 'version: 2, policy: { attemptTimeoutMs: 2600 }')
          .replace('policy: { maxInFlight: 3 }', 'policy: { maxInFlight: 4 }'),
      );
      assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
      const after = (await g.admin('GET', '/admin/endpoints/cfg')).json().effectivePolicy;
      assert.deepEqual(after.attemptTimeoutMs, { value: 7000, from: 'global' });
      assert.deepEqual(after.rateLimitPerSec, { value: 6, from: 'tenant' }, 'the tenant still beats the global layer');
      assert.deepEqual(after.maxInFlight, { value: 4, from: 'endpoint' });
      assert.deepEqual(after.eventTypes['invoice.paid'].attemptTimeoutMs, { value: 2600, from: 'eventType' });
      // Config endpoints' policy is changed in gateway.yaml only.
      const ro = await g.admin('PATCH', '/admin/endpoints/cfg', { policy: { maxInFlight: 1 } });
      assert.equal(ro.status, 409);
      assert.equal(ro.json().error.code, 'HG_ENDPOINT_READONLY');
    });

    test('POST and PATCH set an API endpoint\'s policy, validated like gateway.yaml; null clears it', async () => {
      const { g } = await gateway();
      const r = await receiver();
      const created = await g.admin('POST', '/admin/endpoints', { id: 'api1', url: `${r.url}/a`, policy: { retry: { baseSec: 1, attempts: 3 }, maxPayloadBytes: 50 } });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.json().policy, { retry: { baseSec: 1, attempts: 3 }, maxPayloadBytes: 50 });
      let ep = (await g.admin('GET', '/admin/endpoints/api1')).json();
      assert.deepEqual(flat(ep.effectivePolicy).retry, [[0, 1000, 2000], 'endpoint']);
      assert.deepEqual(flat(ep.effectivePolicy).maxPayloadBytes, [50, 'endpoint']);
      // Subscribed to everything: the types with a policy show up (user.created's latest is v1).
      assert.deepEqual(Object.keys(ep.effectivePolicy.eventTypes).sort(), ['invoice.paid', 'user.created']);
      assert.deepEqual(ep.effectivePolicy.eventTypes['user.created'].maxPayloadBytes, { value: 50, from: 'endpoint' }, 'the endpoint beats the event type');

      const patched = await g.admin('PATCH', '/admin/endpoints/api1', { policy: { attemptTimeoutMs: 100 } });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(patched.json().policy, { attemptTimeoutMs: 100 }, 'a PATCH replaces the whole layer');
      ep = (await g.admin('GET', '/admin/endpoints/api1')).json();
      assert.deepEqual(flat(ep.effectivePolicy).attemptTimeoutMs, [100, 'endpoint']);
      assert.deepEqual(flat(ep.effectivePolicy).maxPayloadBytes, [null, 'default']);

      const cleared = await g.admin('PATCH', '/admin/endpoints/api1', { policy: null });
      assert.equal(cleared.json().policy, null);
      assert.deepEqual(flat((await g.admin('GET', '/admin/endpoints/api1')).json().effectivePolicy).attemptTimeoutMs, [5000, 'global']);

      for (const policy of [{ bogus: 1 }, { attemptTimeoutMs: 0 }, { maxInFlight: 1.5 }, { retry: { baseSec: 0, attempts: 2 } }, { retry: { schedule: [] } }, { retry: { schedule: ['5 minutes'] } }, 'fast']) {
        const bad = await g.admin('POST', '/admin/endpoints', { id: 'bad', url: `${r.url}/b`, policy });
        assert.equal(bad.status, 400, `${JSON.stringify(policy)}: ${bad.text}`);
        assert.equal(bad.json().error.code, 'HG_ADMIN_BAD_INPUT');
      }
      assert.equal((await g.admin('GET', '/admin/endpoints/bad')).status, 404, 'nothing was created');
    });

    test('API event types carry a policy layer (create, change, clear)', async () => {
      const { g } = await gateway();
      const r = await receiver();
      assert.equal((await g.admin('POST', '/admin/endpoints', { id: 'orders', url: `${r.url}/o`, events: ['order.*'] })).status, 201);
      const t = await g.admin('POST', '/admin/event-types', { name: 'order.created', version: 1, policy: { maxPayloadBytes: 120 } });
      assert.equal(t.status, 201, t.text);
      assert.deepEqual(t.json().policy, { maxPayloadBytes: 120 });
      const shown = async () => (await g.admin('GET', '/admin/endpoints/orders')).json().effectivePolicy.eventTypes['order.created'];
      assert.deepEqual((await shown()).maxPayloadBytes, { value: 120, from: 'eventType' });
      // It applies at publish.
      const big = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'order.created', data: { x: 'y'.repeat(200) } }) });
      assert.equal(big.status, 413);
      assert.equal(big.json().error.code, 'HG_TENANT_PAYLOAD_TOO_LARGE');
      const changed = await g.admin('PATCH', '/admin/event-types/order.created', { policy: { attemptTimeoutMs: 900 } });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual((await shown()).attemptTimeoutMs, { value: 900, from: 'eventType' });
      assert.equal((await g.admin('PATCH', '/admin/event-types/order.created', { policy: null })).json().policy, null);
      assert.equal(await shown(), undefined, 'no policy: no per-type entry');
      const bad = await g.admin('POST', '/admin/event-types', { name: 'order.paid', version: 1, policy: { maxInFlight: 0 } });
      assert.equal(bad.status, 400);
    });
  });
}

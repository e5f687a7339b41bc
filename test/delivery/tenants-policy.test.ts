/**
 * The policy layer of tenants created through the admin API, on both stores: POST and PATCH
 * /admin/tenants take `policy` (checked like an endpoint's), the tenant's endpoints show it as the
 * `tenant` layer of their effective policy, attempts follow it, and `policy: null` clears it.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway } from '../support/gateway.js';
import { startUpstream, waitUntil } from '../support/http.js';
import { testStores } from '../support/redis.js';

const stores = testStores('tenants-policy');
after(() => stores.cleanUp());

for (const driver of ['memory', 'redis'] as const) {
  describe(`API tenants' policy layer (${driver} store)`, () => {
    test('set on create, shown on the endpoints, followed by attempts, cleared by PATCH null', async () => {
      // /hang never answers: an attempt there ends at its deadline.
      const rx = await startUpstream((req, res) => {
        if (req.url !== '/hang') res.end('ok');
      });
      const g = await startGateway(
        `${stores.yaml(driver)}
egress:
  allowCidrs: ["127.0.0.1/32"]
  policy: { attemptTimeoutMs: 5000 }
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
`,
        { services: createDeliveryService },
      );
      try {
        const created = await g.admin('POST', '/admin/tenants', { id: 'umbrella', policy: { attemptTimeoutMs: 300, maxInFlight: 3, retry: { schedule: [0] } } });
        assert.equal(created.status, 201, created.text);
        assert.deepEqual(created.json().policy, { attemptTimeoutMs: 300, maxInFlight: 3, retry: { schedule: [0] } });
        assert.equal((await g.admin('POST', '/admin/tenants/umbrella/endpoints', { id: 'u-hang', url: `${rx.url}/hang` })).status, 201);

        const eff = (await g.admin('GET', '/admin/endpoints/u-hang')).json().effectivePolicy;
        assert.deepEqual(eff.attemptTimeoutMs, { value: 300, from: 'tenant' });
        assert.deepEqual(eff.maxInFlight, { value: 3, from: 'tenant' });
        assert.deepEqual(eff.retry, { value: [0], from: 'tenant' });

        // An attempt follows the tenant's deadline, not the global 5 s.
        const pub = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'a.b', data: {}, tenant: 'umbrella' }) });
        assert.equal(pub.status, 202, pub.text);
        const id = pub.json().id as string;
        let attempts: { error?: string; status: number }[] = [];
        await waitUntil(async () => (attempts = (await g.admin('GET', `/admin/messages/${id}`)).json().deliveries?.['u-hang']?.attempts ?? []).length > 0, 10000, 'the attempt');
        assert.equal(attempts[0]!.status, 0);
        assert.match(attempts[0]!.error ?? '', /timed out after 300 ms/);

        const cleared = await g.admin('PATCH', '/admin/tenants/umbrella', { policy: null });
        assert.equal(cleared.status, 200, cleared.text);
        assert.equal(cleared.json().policy, null);
        const after = (await g.admin('GET', '/admin/endpoints/u-hang')).json().effectivePolicy;
        assert.deepEqual(after.attemptTimeoutMs, { value: 5000, from: 'global' });

        for (const policy of [{ maxInFlight: 0 }, { attemptTimeoutMs: 'soon' }, { retry: { schedule: ['never'] } }, { unknown: 1 }]) {
          const bad = await g.admin('POST', '/admin/tenants', { id: 'bad', policy });
          assert.equal(bad.status, 400, `${JSON.stringify(policy)}: ${bad.text}`);
          assert.equal(bad.json().error.code, 'HG_ADMIN_BAD_INPUT');
        }
        assert.equal((await g.admin('GET', '/admin/tenants/bad')).status, 404, 'a refused tenant is not created');
      } finally {
        await g.stop();
        await rx.close();
      }
    });
  });
}

/**
 * The tenant admin API and the quotas, with the memory and the Redis store: CRUD of API tenants,
 * read-only config tenants and the implicit default, endpoints per tenant, stable codes for bad
 * input; maxEndpoints, maxPayloadBytes and publishPerSec (shared by two instances on one Redis),
 * each refusal leaving nothing queued and the Idempotency-Key unclaimed.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { HttpResult } from '../support/http.js';
import { waitUntil } from '../support/http.js';
import { expectError, WAIT_MS, type Mode } from './admin-env.js';
import { accepted, deleteTenantKeys, lastPrefix, targetsOf, tenantSetup, type TenantEnv } from './tenants-env.js';

after(() => deleteTenantKeys());

const ok = async (p: Promise<HttpResult>, status: number, what: string): Promise<Record<string, any>> => {
  const r = await p;
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  return r.json();
};

function suite(mode: Mode): void {
  describe(`tenant admin API and quotas (${mode} store)`, () => {
    let env: TenantEnv;
    const open: TenantEnv[] = [];
    after(async () => {
      for (const e of open.reverse()) await e.stop();
    });

    test('GET /admin/tenants lists the implicit default, the config tenants, then API ones; config tenants show their quotas', async () => {
      env = await tenantSetup(mode);
      open.push(env);
      const list = await ok(env.gw.admin('GET', '/admin/tenants'), 200, 'list');
      assert.deepEqual(list.tenants.map((t: { id: string; source: string }) => [t.id, t.source]), [['acme', 'config'], ['default', 'implicit'], ['globex', 'config'], ['tiny', 'config']]);
      const acme = await ok(env.gw.admin('GET', '/admin/tenants/acme'), 200, 'get acme');
      assert.equal(acme.name, 'Acme Corp');
      assert.deepEqual(acme.metadata, { plan: 'gold' });
      assert.deepEqual(acme.counts, { endpoints: 2, messages: 0 });
      const tiny = await ok(env.gw.admin('GET', '/admin/tenants/tiny'), 200, 'get tiny');
      assert.deepEqual(tiny.quotas, { maxEndpoints: 1, publishPerSec: 3, maxPayloadBytes: 300 });
      await expectError(env.gw.admin('GET', '/admin/tenants/initech'), 404, 'HG_TENANT_NOT_FOUND', 'unknown tenant');
    });

    test('config tenants and the default are read-only: 409 HG_TENANT_READONLY; their ids are taken: 409 HG_TENANT_EXISTS', async () => {
      await expectError(env.gw.admin('PATCH', '/admin/tenants/acme', { name: 'x' }), 409, 'HG_TENANT_READONLY', 'patch config tenant');
      await expectError(env.gw.admin('DELETE', '/admin/tenants/acme'), 409, 'HG_TENANT_READONLY', 'delete config tenant');
      await expectError(env.gw.admin('PATCH', '/admin/tenants/default', { name: 'x' }), 409, 'HG_TENANT_READONLY', 'patch default');
      await expectError(env.gw.admin('DELETE', '/admin/tenants/default'), 409, 'HG_TENANT_READONLY', 'delete default');
      await expectError(env.gw.admin('POST', '/admin/tenants', { id: 'acme' }), 409, 'HG_TENANT_EXISTS', 'config id');
      await expectError(env.gw.admin('POST', '/admin/tenants', { id: 'default' }), 409, 'HG_TENANT_EXISTS', 'default id');
    });

    test('bad input is 400 HG_ADMIN_BAD_INPUT, and creates nothing', async () => {
      const cases: [string, string, unknown][] = [
        ['POST', '/admin/tenants', {}],
        ['POST', '/admin/tenants', { id: 'a/b' }],
        ['POST', '/admin/tenants', { id: 'x'.repeat(65) }],
        ['POST', '/admin/tenants', { id: 'initech', bogus: 1 }],
        ['POST', '/admin/tenants', { id: 'initech', quotas: { maxEndpoints: -1 } }],
        ['POST', '/admin/tenants', { id: 'initech', quotas: { publishPerSec: 0 } }],
        ['POST', '/admin/tenants', { id: 'initech', quotas: { other: 1 } }],
        ['POST', '/admin/tenants', { id: 'initech', metadata: { a: 1 } }],
        ['POST', '/admin/tenants', { id: 'initech', policy: { maxInFlight: 0 } }],
        ['POST', '/admin/tenants', []],
        ['POST', '/admin/endpoints', { url: 'http://127.0.0.1:9/x', tenant: 'a/b' }],
        ['POST', '/admin/tenants/acme/endpoints', { url: 'http://127.0.0.1:9/x', tenant: 'globex' }],
      ];
      for (const [method, path, body] of cases) await expectError(env.gw.admin(method, path, body), 400, 'HG_ADMIN_BAD_INPUT', `${method} ${path} ${JSON.stringify(body)}`);
      const list = await ok(env.gw.admin('GET', '/admin/tenants'), 200, 'list');
      assert.equal(list.tenants.length, 4, 'nothing was created');
    });

    test('API tenants: create, read with counts, change, its endpoints (quota maxEndpoints), refuse deleting one with endpoints', async () => {
      const created = await ok(env.gw.admin('POST', '/admin/tenants', { id: 'initech', name: 'Initech', metadata: { region: 'eu' }, quotas: { maxEndpoints: 1 } }), 201, 'create');
      assert.equal(created.source, 'api');
      assert.deepEqual(created.quotas, { maxEndpoints: 1, publishPerSec: null, maxPayloadBytes: null });
      await expectError(env.gw.admin('POST', '/admin/tenants', { id: 'initech' }), 409, 'HG_TENANT_EXISTS', 'create twice');
      const patched = await ok(env.gw.admin('PATCH', '/admin/tenants/initech', { name: 'Initech Ltd', metadata: null }), 200, 'patch');
      assert.equal(patched.name, 'Initech Ltd');
      assert.deepEqual(patched.metadata, {});
      assert.deepEqual(patched.quotas.maxEndpoints, 1, 'untouched fields stay');

      const ep = await ok(env.gw.admin('POST', '/admin/tenants/initech/endpoints', { id: 'ini-1', url: `${env.rx.up.url}/ini-1` }), 201, 'endpoint in tenant');
      assert.equal(ep.tenant, 'initech');
      assert.match(ep.secret, /^whsec_/);
      assert.equal((await ok(env.gw.admin('GET', '/admin/endpoints/ini-1'), 200, 'get endpoint')).tenant, 'initech');
      const q = await expectError(env.gw.admin('POST', '/admin/tenants/initech/endpoints', { id: 'ini-2', url: `${env.rx.up.url}/ini-2` }), 409, 'HG_TENANT_QUOTA_EXCEEDED', 'over maxEndpoints');
      assert.match(q.json().error.message, /maxEndpoints 1/);
      await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'ini-2', tenant: 'initech', url: `${env.rx.up.url}/ini-2` }), 409, 'HG_TENANT_QUOTA_EXCEEDED', 'over maxEndpoints, other route');
      await expectError(env.gw.admin('GET', '/admin/endpoints/ini-2'), 404, 'HG_ENDPOINT_NOT_FOUND', 'nothing created over quota');
      // The config tenant tiny already has its one endpoint.
      await expectError(env.gw.admin('POST', '/admin/tenants/tiny/endpoints', { url: `${env.rx.up.url}/tiny-2` }), 409, 'HG_TENANT_QUOTA_EXCEEDED', 'config quota');
      await expectError(env.gw.admin('POST', '/admin/tenants/nope/endpoints', { url: `${env.rx.up.url}/x` }), 404, 'HG_TENANT_NOT_FOUND', 'unknown tenant (path)');
      await expectError(env.gw.admin('POST', '/admin/endpoints', { url: `${env.rx.up.url}/x`, tenant: 'nope' }), 404, 'HG_TENANT_NOT_FOUND', 'unknown tenant (body)');
      // An endpoint created without a tenant is the default tenant's.
      const plain = await ok(env.gw.admin('POST', '/admin/endpoints', { id: 'plain', url: `${env.rx.up.url}/plain`, events: ['nothing.*'] }), 201, 'plain endpoint');
      assert.equal(plain.tenant, 'default');

      const listed = await ok(env.gw.admin('GET', '/admin/tenants/initech/endpoints'), 200, 'tenant endpoints');
      assert.deepEqual(listed.endpoints.map((e: { id: string }) => e.id), ['ini-1']);
      const acmeEps = await ok(env.gw.admin('GET', '/admin/tenants/acme/endpoints'), 200, 'acme endpoints');
      assert.deepEqual(acmeEps.endpoints.map((e: { id: string; tenant: string }) => [e.id, e.tenant]), [['acme-all', 'acme'], ['acme-inv', 'acme']]);
      const all = await ok(env.gw.admin('GET', '/admin/endpoints'), 200, 'all endpoints');
      assert.ok(all.endpoints.every((e: { tenant?: string }) => typeof e.tenant === 'string'));

      // Publish reaches it, and the counts show it.
      const m = await accepted(env.publish({ type: 'invoice.paid', data: {}, tenant: 'initech' }));
      assert.deepEqual(await targetsOf(env, m.id), ['ini-1']);
      assert.deepEqual((await ok(env.gw.admin('GET', '/admin/tenants/initech'), 200, 'counts')).counts, { endpoints: 1, messages: 1 });

      const refused = await expectError(env.gw.admin('DELETE', '/admin/tenants/initech'), 409, 'HG_TENANT_READONLY', 'delete with endpoints');
      assert.match(refused.json().error.message, /still has 1 endpoint/);
      await ok(env.gw.admin('DELETE', '/admin/endpoints/ini-1'), 200, 'delete endpoint');
      assert.deepEqual(await ok(env.gw.admin('DELETE', '/admin/tenants/initech'), 200, 'delete tenant'), { deleted: 'initech' });
      await expectError(env.gw.admin('GET', '/admin/tenants/initech'), 404, 'HG_TENANT_NOT_FOUND', 'gone');
      await waitUntil(async () => (await env.publish({ type: 'invoice.paid', data: {}, tenant: 'initech' })).status === 404, WAIT_MS, 'publish into the deleted tenant is 404 (caches expire within a second)');
      // Its messages stay listable until their retention ends.
      assert.equal((await ok(env.gw.admin('GET', '/admin/messages?tenant=initech'), 200, 'list')).messages.length, 1);
    });

    test('maxPayloadBytes: 413 HG_TENANT_PAYLOAD_TOO_LARGE, nothing queued, the Idempotency-Key unclaimed', async () => {
      const before = (await ok(env.gw.admin('GET', '/admin/tenants/tiny'), 200, 'counts')).counts.messages;
      const big = { type: 'invoice.paid', tenant: 'tiny', data: { pad: 'x'.repeat(400) } };
      const r = await expectError(env.publish(big, { headers: { 'idempotency-key': 'tiny-big' } }), 413, 'HG_TENANT_PAYLOAD_TOO_LARGE', 'too large');
      assert.match(r.json().error.message, /300 bytes/);
      // Other tenants have no such quota.
      await accepted(env.publish({ ...big, tenant: 'globex' }));
      assert.equal((await ok(env.gw.admin('GET', '/admin/tenants/tiny'), 200, 'counts')).counts.messages, before, 'nothing stored');
      // The key was not consumed: a smaller event with it is published (not a replay).
      const small = await waitUntilAccepted(env, { type: 'invoice.paid', tenant: 'tiny', data: { n: 1 } }, 'tiny-big');
      assert.equal(small.headers['idempotent-replayed'], undefined);
      assert.deepEqual(await targetsOf(env, small.json().id), ['tiny-all']);
    });

    test('publishPerSec: 429 HG_TENANT_RATE_LIMITED with Retry-After; nothing queued for a refused publish, its key unclaimed', async () => {
      await waitForRateWindow();
      const envs = [env];
      if (mode === 'redis') {
        // A second instance on the same Redis: the budget is shared, not per instance.
        const second = await tenantSetup(mode, { prefix: lastPrefix(), rx: env.rx });
        open.push(second);
        envs.push(second);
        await waitForRateWindow();
      }
      const before = (await ok(env.gw.admin('GET', '/admin/tenants/tiny'), 200, 'counts')).counts.messages;
      const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => envs[i % envs.length]!.publish({ type: 'invoice.paid', tenant: 'tiny', data: { i } }, { headers: { 'idempotency-key': `burst-${i}` } })));
      const okIdx = burst.flatMap((r, i) => (r.status === 202 ? [i] : []));
      const limited = burst.flatMap((r, i) => (r.status === 429 ? [i] : []));
      assert.equal(okIdx.length + limited.length, 12, burst.map((r) => r.status).join(','));
      // 3 a second, across every instance: a burst that spans two one-second windows gets at most 6.
      assert.ok(okIdx.length >= 1 && okIdx.length <= 6, `accepted ${okIdx.length}`);
      for (const i of limited) {
        assert.equal(burst[i]!.json().error.code, 'HG_TENANT_RATE_LIMITED');
        assert.equal(burst[i]!.headers['retry-after'], '1');
        assert.equal(burst[i]!.headers['ratelimit-limit'], '3');
        assert.equal(burst[i]!.headers['ratelimit-remaining'], '0');
      }
      const after = (await ok(env.gw.admin('GET', '/admin/tenants/tiny'), 200, 'counts')).counts.messages;
      assert.equal(after - before, okIdx.length, 'only accepted publishes were stored');
      // Other tenants are not limited by tiny's quota.
      await accepted(env.publish({ type: 'invoice.paid', tenant: 'globex', data: {} }));
      // A refused publish did not claim its key: sent again once the window passed, it is published.
      const again = await waitUntilAccepted(env, { type: 'invoice.paid', tenant: 'tiny', data: { again: true } }, `burst-${limited[0]}`);
      assert.equal(again.headers['idempotent-replayed'], undefined);
    });

    test("send-example is the endpoint's tenant's message, outside that tenant's publish quotas", async () => {
      // 8 at once: more than tiny's 3 a second could let through in two windows.
      await waitForRateWindow();
      const sent = await Promise.all(Array.from({ length: 8 }, (_, i) => ok(env.gw.admin('POST', '/admin/endpoints/tiny-all/send-example', { eventType: 'sample.ping' }), 202, `send-example ${i}`)));
      const ids = sent.map((r) => r.id as string);
      for (const id of ids) {
        const m = await ok(env.gw.admin('GET', `/admin/messages/${id}`), 200, 'message');
        assert.equal(m.tenant, 'tiny');
        assert.deepEqual(Object.keys(m.deliveries), ['tiny-all']);
      }
    });
  });
}

/** Waits until the current second has most of itself left, so a burst spans at most two rate windows. */
async function waitForRateWindow(): Promise<void> {
  await waitUntil(() => Date.now() % 1000 < 300, 5000, 'the start of a second');
}

/** Publishes until the tenant's rate window lets it through (202), at most WAIT_MS. */
async function waitUntilAccepted(env: TenantEnv, body: Record<string, unknown>, key: string): Promise<HttpResult> {
  let last: HttpResult | undefined;
  await waitUntil(async () => {
    last = await env.publish(body, { headers: { 'idempotency-key': key } });
    if (last.status !== 202 && last.status !== 429) assert.fail(`${last.status} ${last.text}`);
    return last.status === 202;
  }, WAIT_MS, 'accepted');
  return last!;
}

suite('memory');
suite('redis');

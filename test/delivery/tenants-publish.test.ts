/**
 * Tenants on publish, with the memory and the Redis store: fan-out reaches only the tenant's
 * endpoints (no tenant: the default tenant's only), `endpoints` narrows it, `tenantFrom: consumer`
 * pins the tenant to the key-auth consumer, and messages carry and filter by their tenant.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { waitUntil } from '../support/http.js';
import { expectError, WAIT_MS, type Mode } from './admin-env.js';
import { accepted, ACME_KEY, deleteTenantKeys, GLOBEX_KEY, NOBODY_KEY, targetsOf, tenantSetup, type TenantEnv } from './tenants-env.js';

after(() => deleteTenantKeys());

/** Ids of every message the list shows for a query (all pages). */
async function listed(env: TenantEnv, query: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 50; guard++) {
    const r = await env.gw.admin('GET', `/admin/messages?${query}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    ids.push(...r.json().messages.map((m: { id: string; tenant: string }) => m.id));
    cursor = r.json().nextCursor;
    if (!cursor) return ids;
  }
  throw new Error('pagination did not end');
}

function suite(mode: Mode): void {
  describe(`tenants on publish (${mode} store)`, () => {
    let env: TenantEnv;
    const byTenant: Record<string, string[]> = { acme: [], globex: [], default: [] };
    after(() => env?.stop());

    test("fan-out reaches only the named tenant's matching endpoints; no tenant reaches only the default tenant's", async () => {
      env = await tenantSetup(mode);
      const acme = await accepted(env.publish({ type: 'invoice.paid', data: { n: 1 }, tenant: 'acme' }));
      assert.equal(acme.endpoints, 2);
      assert.deepEqual(await targetsOf(env, acme.id), ['acme-all', 'acme-inv']);
      const acmeOther = await accepted(env.publish({ type: 'user.created', data: { n: 2 }, tenant: 'acme' }));
      assert.deepEqual(await targetsOf(env, acmeOther.id), ['acme-all'], 'acme-inv subscribes to invoice.* only');
      const globex = await accepted(env.publish({ type: 'invoice.paid', data: { n: 3 }, tenant: 'globex' }));
      assert.deepEqual(await targetsOf(env, globex.id), ['globex-all']);
      const none = await accepted(env.publish({ type: 'invoice.paid', data: { n: 4 } }));
      assert.deepEqual(await targetsOf(env, none.id), ['dflt']);
      const named = await accepted(env.publish({ type: 'invoice.paid', data: { n: 5 }, tenant: 'default' }));
      assert.deepEqual(await targetsOf(env, named.id), ['dflt']);
      byTenant.acme!.push(acme.id, acmeOther.id);
      byTenant.globex!.push(globex.id);
      byTenant.default!.push(none.id, named.id);

      // What arrived, by receiver path: every webhook-id where it belongs, and nowhere else.
      const ids = (path: string) => env.rx.to(path).map((r) => String(r.headers['webhook-id']));
      await waitUntil(() => ids('/acme-all').length >= 2 && ids('/acme-inv').length >= 1 && ids('/globex-all').length >= 1 && ids('/dflt').length >= 2, WAIT_MS, 'deliveries');
      assert.deepEqual(ids('/acme-all').sort(), [acme.id, acmeOther.id].sort());
      assert.deepEqual(ids('/acme-inv'), [acme.id]);
      assert.deepEqual(ids('/globex-all'), [globex.id]);
      assert.deepEqual(ids('/dflt').sort(), [none.id, named.id].sort());
      assert.deepEqual(ids('/tiny-all'), []);
    });

    test('an unknown tenant is 404 HG_TENANT_NOT_FOUND; a malformed one 400 HG_EVENT_INVALID; nothing is stored', async () => {
      await expectError(env.publish({ type: 'invoice.paid', data: {}, tenant: 'initech' }), 404, 'HG_TENANT_NOT_FOUND', 'unknown tenant');
      await expectError(env.publish({ type: 'invoice.paid', data: {}, tenant: 'a/b' }), 400, 'HG_EVENT_INVALID', 'bad tenant id');
      await expectError(env.publish({ type: 'invoice.paid', data: {}, tenant: 7 }), 400, 'HG_EVENT_INVALID', 'tenant not a string');
      assert.deepEqual(await listed(env, 'tenant=initech'), []);
    });

    test("`endpoints` narrows to a subset of the tenant's matching endpoints, with one id and one idempotency key", async () => {
      const narrowed = await accepted(env.publish({ type: 'invoice.paid', data: { n: 6 }, tenant: 'acme', endpoints: ['acme-inv'] }, { headers: { 'idempotency-key': 'narrow-1' } }));
      assert.equal(narrowed.endpoints, 1);
      assert.deepEqual(await targetsOf(env, narrowed.id), ['acme-inv']);
      const again = await env.publish({ type: 'invoice.paid', data: { n: 6 }, tenant: 'acme', endpoints: ['acme-inv'] }, { headers: { 'idempotency-key': 'narrow-1' } });
      assert.equal(again.status, 202);
      assert.equal(again.json().id, narrowed.id);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      byTenant.acme!.push(narrowed.id);
      // A subscribed id of the tenant that does not match the type: narrowed to nothing, still one message.
      const nothing = await accepted(env.publish({ type: 'user.created', data: {}, tenant: 'acme', endpoints: ['acme-inv'] }));
      assert.equal(nothing.endpoints, 0);
      byTenant.acme!.push(nothing.id);
      // Another tenant's endpoint, or an unknown one, is refused (and says which).
      const r = await expectError(env.publish({ type: 'invoice.paid', data: {}, tenant: 'acme', endpoints: ['acme-inv', 'globex-all'] }), 400, 'HG_EVENT_INVALID', "globex's endpoint");
      assert.match(r.json().error.message, /"globex-all" is not an endpoint of tenant "acme"/);
      await expectError(env.publish({ type: 'invoice.paid', data: {}, endpoints: ['acme-inv'] }), 400, 'HG_EVENT_INVALID', "acme's endpoint from the default tenant");
      await expectError(env.publish({ type: 'invoice.paid', data: {}, endpoints: [] }), 400, 'HG_EVENT_INVALID', 'empty list');
      await expectError(env.publish({ type: 'invoice.paid', data: {}, endpoints: 'dflt' }), 400, 'HG_EVENT_INVALID', 'not a list');
    });

    test('the same Idempotency-Key in two tenants publishes twice: keys are per tenant', async () => {
      const a = await accepted(env.publish({ type: 'invoice.paid', data: {}, tenant: 'acme' }, { headers: { 'idempotency-key': 'same-key' } }));
      const g = await env.publish({ type: 'invoice.paid', data: {}, tenant: 'globex' }, { headers: { 'idempotency-key': 'same-key' } });
      assert.equal(g.status, 202, g.text);
      assert.notEqual(g.json().id, a.id);
      assert.equal(g.headers['idempotent-replayed'], undefined);
      assert.deepEqual(await targetsOf(env, g.json().id), ['globex-all']);
      byTenant.acme!.push(a.id);
      byTenant.globex!.push(g.json().id);
    });

    test('tenantFrom: consumer publishes into the key-auth consumer\'s tenant; naming another is 403 HG_TENANT_FORBIDDEN', async () => {
      const mine = await accepted(env.publish({ type: 'invoice.paid', data: {} }, { path: '/mine', headers: { apikey: GLOBEX_KEY } }));
      assert.deepEqual(await targetsOf(env, mine.id), ['globex-all']);
      const same = await accepted(env.publish({ type: 'invoice.paid', data: {}, tenant: 'acme' }, { path: '/mine', headers: { apikey: ACME_KEY } }));
      assert.deepEqual(await targetsOf(env, same.id), ['acme-all', 'acme-inv']);
      byTenant.globex!.push(mine.id);
      byTenant.acme!.push(same.id);
      const r = await expectError(env.publish({ type: 'invoice.paid', data: {}, tenant: 'globex' }, { path: '/mine', headers: { apikey: ACME_KEY } }), 403, 'HG_TENANT_FORBIDDEN', 'acme into globex');
      assert.ok(!r.text.includes(ACME_KEY), 'the key is never echoed');
      await expectError(env.publish({ type: 'invoice.paid', data: {}, tenant: 'default' }, { path: '/mine', headers: { apikey: ACME_KEY } }), 403, 'HG_TENANT_FORBIDDEN', 'acme into default');
      await expectError(env.publish({ type: 'invoice.paid', data: {} }, { path: '/mine', headers: { apikey: NOBODY_KEY } }), 404, 'HG_TENANT_NOT_FOUND', 'a consumer that is no tenant');
      await expectError(env.publish({ type: 'invoice.paid', data: {} }, { path: '/mine' }), 401, 'HG_AUTH_INVALID', 'no key: key-auth refuses first');
      const open = await expectError(env.publish({ type: 'invoice.paid', data: {} }, { path: '/unauthenticated' }), 403, 'HG_TENANT_FORBIDDEN', 'a route without authentication');
      assert.match(open.json().error.message, /authenticated consumer/);
    });

    test('messages show their tenant; ?tenant= lists only that tenant\'s, page by page', async () => {
      for (const [tenant, ids] of Object.entries(byTenant)) {
        assert.deepEqual((await listed(env, `tenant=${tenant}`)).sort(), [...ids].sort(), tenant);
        const m = (await env.gw.admin('GET', `/admin/messages/${ids[0]}`)).json();
        assert.equal(m.tenant, tenant);
      }
      const page = (await env.gw.admin('GET', '/admin/messages?tenant=globex')).json();
      assert.ok(page.messages.every((m: { tenant: string }) => m.tenant === 'globex'));
      // Combined with the other filters: acme's messages to acme-inv.
      const toInv = await listed(env, 'tenant=acme&endpoint=acme-inv');
      assert.ok(toInv.length >= 2 && toInv.every((id) => byTenant.acme!.includes(id)));
      await expectError(env.gw.admin('GET', '/admin/messages?tenant=a%2Fb'), 400, 'HG_ADMIN_BAD_INPUT', 'bad tenant filter');
      // The attempts shown are the message's own.
      await waitUntil(async () => (await env.gw.admin('GET', `/admin/messages/${byTenant.globex![0]}`)).json().status === 'delivered', WAIT_MS, 'globex delivered');
      const g = (await env.gw.admin('GET', `/admin/messages/${byTenant.globex![0]}`)).json();
      assert.deepEqual(Object.keys(g.deliveries), ['globex-all']);
      assert.equal(g.deliveries['globex-all'].attempts.length, 1);
      assert.equal(g.deliveries['globex-all'].attempts[0].target, 'globex-all');
    });
  });
}

suite('memory');
suite('redis');

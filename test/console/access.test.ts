import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { portalSigningKey, signPortalToken, verifyPortalToken } from '../../gateway/admin/portal-token.js';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, waitUntil, type TestUpstream } from '../support/http.js';

const READ_TOKEN = 'read-token-for-tests-5b1c';
const WRITE_TOKEN = 'second-write-token-77e2';

const config = (read: string, url: string) => `
admin: { host: 127.0.0.1, port: 0, token: "${ADMIN_TOKEN}", tokens: [ { token: "${read}", role: read, name: ci }, { token: "${WRITE_TOKEN}", role: write } ] }
egress:
  allowCidrs: ["127.0.0.1/32"]
  breaker: { enabled: false }
  retry: { schedule: ["50ms"] }
  endpoints: []
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
# ${url}
`;

describe('admin tokens, roles and portal scope', () => {
  let up: TestUpstream;
  let g: TestGateway;
  let portalA: string;
  let msgA: string;
  let msgB: string;
  const as = (token: string) => (method: string, path: string, body?: unknown) => g.admin(method, path, body, token);

  before(async () => {
    up = await startUpstream();
    g = await startGateway(config(READ_TOKEN, up.url), { services: createDeliveryService });
    for (const id of ['ta', 'tb']) assert.equal((await g.admin('POST', '/admin/tenants', { id })).status, 201);
    for (const [t, id] of [['ta', 'ep-a'], ['tb', 'ep-b']]) {
      const r = await g.admin('POST', `/admin/tenants/${t}/endpoints`, { id, url: `${up.url}/${id}`, events: ['*'] });
      assert.equal(r.status, 201, r.text);
    }
    const pub = async (tenant: string) => {
      const r = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'x.y', data: {}, tenant }) });
      assert.equal(r.status, 202, r.text);
      return r.json().id as string;
    };
    msgA = await pub('ta');
    msgB = await pub('tb');
    const link = await g.admin('POST', '/admin/tenants/ta/portal-link', { expiresInSec: 600 });
    assert.equal(link.status, 201, link.text);
    portalA = link.json().token;
    assert.match(link.json().url, new RegExp(`^http://127\\.0\\.0\\.1:${g.adminPort}/console/#/portal\\?token=hgp_`));
  });
  after(async () => {
    await g.stop();
    await up.close();
  });

  it('whoami names the role of each token; unknown tokens are 401', async () => {
    assert.deepEqual((await g.admin('GET', '/admin/whoami')).json(), { role: 'write' });
    assert.deepEqual((await as(READ_TOKEN)('GET', '/admin/whoami')).json(), { role: 'read', name: 'ci' });
    assert.deepEqual((await as(WRITE_TOKEN)('GET', '/admin/whoami')).json(), { role: 'write' });
    const p = (await as(portalA)('GET', '/admin/whoami')).json();
    assert.equal(p.role, 'portal');
    assert.equal(p.tenant, 'ta');
    assert.ok(Date.parse(p.expiresAt) > Date.now() + 500_000);
    const bad = await as('not-a-token-at-all')('GET', '/admin/whoami');
    assert.equal(bad.status, 401);
    assert.equal(bad.json().error.code, 'HG_ADMIN_UNAUTHORIZED');
  });

  it('a read token sees but cannot change, replay or reveal secrets', async () => {
    const read = as(READ_TOKEN);
    assert.equal((await read('GET', '/admin/endpoints')).status, 200);
    assert.equal((await read('GET', '/admin/config')).status, 200);
    assert.equal((await read('GET', `/admin/messages/${msgA}`)).status, 200);
    for (const [m, p, b] of [
      ['GET', '/admin/endpoints/ep-a/secret', undefined],
      ['POST', `/admin/messages/${msgA}/retry`, {}],
      ['POST', '/admin/endpoints/ep-a/rotate-secret', {}],
      ['PATCH', '/admin/endpoints/ep-a', { description: 'x' }],
      ['POST', '/admin/reload', undefined],
      ['POST', '/admin/tenants/ta/portal-link', {}],
    ] as const) {
      const r = await read(m, p, b);
      assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
      assert.deepEqual(r.json().error, { code: 'HG_ADMIN_FORBIDDEN', message: 'this token is read-only' });
    }
    // The second write token can.
    assert.equal((await as(WRITE_TOKEN)('GET', '/admin/endpoints/ep-a/secret')).status, 200);
  });

  it("a portal token sees its own tenant's things and gets 403 HG_PORTAL_SCOPE for everything else", async () => {
    const portal = as(portalA);
    assert.equal((await portal('GET', '/admin/tenants/ta')).status, 200);
    assert.deepEqual((await portal('GET', '/admin/tenants/ta/endpoints')).json().endpoints.map((e: { id: string }) => e.id), ['ep-a']);
    assert.equal((await portal('GET', '/admin/endpoints/ep-a')).status, 200);
    assert.equal((await portal('GET', '/admin/endpoints/ep-a/secret')).status, 200);
    assert.equal((await portal('GET', `/admin/messages/${msgA}`)).status, 200);
    assert.equal((await portal('GET', '/admin/event-types')).status, 200);
    assert.equal((await portal('GET', '/admin/openapi.json')).status, 200);
    const recover = await portal('POST', '/admin/endpoints/ep-a/recover', { since: '2026-01-01T00:00:00Z', dryRun: true });
    assert.equal(recover.status, 200, recover.text);
    for (const [m, p, b] of [
      ['GET', '/admin/tenants/tb', undefined],
      ['GET', '/admin/tenants/tb/endpoints', undefined],
      ['POST', '/admin/tenants/tb/endpoints', { url: `${up.url}/x` }],
      ['GET', '/admin/endpoints/ep-b', undefined],
      ['GET', '/admin/endpoints/ep-b/secret', undefined],
      ['PATCH', '/admin/endpoints/ep-b', { description: 'mine now' }],
      ['DELETE', '/admin/endpoints/ep-b', undefined],
      ['POST', '/admin/endpoints/ep-b/rotate-secret', {}],
      ['POST', '/admin/endpoints/ep-b/recover', { since: '2026-01-01T00:00:00Z', dryRun: true }],
      ['POST', '/admin/endpoints/ep-b/send-example', { eventType: 'x.y' }],
      ['POST', '/admin/endpoints/ep-b/keys/k1/skip', {}],
      ['GET', '/admin/alerts', undefined],
      ['GET', '/admin/endpoints/no-such-endpoint', undefined],
      ['GET', `/admin/messages/${msgB}`, undefined],
      ['POST', `/admin/messages/${msgB}/retry`, {}],
      ['GET', '/admin/messages/msg_unknown', undefined],
      ['POST', '/admin/endpoints', { url: `${up.url}/x`, tenant: 'tb' }],
      ['GET', '/admin/tenants', undefined],
      ['GET', '/admin/config', undefined],
      ['GET', '/admin/routes', undefined],
      ['POST', '/admin/reload', undefined],
      ['GET', '/admin/requests', undefined],
      ['GET', '/admin/reloads', undefined],
      ['GET', '/admin/stats', undefined],
      ['GET', '/metrics', undefined],
      ['POST', '/admin/tenants/ta/portal-link', {}],
    ] as const) {
      const r = await portal(m, p, b);
      assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
      assert.equal(r.json().error.code, 'HG_PORTAL_SCOPE', `${m} ${p}`);
    }
    assert.equal((await g.admin('GET', '/admin/endpoints/ep-b')).json().description, null, 'nothing of tb changed');
  });

  it('lists are forced to the portal tenant, even when another tenant is asked for', async () => {
    const portal = as(portalA);
    await waitUntil(async () => (await portal('GET', '/admin/messages')).json().messages.length === 1, 5000, 'the message of ta is listed');
    for (const q of ['', '?tenant=tb', '?tenant=tb&endpoint=ep-b']) {
      const r = await portal('GET', `/admin/messages${q}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json().messages.every((m: { tenant: string }) => m.tenant === 'ta'), q);
    }
    assert.deepEqual((await portal('GET', '/admin/messages?tenant=tb')).json().messages.map((m: { id: string }) => m.id), [msgA]);
    assert.deepEqual((await portal('GET', '/admin/endpoints?tenant=tb')).json().endpoints.map((e: { id: string }) => e.id), ['ep-a']);
    // The operator's unfiltered list has both.
    assert.deepEqual((await g.admin('GET', '/admin/endpoints')).json().endpoints.map((e: { id: string }) => e.id), ['ep-a', 'ep-b']);
    // A create without a tenant goes into the portal's own.
    const created = await portal('POST', '/admin/endpoints', { id: 'ep-a2', url: `${up.url}/a2` });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json().tenant, 'ta');
    // Bulk retry is forced too.
    const bulk = await portal('POST', '/admin/messages/retry', { status: 'failed', since: '2026-01-01T00:00:00Z', tenant: 'tb', dryRun: true });
    assert.equal(bulk.status, 403, bulk.text);
  });

  it('expired, altered or foreign-key portal tokens are 401', async () => {
    const key = portalSigningKey(ADMIN_TOKEN, undefined);
    const expired = signPortalToken(key, 'ta', Date.now() - 1000);
    const [payload] = portalA.slice(4).split('.');
    const forged = `hgp_${Buffer.from(JSON.stringify({ t: 'tb', exp: 9_999_999_999, n: 'x' })).toString('base64url')}.${portalA.split('.')[1]}`;
    const otherKey = signPortalToken(portalSigningKey('another-admin-token', undefined), 'ta', Date.now() + 60_000);
    for (const t of [expired, forged, otherKey, `hgp_${payload}`, 'hgp_']) {
      const r = await as(t)('GET', '/admin/whoami');
      assert.equal(r.status, 401, t);
      assert.equal(r.json().error.code, 'HG_ADMIN_UNAUTHORIZED');
    }
    assert.equal(verifyPortalToken(key, signPortalToken(key, 'ta', Date.now() + 5000))?.tenant, 'ta');
  });

  it('a reload replaces the tokens; portal tokens follow the admin token they were derived from', async () => {
    const rotated = 'rotated-read-token-31ff';
    g.write(config(rotated, up.url));
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    assert.equal((await as(READ_TOKEN)('GET', '/admin/whoami')).status, 401);
    assert.equal((await as(rotated)('GET', '/admin/whoami')).json().role, 'read');
    assert.equal((await as(portalA)('GET', '/admin/whoami')).status, 200, 'same admin token: the link still works');
    g.write(config(rotated, up.url).replace('console:', 'console:') + 'console: { portal: { signingKey: "a-signing-key-of-at-least-32-chars!!" } }\n');
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    assert.equal((await as(portalA)('GET', '/admin/whoami')).status, 401, 'a new signing key revokes the old links');
    const config_ = (await g.admin('GET', '/admin/config')).text;
    assert.ok(!config_.includes('a-signing-key-of-at-least') && !config_.includes(rotated), 'the signing key and tokens are redacted');
  });
});

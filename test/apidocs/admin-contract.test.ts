/**
 * The admin half of the OpenAPI document against the running admin listener, both ways: every
 * route the listener answers is documented, every documented route answers, and what the routes
 * answer fits the response schemas they declare.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { RegisteredAdminRoute } from '../../gateway/admin/server.js';
import { adminOpenApiPath } from '../../gateway/apidocs/openapi.js';
import { asyncApiErrors, danglingRefs, openApiErrors } from '../support/api-validators.js';
import { waitUntil, type HttpResult } from '../support/http.js';
import { deliveryStatus, publishOk, setup, WAIT_MS, type Env } from '../delivery/admin-env.js';

type Json = Record<string, any>;

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);

describe('admin API contract (OpenAPI document vs the running admin listener)', () => {
  let env: Env;
  let routes: RegisteredAdminRoute[];
  let doc: Json;
  before(async () => {
    env = await setup('memory');
    routes = env.gw.gw.admin!.registeredRoutes();
    const r = await env.gw.admin('GET', '/admin/openapi.json');
    assert.equal(r.status, 200, r.text);
    doc = r.json();
  });
  after(() => env.stop());

  /** Asserts that an answer fits the schema its route declares for that status. */
  function conforms(method: string, pattern: string, res: HttpResult): Json {
    const route = routes.find((r) => r.method === method && r.pattern === pattern);
    assert.ok(route?.spec, `${method} ${pattern} is declared`);
    const declared = route.spec.responses[res.status];
    assert.ok(declared, `${method} ${pattern}: status ${res.status} is declared (${res.text.slice(0, 200)})`);
    const body = res.json();
    if (declared.schema) {
      const validate = ajv.compile(declared.schema);
      assert.ok(validate(body), `${method} ${pattern} ${res.status}: ${ajv.errorsText(validate.errors)}\n${res.text.slice(0, 500)}`);
    }
    return body;
  }

  it('is served only with the admin token, and passes @readme/openapi-parser', async () => {
    const anon = await env.gw.admin('GET', '/admin/openapi.json', undefined, 'wrong-token-xxxxxxxx');
    assert.equal(anon.status, 401);
    assert.equal(anon.json().error.code, 'HG_ADMIN_UNAUTHORIZED');
    assert.deepEqual(await openApiErrors(doc), []);
    assert.deepEqual(danglingRefs(doc), []);
    const asyncapi = await env.gw.admin('GET', '/admin/asyncapi.json');
    assert.equal(asyncapi.status, 200);
    assert.deepEqual(asyncApiErrors(asyncapi.json()), []);
  });

  it('every route the admin listener answers is in the document, and every one is declared', () => {
    assert.ok(routes.length >= 17, `${routes.length} admin routes`);
    for (const r of routes) {
      const op = doc.paths[adminOpenApiPath(r.pattern)]?.[r.method.toLowerCase()];
      assert.ok(op, `${r.method} ${r.pattern} is documented`);
      assert.deepEqual(op.security, [{ adminToken: [] }], `${r.method} ${r.pattern} needs the token`);
    }
    assert.deepEqual(routes.filter((r) => !r.spec).map((r) => `${r.method} ${r.pattern}`), [], 'routes registered without a declaration');
  });

  it('every documented admin route answers (not HG_ADMIN_NOT_FOUND, not 405)', async () => {
    const documented = Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, op]) => (op as Json).tags?.includes('admin'))
        .map(([method]) => [method.toUpperCase(), path] as const),
    );
    assert.equal(documented.length, routes.length);
    for (const [method, path] of documented) {
      const r = await env.gw.admin(method, path.replace(/\{[^}]+\}/g, 'nope'), method === 'GET' || method === 'DELETE' ? undefined : {});
      assert.notEqual(r.status === 404 ? r.json().error?.code : undefined, 'HG_ADMIN_NOT_FOUND', `${method} ${path}: ${r.text.slice(0, 200)}`);
      assert.notEqual(r.status, 405, `${method} ${path}`);
    }
  });

  it('what the routes answer fits the schemas they declare', async () => {
    const admin = env.gw.admin;
    const url = `${env.rx.up.url}/contract`;
    const created = conforms('POST', '/admin/endpoints', await admin('POST', '/admin/endpoints', { id: 'contract', url, events: ['contract.*'], headers: { 'x-a': '1' }, rateLimitPerSec: 5, description: 'd' }));
    assert.equal(created.id, 'contract');
    conforms('GET', '/admin/endpoints', await admin('GET', '/admin/endpoints'));
    conforms('GET', '/admin/endpoints/:id', await admin('GET', '/admin/endpoints/contract'));
    conforms('PATCH', '/admin/endpoints/:id', await admin('PATCH', '/admin/endpoints/contract', { rateLimitPerSec: null }));
    conforms('POST', '/admin/endpoints/:id/rotate-secret', await admin('POST', '/admin/endpoints/contract/rotate-secret', { graceSec: 60 }));
    conforms('GET', '/admin/endpoints/:id/secret', await admin('GET', '/admin/endpoints/contract/secret'));
    conforms('POST', '/admin/endpoints/:id/recover', await admin('POST', '/admin/endpoints/contract/recover', { since: '2026-01-01T00:00:00Z' }));
    conforms('POST', '/admin/endpoints/:id/recover', await admin('POST', '/admin/endpoints/contract/recover', { since: Date.parse('2026-01-01T00:00:00Z'), until: '2027-01-01', dryRun: true }));
    conforms('POST', '/admin/messages/retry', await admin('POST', '/admin/messages/retry', { status: 'failed', since: '2026-01-01T00:00:00Z', dryRun: true }));
    conforms('POST', '/admin/messages/retry', await admin('POST', '/admin/messages/retry', { status: 'failed', since: '2026-01-01T00:00:00Z', eventType: 'contract.*', tenant: 'default', endpoint: 'contract' }));
    const id = await publishOk(env, 'contract.done', { n: 1 });
    await waitUntil(async () => (await deliveryStatus(env, id, 'contract')) === 'delivered', WAIT_MS, 'delivered');
    conforms('GET', '/admin/messages', await admin('GET', '/admin/messages?limit=5'));
    conforms('GET', '/admin/messages/:id', await admin('GET', `/admin/messages/${id}`));
    conforms('POST', '/admin/messages/:id/retry', await admin('POST', `/admin/messages/${id}/retry`, { endpoint: 'contract' }));
    conforms('GET', '/admin/routes', await admin('GET', '/admin/routes'));
    conforms('GET', '/admin/alerts', await admin('GET', '/admin/alerts'));
    conforms('GET', '/admin/config', await admin('GET', '/admin/config'));
    conforms('POST', '/admin/reload', await admin('POST', '/admin/reload'));
    conforms('DELETE', '/admin/endpoints/:id', await admin('DELETE', '/admin/endpoints/contract'));
  });

  it('input is checked against the declared schemas: 400 HG_ADMIN_BAD_INPUT with the ajv message, never the value', async () => {
    const limit = await env.gw.admin('GET', '/admin/messages?limit=0');
    assert.equal(limit.status, 400);
    assert.deepEqual(limit.json().error, { code: 'HG_ADMIN_BAD_INPUT', message: 'query parameter "limit" must be >= 1' });
    const extra = await env.gw.admin('GET', '/admin/messages?bogus=1');
    assert.match(extra.json().error.message, /^unknown query parameter "bogus" \(allowed: status, endpoint, tenant, eventType, since, until, limit, cursor\)$/);
    const field = await env.gw.admin('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: 10 * 86400 });
    assert.deepEqual(field.json().error, { code: 'HG_ADMIN_BAD_INPUT', message: 'request body field "graceSec" must be <= 604800' });
    const missing = await env.gw.admin('POST', '/admin/endpoints/cfg-ep/recover', {});
    assert.equal(missing.json().error.message, 'request body: missing "since"');
    const secret = 'plain-secret-value-do-not-echo';
    const s = await env.gw.admin('POST', '/admin/endpoints', { url: `${env.rx.up.url}/x`, secret });
    assert.equal(s.status, 400);
    assert.match(s.json().error.message, /^request body field "secret" must match pattern/);
    assert.ok(!s.text.includes(secret), 'the refused secret is not echoed');
  });
});

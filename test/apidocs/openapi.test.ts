import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { runApiDocsCommand } from '../../gateway/apidocs/cli.js';
import { documentedEventTypes } from '../../gateway/apidocs/event-types.js';
import { buildOpenApi } from '../../gateway/apidocs/openapi.js';
import { AdminServer } from '../../gateway/admin/server.js';
import type { Snapshot } from '../../gateway/compile.js';
import { errorCatalogue } from '../../gateway/errors.js';
import { packageRoot } from '../../gateway/paths.js';
import { danglingRefs, openApiErrors } from '../support/api-validators.js';
import { FULL_CONFIG_YAML, FULL_EVENT_TYPES } from '../support/full-config.js';
import { compileConfig, compileText } from '../support/snapshot.js';

type Json = Record<string, any>;

/** Runs `hookgate <args>` in-process; resolves to its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) => new Writable({ write: (c, _e, cb) => (add(String(c)), cb()) });
  const code = await runApiDocsCommand(args, sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

describe('OpenAPI document of the example config (hookgate openapi)', () => {
  let doc: Json;
  before(async () => {
    const r = await cli(['openapi', '--config', join(packageRoot, 'config/gateway.yaml')]);
    assert.equal(r.code, 0, r.err);
    doc = JSON.parse(r.out);
  });

  it('passes @readme/openapi-parser and every $ref resolves', async () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(await openApiErrors(doc), []);
    assert.deepEqual(danglingRefs(doc), []);
  });

  it('--yaml prints the same document as YAML', async () => {
    const r = await cli(['openapi', '--config', join(packageRoot, 'config/gateway.yaml'), '--yaml']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(parseYaml(r.out), doc);
  });

  it('has every route of the example config, the admin API with its bearer scheme, and the error catalogue', () => {
    for (const p of ['/webhook/v1/hello', '/_echo/{path}', '/webhook/v1/demo', '/webhook/v1/orders', '/webhook/v1/github', '/webhook/v1/stripe', '/webhook/v1/orders-async', '/events', '/webhook/v1/tenants/{path}']) assert.ok(doc.paths[p], `path ${p}`);
    assert.deepEqual(doc.components.securitySchemes.adminToken, { type: 'http', scheme: 'bearer', description: 'The admin token (`admin.token`).' });
    const create = doc.paths['/admin/endpoints'].post;
    assert.deepEqual(create.security, [{ adminToken: [] }]);
    assert.ok(create.requestBody.content['application/json'].schema.properties.url, 'request schema');
    assert.ok(create.responses['201'].content['application/json'].schema, 'response schema');
    assert.deepEqual(Object.keys(create.responses).sort(), ['201', '400', '401', '403', '404', '409', '500', '503']);
    assert.match(create.responses['403'].description, /HG_ADMIN_FORBIDDEN.*HG_PORTAL_SCOPE/, 'read and portal tokens may be refused');
    assert.match(create.responses['503'].description, /HG_STORE_UNAVAILABLE/, 'any admin call may find Redis down');
    assert.equal(create.requestBody.required, true, 'url is required, so is the body');
    assert.equal(doc.paths['/admin/endpoints/{id}'].patch.requestBody.required, false);
    assert.deepEqual(doc.paths['/admin/endpoints'].servers, [{ url: 'http://127.0.0.1:8081', description: 'Admin listener' }]);
    assert.deepEqual(doc.components.schemas.ErrorCode.enum, errorCatalogue().map((r) => r.code));
  });

  it('an invalid config exits 1 with the located error; an unknown option exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookgate-apidocs-'));
    writeFileSync(join(dir, 'gateway.yaml'), 'routes:\n  - name: x\n    path: /x\n    upstream: nope\n');
    const bad = await cli(['openapi', '--config', join(dir, 'gateway.yaml')]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /gateway\.yaml:4 at routes\[0\]\.upstream: unknown upstream "nope"/);
    assert.equal(bad.out, '');
    assert.equal((await cli(['openapi', '--bogus'])).code, 2);
  });
});

describe('OpenAPI document of a config with every feature', () => {
  let snap: Snapshot & { dispose(): Promise<void> };
  let doc: Json;
  before(async () => {
    snap = await compileConfig(parseYaml(FULL_CONFIG_YAML));
    const admin = new AdminServer('x'.repeat(16), (await import('pino')).pino({ level: 'silent' }));
    admin.route('GET', '/admin/things/:id', () => ({ status: 200 }), { summary: 'A thing', query: { type: 'object', required: ['q'], properties: { q: { type: 'integer', description: 'A number' } } }, responses: { 200: { description: 'ok', schema: { type: 'object' } } }, errors: ['HG_MESSAGE_NOT_FOUND'] });
    admin.route('POST', '/admin/undeclared', () => ({ status: 200 }));
    doc = buildOpenApi({ snapshot: snap, adminRoutes: admin.registeredRoutes(), eventTypes: FULL_EVENT_TYPES, version: '9.9.9' });
  });
  after(() => snap.dispose());

  it('passes @readme/openapi-parser and every $ref resolves', async () => {
    assert.deepEqual(await openApiErrors(doc), []);
    assert.deepEqual(danglingRefs(doc), []);
    assert.equal(doc.info.version, '9.9.9');
    // The validator is not a no-op: a response without its required description fails it.
    const broken = structuredClone(doc);
    delete broken.paths['/events'].post.responses['202'].description;
    assert.notDeepEqual(await openApiErrors(broken), []);
  });

  it('holds no secret of the config: signing secrets, JWT secrets, API keys, the admin token', () => {
    const text = JSON.stringify(doc);
    for (const secret of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_test_stripe_secret', 'github-secret', 'shopify-secret', 'slack-secret', 'twilio-token', 'partner-secret', 'jwt-secret-0123456789', 'k-123', 'publisher-key', 'full-config-admin-token']) {
      assert.ok(!text.includes(secret), `the document does not contain ${secret}`);
    }
  });

  it('prefix routes take a {path} parameter; methods are the route\'s, all of them when it names none', () => {
    const files = doc.paths['/files/{path}'];
    assert.deepEqual(Object.keys(files).sort(), ['get', 'put']);
    assert.deepEqual(files.get.parameters[0], { name: 'path', in: 'path', required: true, description: 'The rest of the path (a prefix route: it may contain `/`).', schema: { type: 'string' } });
    assert.deepEqual(Object.keys(doc.paths['/hello']).sort(), ['delete', 'get', 'head', 'options', 'patch', 'post', 'put']);
    assert.deepEqual(doc.paths['/hello'].get.responses['200'].content['application/json'].example, { ok: true });
    assert.ok(doc.paths['/files/{path}'].get.responses['405'], 'a route with methods can answer 405');
  });

  it('header versions are one operation with the header required and each value listed; a deprecated route says so with its sunset', () => {
    const op = doc.paths['/orders'].post;
    const h = op.parameters.find((p: Json) => p.name === 'x-webhook-version');
    assert.equal(h.in, 'header');
    assert.equal(h.required, true);
    assert.deepEqual(h.schema.anyOf.map((s: Json) => [s.const, s.deprecated ?? false]), [['1', true], ['2', false]]);
    assert.match(h.schema.anyOf[0].description, /sunset 2027-06-30/);
    assert.deepEqual(op['x-hookgate-route'], ['orders-v1', 'orders-v2']);
    assert.equal(op.deprecated, undefined, 'v2 is not deprecated');
    assert.deepEqual(op['x-deprecated-routes'], [{ route: 'orders-v1', sunset: '2027-06-30' }]);
    const legacy = doc.paths['/legacy'].post;
    assert.equal(legacy.deprecated, true);
    assert.equal(legacy['x-sunset'], '2027-01-31');
    assert.match(legacy.description, /sunset 2027-01-31/);
    assert.ok(legacy.responses.default.headers.Sunset, 'Sunset response header');
    assert.match(doc.paths['/by-host'].post.description, /Host: partner\.example/);
  });

  it('security: jwt as bearer JWT (and query, cookie), key-auth as apiKey in header or query, presets as apiKey-in-header signature schemes', () => {
    const s = doc.components.securitySchemes;
    assert.deepEqual({ ...s.jwt, description: undefined }, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: undefined });
    assert.match(s.jwt.description, /HS256; issuer https:\/\/issuer\.example; audience hookgate/);
    assert.deepEqual(doc.paths['/api/jwt'].get.security, [{ jwt: [] }, { 'jwt.query.access_token': [] }, { 'jwt.cookie.session': [] }]);
    assert.deepEqual([s['jwt.query.access_token'].in, s['jwt.cookie.session'].in], ['query', 'cookie']);
    assert.deepEqual(doc.paths['/api/jwt-header'].get.security, [{ 'jwt.header.x-token': [] }]);
    assert.equal(s['jwt.header.x-token'].name, 'x-token');
    assert.deepEqual(doc.paths['/api/key'].post.security, [{ 'apiKey.header.apikey': [] }, { 'apiKey.query.apikey': [] }]);
    assert.deepEqual([s['apiKey.header.apikey'].in, s['apiKey.header.apikey'].name, s['apiKey.query.apikey'].in], ['header', 'apikey', 'query']);
    // Two plugins: both apply (one requirement with both schemes).
    assert.deepEqual(doc.paths['/in/both'].post.security, [{ 'apiKey.header.x-api-key': [], 'signature.github': [] }]);
    const presets: Record<string, string> = { 'standard-webhooks': 'webhook-signature', svix: 'svix-signature', stripe: 'Stripe-Signature', github: 'X-Hub-Signature-256', shopify: 'X-Shopify-Hmac-Sha256', slack: 'X-Slack-Signature', twilio: 'X-Twilio-Signature', 'hmac.x-partner-signature': 'x-partner-signature' };
    for (const [preset, header] of Object.entries(presets)) {
      const scheme = s[`signature.${preset}`];
      assert.equal(scheme.type, 'apiKey', preset);
      assert.equal(scheme.in, 'header', preset);
      assert.equal(scheme.name, header, preset);
      assert.ok(scheme.description.length > 40, `${preset} describes its scheme`);
    }
    assert.match(s['signature.hmac.x-partner-signature'].description, /HMAC-SHA512 \(base64\) of `\{timestamp\}\.\{body\}`, sent as `x-partner-signature: sha512=<signature>`/);
    const sw = doc.paths['/in/standard-webhooks'].post;
    assert.deepEqual(sw.parameters.filter((p: Json) => p.in === 'header').map((p: Json) => [p.name, p.required]), [['webhook-id', true], ['webhook-timestamp', true]]);
    assert.deepEqual(Object.keys(sw.responses).sort(), ['202', '400', '401', '405', '409', '413', '500', '503']);
    assert.match(sw.responses['401'].description, /HG_SIGNATURE_MISSING.*HG_SIGNATURE_INVALID.*HG_TIMESTAMP_OUT_OF_RANGE/);
    assert.deepEqual(doc.paths['/in/partner'].post.parameters.map((p: Json) => [p.name, p.required]), [['x-partner-timestamp', true], ['x-partner-delivery', false]]);
    const github = doc.paths['/in/github'].post;
    assert.ok(github.responses['429'] && github.responses['503'], 'rate-limit with onStoreError deny: 429 and 503');
    assert.ok(github.responses.default.headers['RateLimit-Remaining']);
    assert.ok(doc.paths['/api/jwt'].get.responses['403'], 'ip-filter: 403');
    assert.equal(doc.paths['/hello'].get.security, undefined, 'an open route has no security');
  });

  it('publish takes an event whose data fits its catalogue type; webhooks has one entry per type and version', () => {
    const pub = doc.paths['/events'].post;
    const variants = pub.requestBody.content['application/json'].schema.anyOf;
    assert.deepEqual(variants.slice(0, 3).map((v: Json) => v.properties.type.const), ['invoice.paid', 'invoice.paid', 'customer.created']);
    assert.deepEqual(variants[1].properties.data, { $ref: '#/components/schemas/invoice.paid.v2' });
    assert.ok(pub.parameters.some((p: Json) => p.name === 'Idempotency-Key'));
    assert.deepEqual(Object.keys(doc.webhooks), ['invoice.paid.v1', 'invoice.paid.v2', 'customer.created.v1']);
    const v2 = doc.webhooks['invoice.paid.v2'].post;
    assert.deepEqual(v2.parameters.map((p: Json) => [p.name, p.in, p.required]), [['webhook-id', 'header', true], ['webhook-timestamp', 'header', true], ['webhook-signature', 'header', true]]);
    const body = v2.requestBody.content['application/json'];
    assert.deepEqual(body.schema.required, ['type', 'timestamp', 'data']);
    assert.deepEqual(body.schema.properties.type, { const: 'invoice.paid', description: 'The event type.' });
    assert.deepEqual(body.examples.example1.value.data, { id: 'in_1', amount: { value: 4200, currency: 'EUR' } });
    // The type's own references now point inside the document.
    assert.deepEqual(doc.components.schemas['invoice.paid.v2'].properties.amount, { $ref: '#/components/schemas/invoice.paid.v2/$defs/money' });
    assert.equal(doc.components.schemas['invoice.paid.v1'].$schema, undefined);
    assert.equal(doc.webhooks['invoice.paid.v1'].post.deprecated, true);
    assert.equal(doc.webhooks['invoice.paid.v1'].post['x-sunset'], '2027-06-30');
    assert.match(doc.webhooks['customer.created.v1'].post.requestBody.content['application/json'].schema.properties.data.description, /Any JSON value/);
  });

  it('admin routes come from their declarations: path and query parameters, answers, error codes; undeclared ones still appear', () => {
    const op = doc.paths['/admin/things/{id}'].get;
    assert.deepEqual(op.parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, { name: 'q', in: 'query', required: true, description: 'A number', schema: { type: 'integer' } }]);
    assert.deepEqual(Object.keys(op.responses).sort(), ['200', '400', '401', '403', '404', '500', '503']);
    assert.match(op.responses['404'].description, /HG_MESSAGE_NOT_FOUND/);
    assert.equal(doc.paths['/admin/undeclared'].post.summary, 'POST /admin/undeclared');
  });
});

describe('validate-body in the OpenAPI document', () => {
  it('a route with validate-body shows its schema as the request body, references rebased', async () => {
    const snap = await compileText('upstreams: { app: { targets: [ { url: "http://127.0.0.1:9" } ] } }\nroutes:\n  - { name: orders, path: /orders, methods: [POST], upstream: app }\n');
    // validate-body is another module's plugin: its entry is put on the compiled route as compile would keep it.
    const schema = { type: 'object', required: ['order'], properties: { order: { $ref: '#/$defs/order' } }, $defs: { order: { type: 'integer' } } };
    const route = { ...snap.routes[0]!, config: { ...snap.routes[0]!.config, plugins: [{ 'validate-body': { schema, contentTypes: ['application/json', 'application/merge-patch+json'] } }] } };
    const doc = buildOpenApi({ snapshot: { ...snap, routes: [route] } as Snapshot, adminRoutes: [], eventTypes: [], version: '0' }) as Json;
    assert.deepEqual(await openApiErrors(doc), []);
    assert.deepEqual(danglingRefs(doc), []);
    const body = doc.paths['/orders'].post.requestBody;
    assert.deepEqual(Object.keys(body.content), ['application/json', 'application/merge-patch+json']);
    assert.deepEqual(body.content['application/json'].schema, { $ref: '#/components/schemas/body.orders' });
    assert.deepEqual(doc.components.schemas['body.orders'].properties.order, { $ref: '#/components/schemas/body.orders/$defs/order' });
  });
});

describe('documentedEventTypes (the catalogue adapter)', () => {
  it('reads the compiled catalogue: version 1 by default, sorted by name and version, schemas as compiled', async () => {
    const snap = await compileText(`
routes: []
eventTypes:
  - { name: invoice.paid, version: 2, schema: { type: object, required: [id], properties: { id: { type: string } } } }
  - { name: customer.created }
  - { name: invoice.paid, schema: { type: object } }
`);
    const types = documentedEventTypes(snap);
    assert.deepEqual(types.map((t) => [t.name, t.version]), [['customer.created', 1], ['invoice.paid', 1], ['invoice.paid', 2]]);
    assert.deepEqual(types[2]!.schema, { type: 'object', required: ['id'], properties: { id: { type: 'string' } } });
    assert.equal(types[0]!.schema, undefined);
    assert.deepEqual(documentedEventTypes(await compileText('routes: []')), [], 'no eventTypes: an empty catalogue');
  });
});

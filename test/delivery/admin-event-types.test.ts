/**
 * The event catalogue's admin API: config types are listed and read-only, API types are created,
 * read, changed and deleted (and enforced on publish), shared through Redis between instances;
 * send-example delivers a type's first example to one endpoint through the signed path.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';
import { expectError, startReceiver, WAIT_MS, type Receiver } from './admin-env.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const prefixes: string[] = [];
const open: { stop(): Promise<unknown> }[] = [];
after(async () => {
  for (const o of open.reverse()) await o.stop().catch(() => {});
  for (const p of prefixes) await deleteKeys(p);
});

async function setup(rx: Receiver, store = '{ driver: memory }'): Promise<TestGateway> {
  const gw = await startGateway(
    `
store: ${store}
eventTypes:
  - name: invoice.paid
    description: An invoice was paid
    schema: { type: object, required: [id], properties: { id: { type: string } } }
    examples: [ { id: in_example } ]
  - name: invoice.paid
    version: 2
    deprecated: { sunset: "2027-06-30" }
    examples: [ { id: in_example_v2, currency: EUR } ]
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: ["50ms"] }
  lockDurationMs: 2000
  endpoints:
    - { id: acme, url: "${rx.up.url}/acme", events: ["nothing.*"], secret: "${SECRET}" }
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
`,
    { services: createDeliveryService },
  );
  open.push(gw);
  return gw;
}

const ORDER = { name: 'order.created', description: 'An order', schema: { type: 'object', required: ['total'], properties: { total: { type: 'integer' } } }, examples: [{ total: 3 }] };

describe('admin event types', () => {
  let rx: Receiver;
  let gw: TestGateway;

  test('config types are listed with their source and read by name, latest or ?version', async () => {
    rx = await startReceiver();
    open.push({ stop: () => rx.close() });
    gw = await setup(rx);
    const list = await gw.admin('GET', '/admin/event-types');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json().eventTypes.map((t: { name: string; version: number; source: string }) => [t.name, t.version, t.source]), [['invoice.paid', 1, 'config'], ['invoice.paid', 2, 'config']]);
    const latest = (await gw.admin('GET', '/admin/event-types/invoice.paid')).json();
    assert.equal(latest.version, 2);
    assert.deepEqual(latest.deprecated, { sunset: '2027-06-30' });
    const v1 = (await gw.admin('GET', '/admin/event-types/invoice.paid?version=1')).json();
    assert.equal(v1.description, 'An invoice was paid');
    assert.deepEqual(v1.schema.required, ['id']);
    await expectError(gw.admin('GET', '/admin/event-types/invoice.paid?version=9'), 404, 'HG_EVENT_TYPE_NOT_FOUND', 'unknown version');
    await expectError(gw.admin('GET', '/admin/event-types/no.such'), 404, 'HG_EVENT_TYPE_NOT_FOUND', 'unknown type');
    await expectError(gw.admin('GET', '/admin/event-types/invoice.paid?version=x'), 400, 'HG_ADMIN_BAD_INPUT', 'bad version');
  });

  test('config types are read-only: 409 HG_EVENT_TYPE_READONLY; creating one of their versions is 409 EXISTS', async () => {
    await expectError(gw.admin('PATCH', '/admin/event-types/invoice.paid?version=1', { description: 'x' }), 409, 'HG_EVENT_TYPE_READONLY', 'patch config type');
    await expectError(gw.admin('DELETE', '/admin/event-types/invoice.paid?version=2'), 409, 'HG_EVENT_TYPE_READONLY', 'delete config type');
    await expectError(gw.admin('DELETE', '/admin/event-types/invoice.paid'), 400, 'HG_ADMIN_BAD_INPUT', 'delete without naming one of two versions');
    await expectError(gw.admin('POST', '/admin/event-types', { name: 'invoice.paid', version: 2 }), 409, 'HG_EVENT_TYPE_EXISTS', 'create over config');
    // A new version of a config type may be added through the API.
    const v3 = await gw.admin('POST', '/admin/event-types', { name: 'invoice.paid', version: 3 });
    assert.equal(v3.status, 201, v3.text);
    assert.equal(v3.json().source, 'api');
    assert.equal((await gw.admin('GET', '/admin/event-types/invoice.paid')).json().version, 3);
    assert.equal((await gw.admin('DELETE', '/admin/event-types/invoice.paid?version=3')).status, 200);
  });

  test('create, read, change and delete an API type; its schema is enforced on publish at once', async () => {
    const created = await gw.admin('POST', '/admin/event-types', ORDER);
    assert.equal(created.status, 201, created.text);
    assert.deepEqual([created.json().version, created.json().source, created.json().examples], [1, 'api', [{ total: 3 }]]);
    await expectError(gw.admin('POST', '/admin/event-types', ORDER), 409, 'HG_EVENT_TYPE_EXISTS', 'twice');
    const bad = await gw.request({ method: 'POST', path: '/events', body: JSON.stringify({ type: 'order.created', data: { total: 'x' } }) });
    assert.equal(bad.status, 422, bad.text);
    assert.deepEqual(bad.json().error.details, [{ pointer: '/data/total', message: 'must be integer' }]);

    const patched = await gw.admin('PATCH', '/admin/event-types/order.created', { schema: { type: 'object', properties: { total: { type: 'string' } } }, examples: [{ total: 'three' }], description: null });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json().description, null);
    const kept = await gw.admin('PATCH', '/admin/event-types/order.created', { deprecated: { sunset: '2028-01-01' } });
    assert.deepEqual(kept.json().examples, [{ total: 'three' }], 'a PATCH without examples keeps them');
    assert.equal((await gw.request({ method: 'POST', path: '/events', body: JSON.stringify({ type: 'order.created', data: { total: 'x' } }) })).status, 202);

    // The API documents show the live catalogue: the API type is a webhook and a channel while it exists.
    const openapi = (await gw.admin('GET', '/admin/openapi.json')).json();
    assert.ok(openapi.webhooks['order.created.v1'], Object.keys(openapi.webhooks).join(', '));
    assert.ok((await gw.admin('GET', '/admin/asyncapi.json')).json().channels['order.created.v1']);

    assert.equal((await gw.admin('DELETE', '/admin/event-types/order.created')).status, 200);
    await expectError(gw.admin('GET', '/admin/event-types/order.created'), 404, 'HG_EVENT_TYPE_NOT_FOUND', 'after delete');
    assert.equal((await gw.admin('GET', '/admin/openapi.json')).json().webhooks?.['order.created.v1'], undefined);
  });

  test('bad input: an invalid schema, an example that breaks it, a bad name, unknown fields', async () => {
    const schema = await expectError(gw.admin('POST', '/admin/event-types', { name: 'a.b', schema: { type: 'integr' } }), 400, 'HG_ADMIN_BAD_INPUT', 'bad schema');
    assert.match(schema.json().error.message, /"schema": the schema of a\.b v1 is not a valid JSON Schema/);
    const example = await expectError(gw.admin('POST', '/admin/event-types', { ...ORDER, name: 'a.c', examples: [{ total: 'x' }] }), 400, 'HG_ADMIN_BAD_INPUT', 'bad example');
    assert.match(example.json().error.message, /"examples\[0\]": .*\/total: must be integer/);
    await expectError(gw.admin('POST', '/admin/event-types', { name: 'Not A Name' }), 400, 'HG_ADMIN_BAD_INPUT', 'bad name');
    await expectError(gw.admin('POST', '/admin/event-types', { name: 'a.d', schemaFile: '/etc/passwd' }), 400, 'HG_ADMIN_BAD_INPUT', 'schemaFile through the API');
    await expectError(gw.admin('PATCH', '/admin/event-types/invoice.paid?version=1', { name: 'x.y' }), 400, 'HG_ADMIN_BAD_INPUT', 'unknown patch field');
    await expectError(gw.admin('POST', '/admin/event-types', { name: 'a.e', deprecated: { sunset: '2027-13-45' } }), 400, 'HG_ADMIN_BAD_INPUT', 'bad sunset');
  });

  test('send-example delivers the first example to one endpoint, signed, whatever it subscribes to; 202 with the message id', async () => {
    const r = await gw.admin('POST', '/admin/endpoints/acme/send-example', { eventType: 'invoice.paid', version: 1 });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    assert.match(id, /^msg_[0-9a-f]{32}$/);
    await waitUntil(() => rx.to('/acme').length === 1, WAIT_MS, 'the example delivery');
    const got = rx.to('/acme')[0]!;
    assert.equal(got.headers['webhook-id'], id);
    const h = got.headers;
    const payload = new Webhook(SECRET).verify(got.body.toString(), { 'webhook-id': String(h['webhook-id']), 'webhook-timestamp': String(h['webhook-timestamp']), 'webhook-signature': String(h['webhook-signature']) }) as { type: string; data: unknown };
    assert.deepEqual([payload.type, payload.data], ['invoice.paid', { id: 'in_example' }]);
    const msg = (await gw.admin('GET', `/admin/messages/${id}`)).json();
    assert.deepEqual(Object.keys(msg.deliveries), ['acme']);
  });

  test("send-example without a version uses the endpoint's pin, else the latest; errors are located", async () => {
    const pin = await gw.admin('PATCH', '/admin/endpoints/acme', { disabled: false });
    assert.equal(pin.status, 200);
    const api = await gw.admin('POST', '/admin/endpoints', { id: 'pinned', url: `${rx.up.url}/pinned`, events: ['invoice.*'], eventVersions: { 'invoice.paid': 1 } });
    assert.equal(api.status, 201, api.text);
    assert.deepEqual(api.json().eventVersions, { 'invoice.paid': 1 });
    assert.equal((await gw.admin('POST', '/admin/endpoints/pinned/send-example', { eventType: 'invoice.paid' })).json().version, 1);
    assert.equal((await gw.admin('POST', '/admin/endpoints/acme/send-example', { eventType: 'invoice.paid' })).json().version, 2);
    await waitUntil(() => rx.to('/pinned').length === 1 && rx.to('/acme').length === 2, WAIT_MS, 'both deliveries');
    assert.equal(JSON.parse(rx.to('/pinned')[0]!.body.toString()).data.id, 'in_example');
    await expectError(gw.admin('POST', '/admin/endpoints/nope/send-example', { eventType: 'invoice.paid' }), 404, 'HG_ENDPOINT_NOT_FOUND', 'unknown endpoint');
    await expectError(gw.admin('POST', '/admin/endpoints/acme/send-example', { eventType: 'no.such' }), 404, 'HG_EVENT_TYPE_NOT_FOUND', 'unknown type');
    await gw.admin('POST', '/admin/event-types', { name: 'empty.type' });
    await expectError(gw.admin('POST', '/admin/endpoints/acme/send-example', { eventType: 'empty.type' }), 400, 'HG_ADMIN_BAD_INPUT', 'no examples');
    await expectError(gw.admin('POST', '/admin/endpoints/acme/send-example', {}), 400, 'HG_ADMIN_BAD_INPUT', 'no eventType');
    await expectError(gw.admin('PATCH', '/admin/endpoints/pinned', { eventVersions: { 'invoice.paid': 0 } }), 400, 'HG_ADMIN_BAD_INPUT', 'bad pin');
  });
});

describe('admin event types on the Redis store', () => {
  test('a type created on one instance is seen and enforced by another sharing the store', async () => {
    const rx = await startReceiver();
    open.push({ stop: () => rx.close() });
    const p = testPrefix('admin-event-types');
    prefixes.push(p);
    const store = `{ driver: redis, url: "${REDIS_URL}", prefix: "${p}" }`;
    const a = await setup(rx, store);
    const b = await setup(rx, store);
    assert.equal((await a.admin('POST', '/admin/event-types', ORDER)).status, 201);
    await expectError(b.admin('POST', '/admin/event-types', ORDER), 409, 'HG_EVENT_TYPE_EXISTS', 'the same version on the other instance');
    const seen = await b.admin('GET', '/admin/event-types/order.created');
    assert.equal(seen.status, 200, seen.text);
    assert.equal(seen.json().source, 'api');
    // B's publish cache may hold a view from before the create for up to a second.
    await waitUntil(async () => (await b.request({ method: 'POST', path: '/events', body: JSON.stringify({ type: 'order.created', data: { total: 'x' } }) })).status === 422, WAIT_MS, 'instance B to enforce the new type');
    assert.equal((await a.admin('DELETE', '/admin/event-types/order.created')).status, 200);
    await expectError(b.admin('GET', '/admin/event-types/order.created'), 404, 'HG_EVENT_TYPE_NOT_FOUND', 'deleted on A');
  });
});

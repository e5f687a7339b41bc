import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, waitUntil, type TestUpstream } from '../support/http.js';

const HIDDEN = 'Bearer hidden-credential-8e1d';
const API_KEY = 'api-key-value-2f9c';
const ROUTES = (size: number, url: string) => `
console: { requestLog: { size: ${size} } }
egress:
  allowCidrs: ["127.0.0.1/32"]
  breaker: { enabled: false }
  retry: { schedule: ["50ms"] }
  endpoints:
    - { id: rx, url: "${url}/hook", events: ["*"], headers: { x-tenant-tag: blue, authorization: "${HIDDEN}", x-api-key: "${API_KEY}" } }
routes:
  - name: hello
    path: /hello
    respond: { status: 200, body: { ok: true } }
  - name: cap
    path: /cap
    methods: [POST]
    plugins: [ { log: { destination: ./access.log, captureBody: true, redact: [x-custom-secret] } } ]
    respond: { status: 201 }
  - name: events
    path: /events
    methods: [POST]
    publish: {}
`;

describe('console read routes: requests, reloads, attempts', () => {
  let up: TestUpstream;
  let g: TestGateway;

  before(async () => {
    up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'x-receiver': 'yes', 'set-cookie': 'sid=receiver-session' });
      res.end('{"ok":true}');
    });
    g = await startGateway(ROUTES(5, up.url), { services: createDeliveryService });
  });
  after(async () => {
    await g.stop();
    await up.close();
  });

  it('GET /admin/requests: newest first, redacted headers, bodies only where captured, filters', async () => {
    await g.request({ method: 'GET', path: '/hello?token=abc', headers: { authorization: HIDDEN, 'x-api-key': API_KEY, 'x-request-id': 'req-hello-1', 'x-plain': 'visible' } });
    const big = 'b'.repeat(20 * 1024);
    await g.request({ method: 'POST', path: '/cap', headers: { 'x-request-id': 'req-cap-1', 'x-custom-secret': 'custom-9', 'content-type': 'text/plain' }, body: big });
    await g.request({ method: 'POST', path: '/cap', headers: { 'x-request-id': 'req-cap-2' }, body: 'small body' });
    await g.request({ method: 'GET', path: '/nope', headers: { 'x-request-id': 'req-nope-1' } });
    const r = await g.admin('GET', '/admin/requests');
    assert.equal(r.status, 200, r.text);
    const { requests, total } = r.json();
    assert.equal(total, 4);
    assert.deepEqual(requests.map((x: { id: string }) => x.id), ['req-nope-1', 'req-cap-2', 'req-cap-1', 'req-hello-1']);
    const [nope, cap2, cap1, hello] = requests;
    assert.equal(nope.route, null);
    assert.equal(nope.status, 404);
    assert.equal(nope.errorCode, 'HG_ROUTE_NOT_FOUND');
    assert.equal(hello.route, 'hello');
    assert.equal(hello.method, 'GET');
    assert.equal(hello.path, '/hello');
    assert.equal(hello.clientIp, '127.0.0.1');
    assert.ok(hello.durationMs >= 0 && Number.isFinite(Date.parse(hello.at)));
    assert.equal(hello.headers.authorization, '[redacted]');
    assert.equal(hello.headers['x-api-key'], '[redacted]');
    assert.equal(hello.headers['x-plain'], 'visible');
    assert.equal(hello.body, undefined, 'no body on a route that does not opt in');
    assert.equal(cap1.headers['x-custom-secret'], '[redacted]', "the route's log plugin redact list applies");
    assert.equal(cap1.body.length, 16 * 1024);
    assert.equal(cap1.bodyTruncated, true);
    assert.equal(cap2.body, 'small body');
    assert.equal(cap2.bodyTruncated, false);
    assert.ok(!r.text.includes('hidden-credential') && !r.text.includes(API_KEY) && !r.text.includes('custom-9'));

    const q = async (s: string) => (await g.admin('GET', `/admin/requests${s}`)).json();
    assert.deepEqual((await q('?route=cap')).requests.map((x: { id: string }) => x.id), ['req-cap-2', 'req-cap-1']);
    assert.equal((await q('?route=(unmatched)')).total, 1);
    assert.equal((await q('?status=404')).total, 1);
    assert.equal((await q('?status=2xx')).total, 3);
    assert.equal((await q('?limit=1')).requests.length, 1);
    assert.equal((await q('?limit=1')).total, 4);
    assert.equal((await q(`?since=${Date.now() + 60_000}`)).total, 0);
    assert.equal((await q('?until=2020-01-01T00:00:00Z')).total, 0);
    const bad = await g.admin('GET', '/admin/requests?status=abc');
    assert.equal(bad.json().error.code, 'HG_ADMIN_BAD_INPUT');
    assert.equal((await g.admin('GET', '/admin/requests?since=yesterday')).json().error.code, 'HG_ADMIN_BAD_INPUT');

    const one = await g.admin('GET', '/admin/requests/req-cap-2');
    assert.equal(one.status, 200);
    assert.equal(one.json().body, 'small body');
    const missing = await g.admin('GET', '/admin/requests/req-never');
    assert.equal(missing.status, 404);
    assert.equal(missing.json().error.code, 'HG_REQUEST_NOT_FOUND');
  });

  it('the request log is a ring of console.requestLog.size, resized on reload', async () => {
    for (let i = 0; i < 7; i++) await g.request({ method: 'GET', path: '/hello', headers: { 'x-request-id': `ring-${i}` } });
    const ids = (await g.admin('GET', '/admin/requests?limit=1000')).json().requests.map((x: { id: string }) => x.id);
    assert.deepEqual(ids, ['ring-6', 'ring-5', 'ring-4', 'ring-3', 'ring-2']);
    g.write(ROUTES(2, up.url));
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    assert.deepEqual((await g.admin('GET', '/admin/requests')).json().requests.map((x: { id: string }) => x.id), ['ring-6', 'ring-5']);
  });

  it('GET /admin/reloads: startup, admin reloads and refused ones with their code, newest first', async () => {
    g.write('routes: [ { name: broken, path: /x, upstream: nowhere } ]\n');
    const refused = await g.admin('POST', '/admin/reload');
    assert.equal(refused.status, 400);
    g.write(ROUTES(5, up.url));
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    const r = (await g.admin('GET', '/admin/reloads')).json();
    assert.equal(r.generation, g.gw.snapshot!.id);
    const [last, failed, ...older] = r.reloads;
    assert.deepEqual({ ok: last.ok, trigger: last.trigger, generation: last.generation }, { ok: true, trigger: 'admin', generation: r.generation });
    assert.equal(failed.ok, false);
    assert.equal(failed.error.code, 'HG_CONFIG_INVALID');
    assert.match(failed.error.message, /nowhere/);
    const first = older.at(-1);
    assert.deepEqual({ trigger: first.trigger, ok: first.ok, generation: first.generation }, { trigger: 'startup', ok: true, generation: 1 });
  });

  it('attempts show the request sent and the response headers, secrets redacted', async () => {
    const pub = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'a.b', data: { n: 1 } }) });
    assert.equal(pub.status, 202, pub.text);
    const id = pub.json().id as string;
    let m: Record<string, any> = {};
    await waitUntil(async () => (m = (await g.admin('GET', `/admin/messages/${id}`)).json()).deliveries?.rx?.status === 'delivered', 10000, 'delivered');
    const [a] = m.deliveries.rx.attempts;
    assert.equal(a.request.url, `${up.url}/hook`);
    const h = a.request.headers;
    assert.equal(h['webhook-id'], id);
    assert.match(h['webhook-timestamp'], /^\d+$/);
    assert.match(h['webhook-signature'], /^v1,/);
    assert.equal(h['content-type'], 'application/json');
    assert.equal(h['x-tenant-tag'], 'blue');
    assert.equal(h.authorization, '[redacted]');
    assert.equal(h['x-api-key'], '[redacted]');
    assert.equal(a.responseHeaders['x-receiver'], 'yes');
    assert.equal(a.responseHeaders['set-cookie'], '[redacted]');
    const text = JSON.stringify(m);
    assert.ok(!text.includes('hidden-credential') && !text.includes(API_KEY) && !text.includes('receiver-session'));
  });

  it('the new routes answer what their specs declare, and the OpenAPI document says who may call what', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
    const routes = g.gw.admin!.registeredRoutes();
    const conforms = async (method: string, pattern: string, path: string, body?: unknown) => {
      const res = await g.admin(method, path, body);
      const declared = routes.find((r) => r.method === method && r.pattern === pattern)?.spec?.responses[res.status];
      assert.ok(declared?.schema, `${method} ${pattern} declares ${res.status}: ${res.text.slice(0, 200)}`);
      const validate = ajv.compile(declared.schema);
      assert.ok(validate(res.json()), `${method} ${pattern}: ${ajv.errorsText(validate.errors)}`);
    };
    await g.admin('POST', '/admin/tenants', { id: 'acme' });
    await conforms('GET', '/admin/whoami', '/admin/whoami');
    await conforms('GET', '/admin/reloads', '/admin/reloads');
    await conforms('GET', '/admin/requests', '/admin/requests');
    await conforms('GET', '/admin/requests/:id', `/admin/requests/${(await g.admin('GET', '/admin/requests?limit=1')).json().requests[0].id}`);
    await conforms('GET', '/admin/stats', '/admin/stats?minutes=1');
    await conforms('POST', '/admin/tenants/:id/portal-link', '/admin/tenants/acme/portal-link', { expiresInSec: 120 });
    const id = (await g.admin('GET', '/admin/messages?limit=1')).json().messages[0].id;
    await conforms('GET', '/admin/messages/:id', `/admin/messages/${id}`);
    const doc = (await g.admin('GET', '/admin/openapi.json')).json();
    assert.deepEqual(doc.paths['/admin/endpoints/{id}/secret'].get['x-hookgate-roles'], ['write', 'portal']);
    assert.deepEqual(doc.paths['/admin/config'].get['x-hookgate-roles'], ['write', 'read']);
    assert.deepEqual(doc.paths['/admin/whoami'].get['x-hookgate-roles'], ['write', 'read', 'portal']);
    assert.equal(doc.paths['/admin/messages'].get['x-hookgate-portal-scope'], 'query');
    assert.match(doc.paths['/admin/reload'].post.responses['403'].description, /HG_ADMIN_FORBIDDEN.*HG_PORTAL_SCOPE/);
  });

  it('GET /admin/messages filters by event type and creation time too', async () => {
    const pub = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'c.d', data: {} }) });
    assert.equal(pub.status, 202, pub.text);
    const ids = async (q: string) => {
      const r = await g.admin('GET', `/admin/messages?${q}`);
      assert.equal(r.status, 200, r.text);
      return r.json().messages.map((m: { eventType: string }) => m.eventType);
    };
    assert.deepEqual(await ids('eventType=c.*'), ['c.d']);
    assert.deepEqual(await ids('eventType=a.b'), ['a.b']);
    assert.deepEqual((await ids('limit=500')).sort(), ['a.b', 'c.d']);
    assert.deepEqual(await ids(`since=${Date.now() + 60_000}`), []);
    assert.deepEqual(await ids('until=2020-01-01T00:00:00Z'), []);
    assert.deepEqual((await ids(`since=${new Date(Date.now() - 600_000).toISOString()}`)).sort(), ['a.b', 'c.d']);
    assert.equal((await g.admin('GET', '/admin/messages?since=soon')).json().error.code, 'HG_ADMIN_BAD_INPUT');
  });
});

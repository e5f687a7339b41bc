/**
 * The delivery admin API (/admin/endpoints, /admin/messages) through a real gateway with the
 * delivery service, on the memory store and on Redis: CRUD and validation, secret handling and
 * rotation (checked with the official standardwebhooks library), the attempt log, recover, retry
 * and cursor pagination.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { DeliveryEngine } from '../../gateway/delivery/engine.js';
import type { OperationalEvent } from '../../gateway/delivery/operational.js';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { closedPort, httpRequest, startUpstream, waitUntil, type HttpResult, type RecordedRequest, type TestUpstream } from '../support/http.js';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';

const SECRET_RE = /^whsec_([A-Za-z0-9+/]+={0,2})$/;
const WAIT_MS = 15000;

/** A receiver whose answer per path is switchable; it records every request. */
interface Receiver {
  up: TestUpstream;
  /** Status to answer per path (default 200). */
  status: Map<string, number>;
  to(path: string): RecordedRequest[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const status = new Map<string, number>();
  const up = await startUpstream((req, res) => {
    const code = status.get(req.url) ?? 200;
    // Failures answer with more than 4 KB, so the attempt log's truncation shows.
    const body = code >= 300 ? 'e'.repeat(5000) : '{"ok":true}';
    res.writeHead(code, { 'content-type': code >= 300 ? 'text/plain' : 'application/json' });
    res.end(body);
  });
  return { up, status, to: (p) => up.requests.filter((r) => r.url === p), close: () => up.close() };
}

interface Env {
  gw: TestGateway;
  rx: Receiver;
  publish(type: string, data?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  stop(): Promise<void>;
}

type Mode = 'memory' | 'redis';
const prefixes: string[] = [];
after(async () => {
  for (const p of prefixes) await deleteKeys(p);
});

/** A gateway with a publish route, one config endpoint (`cfg-ep`, events cfg.*) and a short 2-attempt schedule. */
async function setup(mode: Mode): Promise<Env> {
  const rx = await startReceiver();
  let store = '{ driver: memory }';
  if (mode === 'redis') {
    const p = testPrefix('admin-api');
    prefixes.push(p);
    store = `{ driver: redis, url: "${REDIS_URL}", prefix: "${p}" }`;
  }
  const gw = await startGateway(
    `
store: ${store}
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: ["50ms", "100ms"] }
  lockDurationMs: 2000
  endpoints:
    - { id: cfg-ep, url: "${rx.up.url}/cfg", events: ["cfg.*"] }
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
`,
    { services: createDeliveryService },
  );
  return {
    gw,
    rx,
    publish: (type, data = { n: 1 }, headers = {}) =>
      gw.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ type, data }) }),
    async stop() {
      await gw.stop();
      await rx.close();
    },
  };
}

function errCode(r: HttpResult): string {
  return r.json().error?.code;
}

async function expectError(p: Promise<HttpResult>, status: number, code: string, what: string): Promise<HttpResult> {
  const r = await p;
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status} ${r.text}`);
  assert.equal(errCode(r), code, `${what}: ${r.text}`);
  return r;
}

async function createEndpoint(env: Env, body: Record<string, unknown>): Promise<Record<string, any>> {
  const r = await env.gw.admin('POST', '/admin/endpoints', body);
  assert.equal(r.status, 201, r.text);
  return r.json();
}

async function publishOk(env: Env, type: string, data?: unknown): Promise<string> {
  const r = await env.publish(type, data);
  assert.equal(r.status, 202, r.text);
  return r.json().id as string;
}

async function message(env: Env, id: string): Promise<Record<string, any>> {
  const r = await env.gw.admin('GET', `/admin/messages/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json();
}

async function deliveryStatus(env: Env, id: string, endpoint: string): Promise<string | undefined> {
  return (await message(env, id)).deliveries[endpoint]?.status;
}

/** Walks /admin/messages page by page, checking the cursor contract on the way. */
async function listAll(env: Env, query: string, limit: number): Promise<{ ids: string[]; pages: number[] }> {
  const ids: string[] = [];
  const pages: number[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const q = `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await env.gw.admin('GET', `/admin/messages?${q}`);
    assert.equal(r.status, 200, r.text);
    const body = r.json();
    assert.ok(body.messages.length <= limit, `a page holds at most ${limit}`);
    pages.push(body.messages.length);
    ids.push(...body.messages.map((m: { id: string }) => m.id));
    cursor = body.nextCursor;
    if (!cursor) return { ids, pages };
  }
  throw new Error('pagination did not end');
}

function webhookHeadersOf(h: IncomingHttpHeaders): Record<string, string> {
  return { 'webhook-id': String(h['webhook-id']), 'webhook-timestamp': String(h['webhook-timestamp']), 'webhook-signature': String(h['webhook-signature']) };
}

for (const mode of ['memory', 'redis'] as const) {
  describe(`delivery admin API (${mode} store)`, () => {
    it('creates, lists, reads, updates and deletes endpoints; the secret is shown once', async () => {
      const env = await setup(mode);
      try {
        const created = await createEndpoint(env, { id: 'ep1', url: `${env.rx.up.url}/ep1`, events: ['order.*'], description: 'orders' });
        const m = SECRET_RE.exec(created.secret);
        assert.ok(m, `secret format: ${created.secret}`);
        assert.equal(Buffer.from(m[1]!, 'base64').length, 32, 'whsec_ + base64 of 32 bytes');
        assert.equal(created.id, 'ep1');
        assert.equal(created.state, 'enabled');
        assert.equal(created.source, 'api');
        assert.deepEqual(created.events, ['order.*']);

        // An id is generated when none is given.
        const anon = await createEndpoint(env, { url: `${env.rx.up.url}/anon` });
        assert.match(anon.id, /^[A-Za-z0-9_.-]{1,64}$/);
        assert.deepEqual(anon.events, ['*']);

        const list = await env.gw.admin('GET', '/admin/endpoints');
        assert.equal(list.status, 200);
        const ids = list.json().endpoints.map((e: { id: string }) => e.id).sort();
        assert.deepEqual(ids, [anon.id, 'cfg-ep', 'ep1'].sort());
        assert.doesNotMatch(list.text, /whsec_/, 'GET never shows a secret');
        const cfg = list.json().endpoints.find((e: { id: string }) => e.id === 'cfg-ep');
        assert.equal(cfg.source, 'config');

        const one = await env.gw.admin('GET', '/admin/endpoints/ep1');
        assert.equal(one.status, 200);
        assert.doesNotMatch(one.text, /whsec_/);
        assert.equal(one.json().description, 'orders');

        const patched = await env.gw.admin('PATCH', '/admin/endpoints/ep1', { events: ['order.paid', 'refund.*'], description: 'changed', headers: { 'x-tenant': 'acme' } });
        assert.equal(patched.status, 200, patched.text);
        assert.deepEqual(patched.json().events, ['order.paid', 'refund.*']);
        assert.equal(patched.json().description, 'changed');
        assert.doesNotMatch(patched.text, /whsec_/);
        assert.deepEqual((await env.gw.admin('GET', '/admin/endpoints/ep1')).json().headers, { 'x-tenant': 'acme' });

        const disabled = await env.gw.admin('PATCH', '/admin/endpoints/ep1', { disabled: true });
        assert.equal(disabled.json().state, 'disabled');
        const enabled = await env.gw.admin('PATCH', '/admin/endpoints/ep1', { disabled: false });
        assert.equal(enabled.json().state, 'enabled');

        const del = await env.gw.admin('DELETE', '/admin/endpoints/ep1');
        assert.equal(del.status, 200, del.text);
        await expectError(env.gw.admin('GET', '/admin/endpoints/ep1'), 404, 'HG_ENDPOINT_NOT_FOUND', 'GET after DELETE');
        await expectError(env.gw.admin('DELETE', '/admin/endpoints/ep1'), 404, 'HG_ENDPOINT_NOT_FOUND', 'DELETE twice');
      } finally {
        await env.stop();
      }
    });

    it('rejects bad input with stable codes', async () => {
      const env = await setup(mode);
      try {
        const url = `${env.rx.up.url}/x`;
        const bad = (method: string, path: string, body: unknown, what: string) => expectError(env.gw.admin(method, path, body), 400, 'HG_ADMIN_BAD_INPUT', what);
        await bad('POST', '/admin/endpoints', { id: 'a', url, bogus: 1 }, 'unknown field');
        await bad('POST', '/admin/endpoints', { id: 'a' }, 'missing url');
        await bad('POST', '/admin/endpoints', { id: 'a', url: 'not a url' }, 'unparsable url');
        await bad('POST', '/admin/endpoints', { id: 'a', url: 'ftp://127.0.0.1/x' }, 'non-http url');
        await bad('POST', '/admin/endpoints', { id: 'a', url: 42 }, 'url not a string');
        await bad('POST', '/admin/endpoints', { id: 'a', url, events: [] }, 'empty events');
        await bad('POST', '/admin/endpoints', { id: 'a', url, events: 'order.*' }, 'events not an array');
        await bad('POST', '/admin/endpoints', { id: 'a', url, events: [''] }, 'empty event pattern');
        await bad('POST', '/admin/endpoints', { id: 'a', url, events: [1] }, 'event pattern not a string');
        await bad('POST', '/admin/endpoints', { id: 'has space', url }, 'bad id');
        await bad('POST', '/admin/endpoints', { id: 'a', url, secret: 'plain' }, 'bad secret');
        await bad('POST', '/admin/endpoints', [1, 2], 'array body');
        await bad('PATCH', '/admin/endpoints/cfg-ep', { bogus: true }, 'unknown field on PATCH');
        await bad('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: -1 }, 'negative graceSec');
        await bad('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: '60' }, 'graceSec string');
        await bad('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: 10 * 86400 }, 'graceSec over 7 days');
        await bad('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: 60, extra: 1 }, 'unknown field on rotate');
        await bad('POST', '/admin/endpoints/cfg-ep/recover', { since: 'yesterday' }, 'bad since');
        await bad('POST', '/admin/endpoints/cfg-ep/recover', {}, 'missing since');
        await bad('POST', '/admin/endpoints/cfg-ep/recover', { since: 1700000000 }, 'since as a number');
        for (const q of ['limit=0', 'limit=501', 'limit=abc', 'limit=1.5', 'status=done', 'status=', 'bogus=1']) {
          await expectError(env.gw.admin('GET', `/admin/messages?${q}`), 400, 'HG_ADMIN_BAD_INPUT', `GET /admin/messages?${q}`);
        }
        // Invalid JSON body.
        const notJson = await httpRequest({ port: env.gw.adminPort, method: 'POST', path: '/admin/endpoints', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{nope' });
        assert.equal(notJson.status, 400);
        assert.equal(errCode(notJson), 'HG_ADMIN_BAD_INPUT');

        // A literal address the SSRF guard blocks: its own code, naming the setting that allows it.
        for (const u of ['http://10.0.0.1/hook', 'http://169.254.169.254/latest', 'http://[::1]:8080/x']) {
          const r = await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'blocked', url: u }), 400, 'HG_ENDPOINT_URL_BLOCKED', `blocked ${u}`);
          assert.match(r.json().error.message, /egress\.allowCidrs/);
        }
        await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'api1', url }).then(async (r) => {
          assert.equal(r.status, 201);
          return env.gw.admin('PATCH', '/admin/endpoints/api1', { url: 'http://10.1.2.3/x' });
        }), 400, 'HG_ENDPOINT_URL_BLOCKED', 'PATCH to a blocked url');
        assert.equal((await env.gw.admin('GET', '/admin/endpoints/api1')).json().url, url, 'a refused PATCH changes nothing');

        // Unknown ids.
        for (const [method, path, body] of [
          ['GET', '/admin/endpoints/nope', undefined],
          ['PATCH', '/admin/endpoints/nope', { description: 'x' }],
          ['DELETE', '/admin/endpoints/nope', undefined],
          ['POST', '/admin/endpoints/nope/rotate-secret', { graceSec: 60 }],
          ['POST', '/admin/endpoints/nope/recover', { since: new Date().toISOString() }],
        ] as const) {
          await expectError(env.gw.admin(method, path, body), 404, 'HG_ENDPOINT_NOT_FOUND', `${method} ${path}`);
        }
        await expectError(env.gw.admin('GET', '/admin/messages/msg_doesnotexist'), 404, 'HG_MESSAGE_NOT_FOUND', 'GET unknown message');
        await expectError(env.gw.admin('POST', '/admin/messages/msg_doesnotexist/retry', {}), 404, 'HG_MESSAGE_NOT_FOUND', 'retry unknown message');

        // Config endpoints are read-only, except for disabling them.
        await expectError(env.gw.admin('PATCH', '/admin/endpoints/cfg-ep', { url: `${env.rx.up.url}/other` }), 409, 'HG_ENDPOINT_READONLY', 'PATCH config url');
        await expectError(env.gw.admin('PATCH', '/admin/endpoints/cfg-ep', { events: ['*'], disabled: true }), 409, 'HG_ENDPOINT_READONLY', 'PATCH config events + disabled');
        await expectError(env.gw.admin('DELETE', '/admin/endpoints/cfg-ep'), 409, 'HG_ENDPOINT_READONLY', 'DELETE config endpoint');
        const dis = await env.gw.admin('PATCH', '/admin/endpoints/cfg-ep', { disabled: true });
        assert.equal(dis.status, 200, dis.text);
        assert.equal(dis.json().state, 'disabled');
        const en = await env.gw.admin('PATCH', '/admin/endpoints/cfg-ep', { disabled: false });
        assert.equal(en.json().state, 'enabled');

        // Duplicate ids, including a config endpoint's.
        await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'api1', url }), 409, 'HG_ENDPOINT_EXISTS', 'duplicate api id');
        await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'cfg-ep', url }), 409, 'HG_ENDPOINT_EXISTS', 'duplicate config id');

        // The admin API needs the token.
        const anon = await env.gw.admin('GET', '/admin/endpoints', undefined, 'wrong-token');
        assert.equal(anon.status, 401);
      } finally {
        await env.stop();
      }
    });

    it('signs with both secrets during a rotation grace period (standardwebhooks verifies either)', async () => {
      const env = await setup(mode);
      try {
        const ep = await createEndpoint(env, { id: 'rot', url: `${env.rx.up.url}/rot`, events: ['rot.*'] });
        const oldSecret = ep.secret as string;
        const first = await publishOk(env, 'rot.before', { n: 1 });
        await waitUntil(() => env.rx.to('/rot').some((r) => r.headers['webhook-id'] === first), WAIT_MS, 'first delivery');
        const r1 = env.rx.to('/rot').find((r) => r.headers['webhook-id'] === first)!;
        assert.equal(String(r1.headers['webhook-signature']).split(' ').length, 1);
        new Webhook(oldSecret).verify(r1.body.toString('utf8'), webhookHeadersOf(r1.headers));

        const rot = await env.gw.admin('POST', '/admin/endpoints/rot/rotate-secret', { graceSec: 3600 });
        assert.equal(rot.status, 200, rot.text);
        const newSecret = rot.json().secret as string;
        assert.match(newSecret, SECRET_RE);
        assert.notEqual(newSecret, oldSecret);
        const expires = Date.parse(rot.json().previousSecretsExpireAt);
        assert.ok(Math.abs(expires - (Date.now() + 3600_000)) < 60_000, 'old secret expires after the grace period');
        const view = await env.gw.admin('GET', '/admin/endpoints/rot');
        assert.doesNotMatch(view.text, /whsec_/);
        assert.equal(view.json().secrets.length, 2);

        const second = await publishOk(env, 'rot.after', { n: 2 });
        await waitUntil(() => env.rx.to('/rot').some((r) => r.headers['webhook-id'] === second), WAIT_MS, 'delivery after rotation');
        const r2 = env.rx.to('/rot').find((r) => r.headers['webhook-id'] === second)!;
        const sigs = String(r2.headers['webhook-signature']).split(' ');
        assert.equal(sigs.length, 2, 'two signatures during the grace period');
        assert.ok(sigs.every((s) => s.startsWith('v1,')));
        const body = r2.body.toString('utf8');
        const payload = new Webhook(oldSecret).verify(body, webhookHeadersOf(r2.headers)) as { type: string; data: unknown };
        assert.equal(payload.type, 'rot.after');
        assert.deepEqual(payload.data, { n: 2 });
        new Webhook(newSecret).verify(body, webhookHeadersOf(r2.headers));
        assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(body, webhookHeadersOf(r2.headers)));

        // graceSec 0 drops the old secrets at once: one signature, by the newest secret only.
        const rot2 = await env.gw.admin('POST', '/admin/endpoints/rot/rotate-secret', { graceSec: 0 });
        assert.equal(rot2.status, 200, rot2.text);
        const newest = rot2.json().secret as string;
        const third = await publishOk(env, 'rot.third', { n: 3 });
        await waitUntil(() => env.rx.to('/rot').some((r) => r.headers['webhook-id'] === third), WAIT_MS, 'delivery after the second rotation');
        const r3 = env.rx.to('/rot').find((r) => r.headers['webhook-id'] === third)!;
        assert.equal(String(r3.headers['webhook-signature']).split(' ').length, 1);
        new Webhook(newest).verify(r3.body.toString('utf8'), webhookHeadersOf(r3.headers));
        assert.throws(() => new Webhook(newSecret).verify(r3.body.toString('utf8'), webhookHeadersOf(r3.headers)));
      } finally {
        await env.stop();
      }
    });

    it('every endpoint change through the API raises its operational event, rotate-secret included', async () => {
      const env = await setup(mode);
      try {
        const events: OperationalEvent[] = [];
        (env.gw.gw.service as unknown as { engine: DeliveryEngine }).engine.events.on('operational', (ev) => events.push(ev));
        const seen = () => events.splice(0).map((e) => `${e.type} ${String(e.data.endpointId)}`);
        await createEndpoint(env, { id: 'ev', url: `${env.rx.up.url}/ev` });
        assert.deepEqual(seen(), ['endpoint.created ev']);
        assert.equal((await env.gw.admin('PATCH', '/admin/endpoints/ev', { description: 'x' })).status, 200);
        assert.deepEqual(seen(), ['endpoint.updated ev']);
        assert.equal((await env.gw.admin('POST', '/admin/endpoints/ev/rotate-secret', { graceSec: 60 })).status, 200);
        assert.deepEqual(seen(), ['endpoint.updated ev']);
        assert.equal((await env.gw.admin('POST', '/admin/endpoints/cfg-ep/rotate-secret', {})).status, 200);
        assert.deepEqual(seen(), ['endpoint.updated cfg-ep']);
        assert.equal((await env.gw.admin('DELETE', '/admin/endpoints/ev')).status, 200);
        assert.deepEqual(seen(), ['endpoint.deleted ev']);
        // Refused changes raise nothing.
        await expectError(env.gw.admin('POST', '/admin/endpoints/ev/rotate-secret', {}), 404, 'HG_ENDPOINT_NOT_FOUND', 'rotate after DELETE');
        await expectError(env.gw.admin('DELETE', '/admin/endpoints/cfg-ep'), 409, 'HG_ENDPOINT_READONLY', 'DELETE a config endpoint');
        assert.deepEqual(seen(), []);
        assert.ok(env.gw.log.lines.some((l) => l.event === 'endpoint.updated' && l.endpointId === 'cfg-ep'), 'logged as well');
      } finally {
        await env.stop();
      }
    });

    it('logs attempts, ends failing deliveries as failed, and recovers, retries and paginates them', async () => {
      const env = await setup(mode);
      try {
        env.rx.status.set('/flaky', 500);
        await createEndpoint(env, { id: 'flaky', url: `${env.rx.up.url}/flaky`, events: ['rec.*'] });
        const deadPort = await closedPort();
        await createEndpoint(env, { id: 'dead', url: `http://127.0.0.1:${deadPort}/dead`, events: ['dead.*'] });

        const since = new Date(Date.now() - 1000).toISOString();
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await env.publish('rec.item', { i });
          assert.equal(r.status, 202, r.text);
          assert.equal(r.json().endpoints, 1);
          ids.push(r.json().id);
        }
        const deadId = await publishOk(env, 'dead.item', { dead: true });

        // Both attempts fail (500), then the delivery is failed.
        await waitUntil(async () => {
          const r = await env.gw.admin('GET', '/admin/messages?status=failed&endpoint=flaky');
          return r.json().messages.length === 5;
        }, WAIT_MS, '5 failed messages');
        assert.equal(env.rx.to('/flaky').length, 10, 'two attempts per message');

        const m0 = await message(env, ids[0]!);
        assert.equal(m0.id, ids[0]);
        assert.equal(m0.status, 'failed');
        assert.equal(m0.eventType, 'rec.item');
        assert.deepEqual(m0.payload.data, { i: 0 });
        const att = m0.deliveries.flaky.attempts as Record<string, any>[];
        assert.equal(m0.deliveries.flaky.status, 'failed');
        assert.equal(att.length, 2);
        assert.deepEqual(att.map((a) => a.attempt), [1, 2]);
        for (const a of att) {
          assert.equal(a.status, 500);
          assert.ok(typeof a.durationMs === 'number' && a.durationMs >= 0, 'duration');
          assert.ok(!Number.isNaN(Date.parse(a.at)), `attempt time is ISO: ${a.at}`);
          assert.equal(a.response.length, 4096, 'response body truncated to 4 KB');
        }

        // A network error is status 0 with an error.
        await waitUntil(async () => (await deliveryStatus(env, deadId, 'dead')) === 'failed', WAIT_MS, 'dead endpoint failed');
        const dm = await message(env, deadId);
        for (const a of dm.deliveries.dead.attempts) {
          assert.equal(a.status, 0);
          assert.ok(typeof a.error === 'string' && a.error.length > 0, 'network error recorded');
        }

        // Pagination: limit 2 over the 5 failed messages — no duplicates, no gaps, newest first.
        const pg = await listAll(env, 'status=failed&endpoint=flaky', 2);
        assert.deepEqual(pg.pages, [2, 2, 1]);
        assert.equal(new Set(pg.ids).size, 5, 'no duplicates');
        assert.deepEqual([...pg.ids].sort(), [...ids].sort(), 'no gaps');
        const all = await listAll(env, 'status=failed', 2);
        assert.deepEqual([...all.ids].sort(), [...ids, deadId].sort());
        const created = await Promise.all(pg.ids.map(async (id) => Date.parse((await message(env, id)).createdAt)));
        for (let i = 1; i < created.length; i++) assert.ok(created[i - 1]! >= created[i]!, 'newest first');
        assert.equal((await env.gw.admin('GET', '/admin/messages?status=delivered&endpoint=flaky')).json().messages.length, 0);

        // Fix the receiver. Retry one message for one endpoint: only it is delivered.
        env.rx.status.set('/flaky', 200);
        await expectError(env.gw.admin('POST', `/admin/messages/${ids[0]}/retry`, { endpoint: 'dead' }), 400, 'HG_ADMIN_BAD_INPUT', 'retry for a non-target');
        await expectError(env.gw.admin('POST', `/admin/messages/${ids[0]}/retry`, { bogus: 1 }), 400, 'HG_ADMIN_BAD_INPUT', 'retry unknown field');
        const retry = await env.gw.admin('POST', `/admin/messages/${ids[0]}/retry`, { endpoint: 'flaky' });
        assert.equal(retry.status, 202, retry.text);
        assert.deepEqual(retry.json().queued, ['flaky']);
        await waitUntil(async () => (await deliveryStatus(env, ids[0]!, 'flaky')) === 'delivered', WAIT_MS, 'single retry delivered');
        const okAttempt = (await message(env, ids[0]!)).deliveries.flaky.attempts.at(-1);
        assert.equal(okAttempt.status, 200);
        assert.equal(env.rx.to('/flaky').filter((r) => r.headers['webhook-id'] !== ids[0]).length, 8, 'the other messages were not resent');

        // Recover everything that failed since `since`: the other four.
        const rec = await env.gw.admin('POST', '/admin/endpoints/flaky/recover', { since });
        assert.equal(rec.status, 202, rec.text);
        assert.equal(rec.json().queued, 4, 'only deliveries still failed are recovered');
        await waitUntil(async () => {
          const r = await env.gw.admin('GET', '/admin/messages?status=delivered&endpoint=flaky');
          return r.json().messages.length === 5;
        }, WAIT_MS, 'all 5 delivered after recover');
        assert.equal((await env.gw.admin('GET', '/admin/messages?status=failed&endpoint=flaky')).json().messages.length, 0);
        for (const id of ids) {
          const oks = env.rx.to('/flaky').filter((r) => r.headers['webhook-id'] === id);
          assert.equal(oks.length, 3, `message ${id}: 2 failed attempts + 1 successful`);
        }

        // Recover with a `since` after the failures finds nothing.
        const none = await env.gw.admin('POST', '/admin/endpoints/dead/recover', { since: new Date(Date.now() + 60_000).toISOString() });
        assert.equal(none.json().queued, 0);

        // Point the dead endpoint at the receiver, then retry all of the message's failed deliveries.
        const moved = await env.gw.admin('PATCH', '/admin/endpoints/dead', { url: `${env.rx.up.url}/dead` });
        assert.equal(moved.status, 200, moved.text);
        const retryAll = await env.gw.admin('POST', `/admin/messages/${deadId}/retry`);
        assert.equal(retryAll.status, 202, retryAll.text);
        assert.deepEqual(retryAll.json().queued, ['dead']);
        await waitUntil(async () => (await deliveryStatus(env, deadId, 'dead')) === 'delivered', WAIT_MS, 'dead message delivered after retry');
        assert.equal(env.rx.to('/dead').length, 1);

        // Nothing is failed any more; everything is delivered.
        const fin = await listAll(env, 'status=delivered', 4);
        assert.deepEqual([...fin.ids].sort(), [...ids, deadId].sort());
        assert.deepEqual((await listAll(env, 'status=failed', 4)).ids, []);
        assert.deepEqual((await listAll(env, 'status=pending', 4)).ids, []);
      } finally {
        await env.stop();
      }
    });

    it('accepts and shows an event no endpoint subscribes to', async () => {
      const env = await setup(mode);
      try {
        const r = await env.publish('nobody.listens', { x: 1 });
        assert.equal(r.status, 202, r.text);
        assert.equal(r.json().endpoints, 0);
        const m = await message(env, r.json().id);
        assert.deepEqual(m.deliveries, {});
        assert.equal(m.eventType, 'nobody.listens');
        const all = await listAll(env, 'endpoint=cfg-ep', 10);
        assert.deepEqual(all.ids, [], 'not listed under an endpoint it was not sent to');
      } finally {
        await env.stop();
      }
    });

    it('lists pending messages and the message view of a delivery not yet attempted', async () => {
      const env = await setup(mode);
      try {
        // The receiver holds the request: the delivery stays pending until it is released.
        const held: Array<() => void> = [];
        const slow = await startUpstream((_req, res) => {
          held.push(() => res.end('ok'));
        });
        try {
          await createEndpoint(env, { id: 'slow', url: `${slow.url}/slow`, events: ['slow.*'] });
          const id = await publishOk(env, 'slow.one', { a: 1 });
          await waitUntil(() => slow.requests.length === 1, WAIT_MS, 'attempt started');
          const pending = await env.gw.admin('GET', '/admin/messages?status=pending');
          assert.deepEqual(pending.json().messages.map((m: { id: string }) => m.id), [id]);
          const m = await message(env, id);
          assert.equal(m.status, 'pending');
          assert.deepEqual(m.deliveries.slow.attempts, []);
          held.forEach((f) => f());
          await waitUntil(async () => (await deliveryStatus(env, id, 'slow')) === 'delivered', WAIT_MS, 'delivered after release');
          const after = await message(env, id);
          assert.equal(after.deliveries.slow.attempts.length, 1);
          assert.equal(after.deliveries.slow.attempts[0].response, 'ok');
        } finally {
          held.forEach((f) => f());
          await slow.close();
        }
      } finally {
        await env.stop();
      }
    });
  });
}

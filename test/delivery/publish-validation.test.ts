/**
 * Publishing against the event catalogue: enforce refuses data that breaks its schema with the
 * pointer list and queues nothing; data that fits is delivered; versions and pins pick who gets
 * what; warn delivers and logs; strictTypes refuses unknown types. On the memory and the Redis store.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil, type HttpResult } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';
import { startReceiver, WAIT_MS, type Receiver } from './admin-env.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const prefixes: string[] = [];
after(async () => {
  for (const p of prefixes) await deleteKeys(p);
});

interface Env {
  gw: TestGateway;
  rx: Receiver;
  publish(event: Record<string, unknown>): Promise<HttpResult>;
  messages(): Promise<unknown[]>;
  stop(): Promise<void>;
}

async function setup(opts: { store?: 'memory' | 'redis'; egress?: string } = {}): Promise<Env> {
  const rx = await startReceiver();
  let store = '{ driver: memory }';
  if (opts.store === 'redis') {
    const p = testPrefix('publish-validation');
    prefixes.push(p);
    store = `{ driver: redis, url: "${REDIS_URL}", prefix: "${p}" }`;
  }
  const gw = await startGateway(
    `
store: ${store}
eventTypes:
  - name: invoice.paid
    schema: { type: object, required: [id, amount], properties: { id: { type: string }, amount: { type: integer } } }
    deprecated: { sunset: "2027-06-30" }
  - name: invoice.paid
    version: 2
    schema: { type: object, required: [id, amount, currency], properties: { id: { type: string }, amount: { type: integer }, currency: { type: string } } }
  - name: note.added
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: ["50ms"] }
  lockDurationMs: 2000
${opts.egress ?? ''}
  endpoints:
    - { id: latest, url: "${rx.up.url}/latest", events: ["*"], secret: "${SECRET}" }
    - { id: pinned, url: "${rx.up.url}/pinned", events: ["invoice.*"], eventVersions: { invoice.paid: 1 } }
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
    publish: (event) => gw.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) }),
    async messages() {
      const r = await gw.admin('GET', '/admin/messages?limit=500');
      assert.equal(r.status, 200, r.text);
      return r.json().messages;
    },
    async stop() {
      await gw.stop();
      await rx.close();
    },
  };
}

for (const mode of ['memory', 'redis'] as const) {
  describe(`publish with egress.validation: enforce (${mode} store)`, () => {
    let env: Env;
    after(() => env?.stop());

    test('data that breaks the schema is refused 422 with every failure and its pointer; nothing is queued', async () => {
      env = await setup({ store: mode });
      const r = await env.publish({ type: 'invoice.paid', data: { id: 7, amount: '42' } });
      assert.equal(r.status, 422, r.text);
      const err = r.json().error;
      assert.equal(err.code, 'HG_EVENT_SCHEMA_MISMATCH');
      assert.deepEqual(err.details, [
        { pointer: '/data/currency', message: 'is required' },
        { pointer: '/data/id', message: 'must be string' },
        { pointer: '/data/amount', message: 'must be integer' },
      ]);
      assert.match(err.message, /invoice\.paid v2 breaks its schema \(3 failures\): \/data\/currency: is required/);
      assert.deepEqual(await env.messages(), [], 'no message was stored or queued');
    });

    test('data that fits is delivered, signed, to the endpoints of that version', async () => {
      const data = { id: 'in_1', amount: 4200, currency: 'EUR' };
      const r = await env.publish({ type: 'invoice.paid', data });
      assert.equal(r.status, 202, r.text);
      // v2 is the latest: the unpinned endpoint gets it, the one pinned to v1 does not.
      assert.equal(r.json().endpoints, 1);
      await waitUntil(() => env.rx.to('/latest').length === 1, WAIT_MS, 'the delivery');
      const got = env.rx.to('/latest')[0]!;
      const h = got.headers;
      const verified = new Webhook(SECRET).verify(got.body.toString(), { 'webhook-id': String(h['webhook-id']), 'webhook-timestamp': String(h['webhook-timestamp']), 'webhook-signature': String(h['webhook-signature']) }) as { type: string; data: unknown };
      assert.deepEqual([verified.type, verified.data], ['invoice.paid', data]);
      assert.equal(env.rx.to('/pinned').length, 0);
    });

    test('version 1 goes to the endpoint pinned to it, checked against the v1 schema', async () => {
      const bad = await env.publish({ type: 'invoice.paid', version: 1, data: { id: 'in_2' } });
      assert.equal(bad.status, 422);
      assert.deepEqual(bad.json().error.details, [{ pointer: '/data/amount', message: 'is required' }]);
      const r = await env.publish({ type: 'invoice.paid', version: 1, data: { id: 'in_2', amount: 1 } });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.json().endpoints, 1);
      await waitUntil(() => env.rx.to('/pinned').length === 1, WAIT_MS, 'the v1 delivery');
      assert.equal(JSON.parse(env.rx.to('/pinned')[0]!.body.toString()).data.id, 'in_2');
    });

    test('a version the catalogue does not have is 422 HG_EVENT_TYPE_UNKNOWN; types without a schema pass', async () => {
      const r = await env.publish({ type: 'invoice.paid', version: 3, data: {} });
      assert.equal(r.status, 422);
      assert.equal(r.json().error.code, 'HG_EVENT_TYPE_UNKNOWN');
      assert.match(r.json().error.message, /has no version 3 \(versions: 1, 2\)/);
      assert.equal((await env.publish({ type: 'note.added', data: 'anything' })).status, 202);
      // Not in the catalogue and strictTypes off: published as before.
      assert.equal((await env.publish({ type: 'other.thing', data: {} })).status, 202);
    });
  });
}

describe('publish with egress.validation: warn, off, and strictTypes', () => {
  test('warn logs the failures and delivers', async () => {
    const env = await setup({ egress: '  validation: warn' });
    try {
      const r = await env.publish({ type: 'invoice.paid', data: { id: 'in_1', amount: 1.5, currency: 'EUR' } });
      assert.equal(r.status, 202, r.text);
      await waitUntil(() => env.rx.to('/latest').length === 1, WAIT_MS, 'the delivery');
      const line = env.gw.log.lines.find((l) => l.code === 'HG_EVENT_SCHEMA_MISMATCH');
      assert.ok(line, 'the mismatch is logged');
      assert.deepEqual(line.details, [{ pointer: '/data/amount', message: 'must be integer' }]);
      assert.equal(line.level, 'warn');
    } finally {
      await env.stop();
    }
  });

  test('off does not check', async () => {
    const env = await setup({ egress: '  validation: "off"' });
    try {
      assert.equal((await env.publish({ type: 'invoice.paid', data: 'not an object' })).status, 202);
    } finally {
      await env.stop();
    }
  });

  test('strictTypes refuses a type the catalogue does not know, and queues nothing', async () => {
    const env = await setup({ egress: '  strictTypes: true' });
    try {
      const r = await env.publish({ type: 'other.thing', data: {} });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.json().error.code, 'HG_EVENT_TYPE_UNKNOWN');
      assert.deepEqual(await env.messages(), []);
      assert.equal((await env.publish({ type: 'note.added', data: {} })).status, 202);
    } finally {
      await env.stop();
    }
  });

  test('publishing a deprecated version is accepted and answered with Deprecation and Sunset; the latest is not', async () => {
    const env = await setup();
    try {
      const old = await env.publish({ type: 'invoice.paid', version: 1, data: { id: 'in_1', amount: 1 } });
      assert.equal(old.status, 202, old.text);
      assert.equal(old.headers.deprecation, 'true');
      assert.equal(old.headers.sunset, 'Wed, 30 Jun 2027 00:00:00 GMT');
      const latest = await env.publish({ type: 'invoice.paid', data: { id: 'in_2', amount: 1, currency: 'eur' } });
      assert.equal(latest.status, 202, latest.text);
      assert.equal(latest.headers.deprecation, undefined);
    } finally {
      await env.stop();
    }
  });

  test('a version that is not an integer is 400 HG_EVENT_INVALID', async () => {
    const env = await setup();
    try {
      const r = await env.publish({ type: 'invoice.paid', version: '2', data: {} });
      assert.equal(r.status, 400);
      assert.equal(r.json().error.code, 'HG_EVENT_INVALID');
    } finally {
      await env.stop();
    }
  });
});

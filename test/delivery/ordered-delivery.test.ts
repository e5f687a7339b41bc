/**
 * Ordered delivery through a gateway, on the memory store and on Redis: an `ordering: per-key`
 * endpoint receives each `orderingKey`'s messages in publish order while a receiver fails
 * attempts at random; a key whose head keeps failing blocks only itself, shows in
 * `hookgate_ordering_blocked_seconds`, and the skip route dead-letters its head and unblocks it;
 * publish checks `orderingKey`; the endpoint API sets and shows `ordering`.
 * (The queues alone: ordered-queue.test.ts; kill -9 with Redis: ordered-kill.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { testStores } from '../support/redis.js';
import { openResources } from './resources.js';
import { seeded } from '../support/seeded.js';

const { onClose, receiver } = openResources();

async function gatewayWith(yaml: string): Promise<TestGateway> {
  const g = await startGateway(yaml, { services: createDeliveryService });
  onClose(() => g.stop());
  return g;
}

function publish(g: TestGateway, body: Record<string, unknown>) {
  return g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'order.updated', ...body }) });
}

/** The value of `hookgate_ordering_blocked_seconds{endpoint}`, or undefined when the series is absent. */
async function blockedSeconds(g: TestGateway, endpoint: string): Promise<number | undefined> {
  const text = (await g.admin('GET', '/metrics')).text;
  const m = new RegExp(`^hookgate_ordering_blocked_seconds\\{endpoint="${endpoint}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

const addFormats = addFormatsModule as unknown as (a: Ajv2020) => Ajv2020;

/** Asserts that an admin answer fits the schema its route declares (the OpenAPI document's). */
function conforms(g: TestGateway, method: string, pattern: string, status: number, body: unknown): void {
  const route = g.gw.admin!.registeredRoutes().find((r) => r.method === method && r.pattern === pattern);
  const schema = route?.spec?.responses[status]?.schema;
  assert.ok(schema, `${method} ${pattern} declares ${status}`);
  // With the formats the answers use (date-time): checked, not ignored with a warning.
  const validate = addFormats(new Ajv2020({ strict: false })).compile(schema);
  assert.ok(validate(body), `${method} ${pattern}: ${JSON.stringify(validate.errors)}`);
}

const RETRY = '[0, "10ms", "20ms", "30ms", "40ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms"]';

for (const driver of ['memory', 'redis'] as const) {
  const stores = testStores(`ordered-${driver}`);
  after(() => stores.cleanUp());

  describe(`ordered delivery with the ${driver} store`, () => {
    test('50 keys × 20 messages, 25 % of attempts failing: each key arrives in publish order, every message once delivered', async () => {
      const rand = seeded(2026);
      const arrivals = new Map<string, number[]>();
      const delivered = new Map<string, number[]>();
      let busyNow = new Map<string, number>();
      const overlaps: string[] = [];
      const r = await receiver((req, res) => {
        const { data } = JSON.parse(req.body.toString()) as { data: { key: string; n: number } };
        const seen = arrivals.get(data.key) ?? [];
        seen.push(data.n);
        arrivals.set(data.key, seen);
        if (busyNow.has(data.key)) overlaps.push(`${data.key}: ${data.n} beside ${busyNow.get(data.key)}`);
        busyNow.set(data.key, data.n);
        const fail = rand() < 0.25;
        setTimeout(() => {
          busyNow.delete(data.key);
          if (!fail) delivered.set(data.key, [...(delivered.get(data.key) ?? []), data.n]);
          res.writeHead(fail ? 500 : 200).end();
        }, 1);
      });
      const g = await gatewayWith(`${stores.yaml(driver)}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  maxInFlightPerEndpoint: 64
  # Random failures are the point here, not the breaker: five in a row would hold the endpoint for 30 s.
  breaker: { enabled: false }
  retry: { schedule: ${RETRY} }
  endpoints:
    - { id: ordered, url: "${r.url}/hook", ordering: per-key }
`);
      const KEYS = 50;
      const PER_KEY = 20;
      // Each key's messages are published one after the other (publish order), the keys side by side.
      await Promise.all(
        Array.from({ length: 10 }, async (_, w) => {
          for (let n = 0; n < PER_KEY; n++) {
            for (let k = w; k < KEYS; k += 10) {
              const res = await publish(g, { data: { key: `order-${k}`, n }, orderingKey: `order-${k}` });
              assert.equal(res.status, 202, res.text);
            }
          }
        }),
      );
      await waitUntil(() => [...delivered.values()].reduce((s, d) => s + d.length, 0) >= KEYS * PER_KEY, 40000, 'every message delivered');
      assert.deepEqual(overlaps, [], 'one delivery of a key at a time');
      const expected = Array.from({ length: PER_KEY }, (_, i) => i);
      for (let k = 0; k < KEYS; k++) {
        const key = `order-${k}`;
        assert.deepEqual(delivered.get(key), expected, `${key}: delivered in publish order, each once`);
        const seen = arrivals.get(key)!;
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `${key}: message ${seen[i]} arrived after ${seen[i - 1]} (${seen.join(',')})`);
      }
      assert.ok([...arrivals.values()].reduce((s, a) => s + a.length, 0) > KEYS * PER_KEY, 'failures were injected');
      busyNow = new Map();
    });

    test('a failing head blocks its key only; the metric shows it; skip dead-letters it and the key goes on', async () => {
      let stuckFails = true;
      const got: string[] = [];
      const r = await receiver((req, res) => {
        const { data } = JSON.parse(req.body.toString()) as { data: { name: string } };
        if (data.name === 'stuck-0' && stuckFails) return void res.writeHead(500).end();
        got.push(data.name);
        res.writeHead(200).end();
      });
      const g = await gatewayWith(`${stores.yaml(driver)}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms"] }
  endpoints:
    - { id: ordered, url: "${r.url}/hook", ordering: per-key }
    - { id: plain, url: "${r.url}/plain", events: ["other.*"] }
`);
      const ids: Record<string, string> = {};
      for (const [name, key] of [['stuck-0', 'a'], ['stuck-1', 'a'], ['free-0', 'b'], ['free-1', 'b']] as const) {
        const res = await publish(g, { data: { name }, orderingKey: key });
        assert.equal(res.status, 202, res.text);
        ids[name] = res.json().id;
      }
      // No key: not ordered, even on an ordered endpoint.
      assert.equal((await publish(g, { data: { name: 'nokey' } })).status, 202);
      // A key on an endpoint without ordering is ignored.
      assert.equal((await publish(g, { type: 'other.thing', data: { name: 'plain' }, orderingKey: 'a' })).status, 202);
      await waitUntil(() => ['free-0', 'free-1', 'nokey', 'plain'].every((n) => got.includes(n)), 15000, 'the unblocked messages');
      assert.deepEqual(got.filter((n) => n.startsWith('free')), ['free-0', 'free-1']);
      assert.ok(!got.includes('stuck-1'), 'the message behind the failing head waits');
      await waitUntil(async () => ((await blockedSeconds(g, 'ordered')) ?? 0) > 0, 15000, 'the blocked metric above 0');
      assert.equal(await blockedSeconds(g, 'plain'), undefined, 'no series for an endpoint without ordering');

      const skip = await g.admin('POST', `/admin/endpoints/ordered/keys/a/skip`);
      assert.equal(skip.status, 200, skip.text);
      assert.deepEqual(skip.json(), { endpoint: 'ordered', key: 'a', skipped: ids['stuck-0'], status: 'failed' });
      conforms(g, 'POST', '/admin/endpoints/:id/keys/:key/skip', 200, skip.json());
      await waitUntil(() => got.includes('stuck-1'), 15000, 'the next message of the key after the skip');
      const skipped = (await g.admin('GET', `/admin/messages/${ids['stuck-0']}`)).json();
      assert.equal(skipped.deliveries.ordered.status, 'failed', 'the skipped head is a dead letter');
      assert.equal(skipped.orderingKey, 'a');
      await waitUntil(async () => (await blockedSeconds(g, 'ordered')) === 0, 15000, 'the metric back at 0');
      // Once the queue is empty (the skipped head's leftover retry dropped, stuck-1's done written), nothing is left to skip.
      await waitUntil(async () => /^hookgate_queue_depth\{state="waiting"\} 0$/m.test((await g.admin('GET', '/metrics')).text) && /^hookgate_queue_depth\{state="delayed"\} 0$/m.test((await g.admin('GET', '/metrics')).text), 15000, 'the queue drained');
      const again = await g.admin('POST', `/admin/endpoints/ordered/keys/a/skip`);
      assert.equal(again.status, 404);
      assert.equal(again.json().error.code, 'HG_ORDERING_KEY_NOT_FOUND');
      assert.equal((await g.admin('POST', `/admin/endpoints/nope/keys/a/skip`)).json().error.code, 'HG_ENDPOINT_NOT_FOUND');
      assert.equal((await g.admin('POST', `/admin/endpoints/ordered/keys/${encodeURIComponent('a\tb')}/skip`)).json().error.code, 'HG_ADMIN_BAD_INPUT');

      // A manual retry of the dead letter queues it at the key's tail: after the ones published since.
      stuckFails = false;
      assert.equal((await publish(g, { data: { name: 'later' }, orderingKey: 'a' })).status, 202);
      await waitUntil(() => got.includes('later'), 15000, 'a later message of the key');
      assert.equal((await g.admin('POST', `/admin/messages/${ids['stuck-0']}/retry`, {})).status, 202);
      await waitUntil(() => got.includes('stuck-0'), 15000, 'the retried dead letter');
      assert.deepEqual(got.filter((n) => n === 'stuck-1' || n === 'later' || n === 'stuck-0'), ['stuck-1', 'later', 'stuck-0']);
    });

    test('a head skipped mid-attempt stays a dead letter when that attempt fails, and is not tried again', async () => {
      const held: (() => void)[] = [];
      const seen: string[] = [];
      const r = await receiver((req, res) => {
        const { data } = JSON.parse(req.body.toString()) as { data: { name: string } };
        seen.push(data.name);
        if (data.name === 'head') held.push(() => res.writeHead(500).end());
        else res.writeHead(200).end();
      });
      const g = await gatewayWith(`${stores.yaml(driver)}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "20ms", "20ms", "20ms", "20ms"] }
  endpoints:
    - { id: ordered, url: "${r.url}/hook", ordering: per-key }
`);
      const head = (await publish(g, { data: { name: 'head' }, orderingKey: 'k' })).json().id;
      assert.equal((await publish(g, { data: { name: 'next' }, orderingKey: 'k' })).status, 202);
      await waitUntil(() => held.length === 1, 15000, 'the head in flight');
      const skip = await g.admin('POST', '/admin/endpoints/ordered/keys/k/skip');
      assert.equal(skip.json().status, 'failed');
      await waitUntil(() => seen.includes('next'), 15000, 'the next message, beside the running head');
      held.shift()!();
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${head}`)).json().deliveries.ordered.attempts.length === 1, 15000, 'the attempt recorded');
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${head}`)).json().deliveries.ordered.status === 'failed', 15000, 'a dead letter again');
      await waitUntil(async () => /^hookgate_queue_depth\{state="delayed"\} 0$/m.test((await g.admin('GET', '/metrics')).text), 15000, 'no retry left');
      assert.deepEqual(seen.filter((n) => n === 'head'), ['head'], 'the skipped head is not tried again');
    });

    test('publish checks orderingKey; the endpoint API sets and shows ordering', async () => {
      const r = await receiver();
      const g = await gatewayWith(`${stores.yaml(driver)}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: cfg, url: "${r.url}/hook", ordering: per-key }
`);
      for (const bad of ['', 'x'.repeat(257), 'a\nb', 42]) {
        const res = await publish(g, { data: {}, orderingKey: bad });
        assert.equal(res.status, 400, `orderingKey ${JSON.stringify(bad)}`);
        assert.equal(res.json().error.code, 'HG_EVENT_INVALID');
      }
      assert.equal((await publish(g, { data: {}, orderingKey: 'ordre n° 42 / 🧾' })).status, 202);
      const doc = (await g.admin('GET', '/admin/openapi.json')).json();
      assert.match(JSON.stringify(doc.paths['/events'].post.requestBody), /"orderingKey"/, 'the OpenAPI document shows orderingKey on the publish route');
      assert.equal((await g.admin('GET', '/admin/endpoints/cfg')).json().ordering, 'per-key');
      const created = await g.admin('POST', '/admin/endpoints', { id: 'api', url: `${r.url}/api` });
      assert.equal(created.json().ordering, 'none');
      const patched = await g.admin('PATCH', '/admin/endpoints/api', { ordering: 'per-key' });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.json().ordering, 'per-key');
      conforms(g, 'PATCH', '/admin/endpoints/:id', 200, patched.json());
      assert.equal((await g.admin('PATCH', '/admin/endpoints/api', { ordering: 'sorted' })).json().error.code, 'HG_ADMIN_BAD_INPUT');
      assert.equal((await g.admin('POST', '/admin/endpoints', { url: `${r.url}/x`, ordering: 'per-key' })).json().ordering, 'per-key');
    });
  });
}

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { startUpstream, waitUntil, type HttpResult, type TestUpstream } from './support/http.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { deleteKeys, REDIS_URL, testPrefix } from './support/redis.js';

/**
 * Two gateway instances (different ports, same config, one Redis) must act as one: one rate
 * limit and one replay window between them.
 */

const SECRET = 'whsec_' + Buffer.from('shared-ingress-test-secret-0123456789').toString('base64');
const prefix = testPrefix('ingress-shared');

let up: TestUpstream;
let a: TestGateway;
let b: TestGateway;
let redis: Redis;
/** Message ids the upstream should fail (500) while listed; and ids it should hold until released. */
const failIds = new Set<string>();
const holds = new Map<string, () => void>();

before(async () => {
  up = await startUpstream((req, res) => {
    const id = String(req.headers['webhook-id'] ?? '');
    const answer = () => {
      if (failIds.has(id)) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('upstream failed');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ received: id }));
      }
    };
    if (id.startsWith('hold-')) holds.set(id, answer);
    else answer();
  });
  const yaml = `
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
upstreams:
  app:
    targets: [ { url: "${up.url}" } ]
routes:
  - name: limited
    path: /limited
    plugins:
      - rate-limit: { by: route, points: 5, durationSec: 300 }
    respond: { status: 200, body: { ok: true } }
  - name: burst
    path: /burst
    plugins:
      - rate-limit: { by: ip, points: 5, durationSec: 300 }
    respond: { status: 200 }
  - name: sw
    path: /hooks/sw
    methods: [POST]
    plugins:
      - verify-signature: { preset: standard-webhooks, secrets: ["${SECRET}"] }
    upstream: app
`;
  a = await startGateway(yaml);
  b = await startGateway(yaml);
  redis = new Redis(REDIS_URL);
});

after(async () => {
  for (const h of holds.values()) h();
  await a?.stop();
  await b?.stop();
  await up?.close();
  redis?.disconnect();
  await deleteKeys(prefix);
});

test('the two instances are distinct listeners', () => {
  assert.notEqual(a.port, b.port);
  assert.notEqual(a.gw, b.gw);
});

test('one rate limit across both instances: alternating A/B, exactly 5 pass in total', async () => {
  const results: { via: string; status: number }[] = [];
  for (let i = 0; i < 12; i++) {
    const g = i % 2 ? b : a;
    results.push({ via: i % 2 ? 'B' : 'A', status: (await g.request({ path: '/limited' })).status });
  }
  assert.deepEqual(
    results.map((r) => r.status),
    [200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429, 429],
  );
  // Both instances passed some and refused some: neither kept a private count.
  assert.ok(results.some((r) => r.via === 'B' && r.status === 200));
  assert.ok(results.some((r) => r.via === 'A' && r.status === 429));
  assert.equal(await redis.get(`${prefix}rl:limited:route`), '12');
});

test('one rate limit across both instances under a concurrent burst: exactly 5 of 40 pass', async () => {
  const all = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? b : a).request({ path: '/burst' })));
  const passed = all.filter((r) => r.status === 200);
  assert.equal(passed.length, 5);
  assert.equal(all.filter((r) => r.status === 429).length, 35);
  assert.deepEqual(passed.map((r) => r.headers['ratelimit-remaining']).sort(), ['0', '1', '2', '3', '4']);
});

function signed(id: string, body: string): { method: string; path: string; headers: Record<string, string>; body: string } {
  const now = new Date();
  const signature = new Webhook(SECRET).sign(id, now, body);
  return {
    method: 'POST',
    path: '/hooks/sw',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    },
    body,
  };
}

const dedupeKey = (id: string) => `${prefix}vs:sw:standard-webhooks:${id}`;
const forwarded = (id: string) => up.requests.filter((r) => r.headers['webhook-id'] === id).length;

/** The dedupe mark is written after the response (log phase): wait for it, as a provider's retry would come later anyway. */
async function settled(id: string, value: string | null): Promise<void> {
  await waitUntil(async () => (await redis.get(dedupeKey(id))) === value, 10000, `dedupe key of ${id} to become ${value}`);
}

function assertDuplicate(r: HttpResult, id: string): void {
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['hookgate-duplicate'], 'true');
  assert.deepEqual(r.json(), { duplicate: true, id });
}

test('one replay window: a message forwarded via A is answered by B as a duplicate, not forwarded again', async () => {
  const id = `msg_${randomUUID()}`;
  const body = JSON.stringify({ type: 'invoice.paid', n: 1 });
  const first = await a.request(signed(id, body));
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.json(), { received: id });
  assert.equal(first.headers['hookgate-duplicate'], undefined);
  await settled(id, 'done');

  // The same signed request again (a replay) and a fresh signature of the same id (a provider retry).
  assertDuplicate(await b.request(signed(id, body)), id);
  assertDuplicate(await b.request(signed(id, body)), id);
  assertDuplicate(await a.request(signed(id, body)), id);
  assert.equal(forwarded(id), 1, 'forwarded exactly once');

  // A different message is not affected.
  const other = `msg_${randomUUID()}`;
  assert.equal((await b.request(signed(other, body))).status, 200);
  assert.equal(forwarded(other), 1);
});

test('a message whose first forward failed is forwarded again on retry (via the other instance)', async () => {
  const id = `msg_${randomUUID()}`;
  const body = JSON.stringify({ type: 'order.created' });
  failIds.add(id);
  const first = await a.request(signed(id, body));
  assert.equal(first.status, 500, 'the upstream failure is passed through');
  await settled(id, null);
  assert.equal(forwarded(id), 1);

  failIds.delete(id);
  const retry = await b.request(signed(id, body));
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.headers['hookgate-duplicate'], undefined);
  assert.equal(forwarded(id), 2, 'the retry was forwarded');
  await settled(id, 'done');

  assertDuplicate(await a.request(signed(id, body)), id);
  assert.equal(forwarded(id), 2);
});

test('while a message is in flight on A, the same id on B gets 409 HG_DUPLICATE_IN_FLIGHT', async () => {
  const id = `hold-${randomUUID()}`;
  const body = '{"slow":true}';
  const pending = a.request(signed(id, body));
  await waitUntil(() => holds.has(id), 10000, 'the held message to reach the upstream');
  const dup = await b.request(signed(id, body));
  assert.equal(dup.status, 409);
  assert.equal(dup.json().error.code, 'HG_DUPLICATE_IN_FLIGHT');
  holds.get(id)!();
  holds.delete(id);
  assert.equal((await pending).status, 200);
  await settled(id, 'done');
  assertDuplicate(await b.request(signed(id, body)), id);
  assert.equal(forwarded(id), 1);
});

test('a bad signature is refused by either instance and claims nothing', async () => {
  const id = `msg_${randomUUID()}`;
  const req = signed(id, '{"x":1}');
  const tampered = { ...req, body: '{"x":2}' };
  for (const g of [a, b]) {
    const r = await g.request(tampered);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json().error.code, 'HG_SIGNATURE_INVALID');
  }
  assert.equal(await redis.get(dedupeKey(id)), null);
  assert.equal((await b.request(req)).status, 200);
  assert.equal(forwarded(id), 1);
});

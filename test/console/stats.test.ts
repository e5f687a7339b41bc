import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RedisStoreLike } from '../../gateway/store/types.js';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { bucketStart, emptyBucket, emptyRoute, LATENCY_MS, LocalStats, mergeInto, percentile, slotOf, windowStarts } from '../../gateway/console/stats.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, waitUntil } from '../support/http.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/redis.js';

type Bucket = { routes: Record<string, { requests: number; errors: number; p50Ms: number | null; p99Ms: number | null }>; deliveries: { succeeded: number; failed: number } };

const ROUTES = `
routes:
  - name: hello
    path: /hello
    respond: { status: 200, body: { ok: true } }
  - name: boom
    path: /boom
    respond: { status: 503 }
`;

function sum(buckets: Bucket[], route: string, field: 'requests' | 'errors'): number {
  return buckets.reduce((s, b) => s + (b.routes[route]?.[field] ?? 0), 0);
}

describe('traffic stats', () => {
  it('percentiles come from the fixed histogram; histograms merge by adding', () => {
    assert.equal(slotOf(0.3), 0);
    assert.equal(slotOf(1), 0);
    assert.equal(slotOf(1.5), 1);
    assert.equal(slotOf(99_999), LATENCY_MS.length);
    const a = emptyRoute();
    for (let i = 0; i < 99; i++) a.hist[slotOf(3)]!++; // (2, 5]
    a.hist[slotOf(700)]!++; // (500, 1000]
    assert.ok(percentile(a.hist, 0.5)! > 2 && percentile(a.hist, 0.5)! <= 5);
    assert.ok(percentile(a.hist, 0.995)! > 500 && percentile(a.hist, 0.995)! <= 1000);
    assert.equal(percentile(emptyRoute().hist, 0.5), null);
    const x = emptyBucket();
    const y = emptyBucket();
    x.routes.set('r', a);
    const b = emptyRoute();
    b.requests = 2;
    b.hist[slotOf(700)] = 2;
    y.routes.set('r', b);
    y.succeeded = 3;
    mergeInto(x, y);
    assert.equal(x.routes.get('r')!.hist[slotOf(700)], 3);
    assert.equal(x.succeeded, 3);
  });

  it('buckets are 10 s wide, kept for an hour; the window ends with the current one', () => {
    let now = Date.parse('2026-12-04T01:00:05Z');
    const local = new LocalStats(() => now);
    local.observe('r', 200, 5);
    now += 10_000;
    local.observe('r', 500, 5);
    assert.equal(local.buckets.size, 2);
    assert.equal(local.buckets.get(bucketStart(now))!.routes.get('r')!.errors, 1);
    now += 3600_000;
    local.observe('r', 200, 5);
    assert.equal(local.buckets.size, 1, 'buckets older than an hour are dropped');
    const w = windowStarts(now, 1);
    assert.equal(w.length, 6);
    assert.equal(w.at(-1), bucketStart(now));
    assert.equal(windowStarts(now, 60).length, 360);
  });

  describe('GET /admin/stats', () => {
    const prefix = testPrefix('console-stats');
    const started: TestGateway[] = [];
    after(async () => {
      for (const g of started) await g.stop();
      await deleteKeys(prefix);
    });

    it('memory store: this process, with requests, errors, latency and deliveries', async () => {
      const up = await startUpstream();
      try {
        const g = await startGateway(`
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints: [ { id: rx, url: "${up.url}/in", events: ["*"] } ]
${ROUTES}
  - name: events
    path: /events
    methods: [POST]
    publish: {}
`, { services: createDeliveryService });
        started.push(g);
        for (let i = 0; i < 3; i++) await g.request({ method: 'GET', path: '/hello' });
        await g.request({ method: 'GET', path: '/boom' });
        const pub = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'a.b', data: {} }) });
        assert.equal(pub.status, 202);
        // Delivered in the log means the engine has counted the attempt (it counts before recording).
        const id = pub.json().id as string;
        await waitUntil(async () => (await g.admin('GET', `/admin/messages/${id}`)).json().deliveries?.rx?.status === 'delivered', 10000, 'delivered');
        await g.gw.console!.stats.flush();
        const r = await g.admin('GET', '/admin/stats?minutes=5');
        assert.equal(r.status, 200, r.text);
        const body = r.json();
        assert.equal(body.bucketSec, 10);
        assert.equal(body.shared, false);
        assert.equal(body.buckets.length, 30);
        assert.equal(sum(body.buckets, 'hello', 'requests'), 3);
        assert.equal(sum(body.buckets, 'hello', 'errors'), 0);
        assert.equal(sum(body.buckets, 'boom', 'errors'), 1);
        const withHello = body.buckets.find((b: Bucket) => b.routes.hello);
        assert.equal(typeof withHello.routes.hello.p50Ms, 'number');
        assert.equal(body.buckets.reduce((s: number, b: Bucket) => s + b.deliveries.succeeded, 0), 1);
        assert.ok(body.buckets.some((b: { queue: unknown }) => b.queue !== null), 'the queue depth is sampled');
        assert.equal((await g.admin('GET', '/admin/stats?minutes=61')).json().error.code, 'HG_ADMIN_BAD_INPUT');
      } finally {
        await up.close();
      }
    });

    it('redis store: two instances add their counts into the same buckets', async () => {
      const yaml = `store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }\n${ROUTES}`;
      const g1 = await startGateway(yaml);
      started.push(g1);
      const g2 = await startGateway(yaml);
      started.push(g2);
      // No timer flushes behind the test's back: it flushes by hand.
      for (const g of [g1, g2]) await g.gw.console!.stats.stop();
      for (let i = 0; i < 4; i++) await g1.request({ method: 'GET', path: '/hello' });
      for (let i = 0; i < 3; i++) await g2.request({ method: 'GET', path: '/hello' });
      await g2.request({ method: 'GET', path: '/boom' });
      // Before g2 flushes, g1 sees only its own and whatever g2 wrote.
      await g1.gw.console!.stats.flush();
      const before = (await g1.admin('GET', '/admin/stats?minutes=2')).json();
      assert.equal(before.shared, true);
      assert.equal(sum(before.buckets, 'hello', 'requests'), 4);
      await g2.gw.console!.stats.flush();
      for (const g of [g1, g2]) {
        const s = (await g.admin('GET', '/admin/stats?minutes=2')).json();
        assert.equal(sum(s.buckets, 'hello', 'requests'), 7, 'merged counts');
        assert.equal(sum(s.buckets, 'boom', 'requests'), 1);
        assert.equal(sum(s.buckets, 'boom', 'errors'), 1);
        assert.ok(s.buckets.some((b: Bucket) => typeof b.routes.hello?.p99Ms === 'number'), 'percentiles from the merged histogram');
      }
      // One hash per bucket, each with a TTL a little over the hour it is read for.
      const redis = (g1.gw.store as RedisStoreLike).redis;
      const keys = await redis.keys(`${prefix}console:stats:*`);
      assert.ok(keys.length >= 1 && keys.length <= 2, `${keys.length} bucket keys`);
      for (const k of keys) assert.ok((await redis.ttl(k)) > 3600, k);
      // Unflushed counts of the reader are added on top of what Redis holds.
      await g1.request({ method: 'GET', path: '/hello' });
      assert.equal(sum((await g1.admin('GET', '/admin/stats?minutes=2')).json().buckets, 'hello', 'requests'), 8);
      assert.equal(sum((await g2.admin('GET', '/admin/stats?minutes=2')).json().buckets, 'hello', 'requests'), 7);
    });
  });
});

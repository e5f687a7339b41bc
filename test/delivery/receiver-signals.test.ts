/**
 * Receiver signals on real loopback receivers: 410 disables; 429 and 503 with Retry-After hold
 * every delivery to the endpoint until then (across instances on Redis); `webhook-delivery:
 * disable` disables the endpoint and `webhook-delivery: abort-message` dead-letters the message.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { waitUntil } from '../support/http.js';
import { count, deleteHealthKeys, DRIVERS, healthGateway, healthPrefix, SECRET } from './health-env.js';
import { openResources } from './resources.js';

const { onClose, receiver } = openResources();
after(() => deleteHealthKeys());

const endpoint = (url: string) => `  endpoints:
    - { id: ep, url: "${url}/hook", secret: "${SECRET}" }`;

for (const driver of DRIVERS) {
  describe(`receiver signals (${driver} store)`, () => {
    for (const status of [429, 503]) {
      test(`${status} with Retry-After holds every delivery to the endpoint until then`, async () => {
        const times: number[] = [];
        const rx = await receiver((_q, res) => {
          times.push(Date.now());
          if (times.length === 1) return void res.writeHead(status, { 'retry-after': '1' }).end();
          res.writeHead(200).end();
        });
        // On Redis two instances share the queue: whichever takes the next job holds it.
        const prefix = driver === 'redis' ? healthPrefix('signals') : undefined;
        const egress = `  retry: { schedule: [0, "1h"] }\n${endpoint(rx.url)}`;
        const a = await healthGateway(driver, egress, prefix);
        onClose(() => a.stop());
        if (driver === 'redis') {
          const b = await healthGateway(driver, egress, prefix);
          onClose(() => b.stop());
        }
        const m1 = await a.publish({ n: 1 });
        await waitUntil(async () => (await a.attempts(m1)).length === 1, 10_000, 'the first attempt');
        const h = await a.health();
        assert.equal(h.state, 'healthy', 'a slow-down is not a breaker state');
        const until = Date.parse(h.slowedUntil!);
        assert.ok(until > (await a.attempts(m1))[0]!.at, 'slowed until after the answer');
        const later = await Promise.all([a.publish({ n: 2 }), a.publish({ n: 3 })]);
        await waitUntil(async () => (await Promise.all(later.map((m) => a.status(m)))).every((s) => s === 'delivered'), 10_000, 'the held deliveries');
        for (const m of later) {
          const att = await a.attempts(m);
          assert.equal(att.length, 1, 'held without an attempt');
          assert.ok(att[0]!.at >= until, `delivered ${until - att[0]!.at} ms before the endpoint's Retry-After`);
        }
        assert.equal(await a.status(m1), 'pending', 'the answered delivery waits for its own retry');
      });
    }

    test('410 disables the endpoint for good (never auto-recovered)', async () => {
      const rx = await receiver((_q, res) => void res.writeHead(410).end());
      const h = await healthGateway(driver, `  retry: { schedule: [0, "20ms", "20ms"] }\n  breaker: { probeEvery: "100ms" }\n${endpoint(rx.url)}`);
      onClose(() => h.stop());
      const m = await h.publish();
      await waitUntil(async () => (await h.status(m)) === 'failed', 10_000, 'failed');
      assert.equal((await h.attempts(m)).length, 1, 'no retry after a 410');
      const health = await h.health();
      assert.equal(health.state, 'disabled');
      assert.equal(health.reason, 'the endpoint answered 410 Gone');
      assert.equal(health.nextProbeAt, null, 'not probed back');
      await (h.engine as unknown as { recovery: { tick(): Promise<void> } }).recovery.tick();
      assert.equal(rx.requests.length, 1, 'auto-recovery leaves it alone');
    });

    test('webhook-delivery: disable disables the endpoint (after delivering a 2xx, or failing the message)', async () => {
      const rx = await receiver((q, res) => {
        const ok = JSON.parse(q.body.toString()).data.ok;
        res.writeHead(ok ? 200 : 500, { 'webhook-delivery': 'disable' }).end();
      });
      for (const ok of [true, false]) {
        const h = await healthGateway(driver, `  retry: { schedule: [0, "20ms", "20ms"] }\n${endpoint(rx.url)}`);
        onClose(() => h.stop());
        const m = await h.publish({ ok });
        await waitUntil(() => count(h.events, 'endpoint.disabled') === 1, 10_000, 'endpoint.disabled');
        await waitUntil(async () => (await h.status(m)) !== 'pending', 10_000, 'settled');
        assert.equal(await h.status(m), ok ? 'delivered' : 'failed');
        assert.equal((await h.attempts(m)).length, 1);
        const health = await h.health();
        assert.equal(health.state, 'disabled');
        assert.match(health.reason ?? '', /webhook-delivery: disable/);
        assert.equal(health.nextProbeAt, null, 'the receiver asked: not probed back');
        await h.stop();
      }
    });

    test('webhook-delivery: abort-message dead-letters the message; the endpoint stays healthy', async () => {
      const rx = await receiver((q, res) => {
        if (JSON.parse(q.body.toString()).data.abort) return void res.writeHead(422, { 'webhook-delivery': 'abort-message' }).end();
        res.writeHead(200).end();
      });
      const h = await healthGateway(driver, `  retry: { schedule: [0, "20ms", "20ms", "20ms"] }\n  breaker: { consecutiveFailures: 1 }\n${endpoint(rx.url)}`);
      onClose(() => h.stop());
      const m = await h.publish({ abort: true });
      await waitUntil(async () => (await h.status(m)) === 'failed', 10_000, 'failed');
      const att = await h.attempts(m);
      assert.equal(att.length, 1, 'no retries');
      assert.match(att[0]!.error ?? '', /abort-message/);
      assert.ok(h.events.some((e) => e.type === 'message.attempt.exhausted' && e.data.msgId === m));
      assert.equal((await h.health()).state, 'healthy', 'an abort does not count toward the breaker');
      const ok = await h.publish({ abort: false });
      await waitUntil(async () => (await h.status(ok)) === 'delivered', 10_000, 'the next message is delivered');
    });
  });
}

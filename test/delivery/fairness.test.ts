/**
 * No noisy neighbour, end to end through the engine: tenant A queues 20,000 events for a slow
 * endpoint, then tenant B publishes 50. B's 50 are all delivered while A's backlog is still
 * draining (the lanes are served in turn), on both stores. The same with B's publish→delivery
 * p99 measured: bench scenario 9.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { DeliveryEngine } from '../../gateway/delivery/engine.js';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway } from '../support/gateway.js';
import { startUpstream, waitUntil } from '../support/http.js';
import { testStores } from '../support/redis.js';

const stores = testStores('fairness');
after(() => stores.cleanUp());

const NOISY = 20_000;
const QUIET = 50;

for (const driver of ['memory', 'redis'] as const) {
  describe(`fair queueing between tenants (${driver} store)`, () => {
    it(`a tenant's ${NOISY.toLocaleString('en')}-event backlog to a slow endpoint does not hold back another tenant's ${QUIET}`, async () => {
      let noisyDelivered = 0;
      let quietDelivered = 0;
      let noisyAtQuietDone = -1;
      const rx = await startUpstream((req, res) => {
        if (req.url === '/slow') {
          // A slow receiver: 20 ms an answer, 4 at a time (the endpoint's maxInFlight).
          setTimeout(() => {
            noisyDelivered++;
            res.end('ok');
          }, 20);
          return;
        }
        quietDelivered++;
        if (quietDelivered === QUIET) noisyAtQuietDone = noisyDelivered;
        res.end('ok');
      });
      const gw = await startGateway(
        `
${stores.yaml(driver)}
tenants:
  - { id: noisy }
  - { id: quiet }
egress:
  allowCidrs: ["127.0.0.1/32"]
  lockDurationMs: 5000
  endpoints:
    - { id: noisy-ep, tenant: noisy, url: "${rx.url}/slow", policy: { maxInFlight: 4 } }
    - { id: quiet-ep, tenant: quiet, url: "${rx.url}/quick" }
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
`,
        { services: createDeliveryService },
      );
      try {
        const engine = (gw.gw.service as unknown as { engine: DeliveryEngine }).engine;
        // The noisy tenant's burst, 500 publishes at a time (in process: the HTTP side is not the point here).
        for (let i = 0; i < NOISY; i += 500) {
          await Promise.all(Array.from({ length: Math.min(500, NOISY - i) }, (_, j) => engine.publish({ type: 'order.created', data: { n: i + j }, tenant: 'noisy' })));
        }
        const backlog = NOISY - noisyDelivered;
        assert.ok(backlog > NOISY / 2, `the noisy backlog is there when the quiet tenant publishes (${backlog} left)`);
        for (let i = 0; i < QUIET; i++) {
          const r = await gw.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'order.created', data: { n: i }, tenant: 'quiet' }) });
          assert.equal(r.status, 202, r.text);
        }
        await waitUntil(() => quietDelivered >= QUIET, 60_000, `the quiet tenant's ${QUIET} deliveries`);
        assert.equal(quietDelivered, QUIET);
        assert.ok(noisyAtQuietDone < NOISY / 2, `the quiet tenant was served while the noisy backlog drained (noisy delivered ${noisyAtQuietDone} of ${NOISY} by then)`);
        const scrape = (await gw.admin('GET', '/metrics')).text;
        const waiting = Number(/^hookgate_queue_depth\{state="waiting"\} (\S+)$/m.exec(scrape)?.[1]);
        const delayed = Number(/^hookgate_queue_depth\{state="delayed"\} (\S+)$/m.exec(scrape)?.[1]);
        assert.ok(waiting + delayed > 0, `hookgate_queue_depth shows the backlog:\n${scrape.split('\n').filter((l) => l.startsWith('hookgate_queue')).join('\n')}`);
        assert.match(scrape, /^hookgate_queue_depth\{state="failed"\} 0$/m);
        assert.ok(Number(/^hookgate_delivery_lag_seconds\{tenant="noisy"\} (\S+)$/m.exec(scrape)?.[1]) > 0, 'hookgate_delivery_lag_seconds{tenant="noisy"} > 0');
        assert.match(scrape, /^hookgate_delivery_lag_seconds\{tenant="default"\} /m, 'every tenant has a lag series');
        const depth = await engine.queueDepth();
        assert.ok(depth.waiting + depth.delayed > 0, 'the noisy backlog is still queued');
        assert.ok((depth.lagSeconds.noisy ?? 0) > 0, 'the noisy tenant shows lag');
        // The quiet tenant's last settle may still be on its way: some milliseconds at most.
        assert.ok((depth.lagSeconds.quiet ?? -1) >= 0 && depth.lagSeconds.quiet! < depth.lagSeconds.noisy!, `the quiet tenant lags less (${depth.lagSeconds.quiet} s vs ${depth.lagSeconds.noisy} s)`);
      } finally {
        await gw.stop();
        await rx.close();
      }
    });
  });
}

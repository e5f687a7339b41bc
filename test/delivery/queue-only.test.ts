/**
 * `egress.concurrency: 0`: an instance that accepts and queues but never delivers. On Redis
 * another instance on the same prefix delivers what it queued; on the memory store, where nobody
 * else could, it is a located config error.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { ConfigError } from '../../gateway/errors.js';
import { startGateway } from '../support/gateway.js';
import { startUpstream, waitUntil } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';
import { compileText } from '../support/snapshot.js';

const prefix = testPrefix('queue-only');
after(() => deleteKeys(prefix));

const config = (rxUrl: string, concurrency: number) => `
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
egress:
  allowCidrs: ["127.0.0.1/32"]
  concurrency: ${concurrency}
  endpoints:
    - { id: ep, url: "${rxUrl}/hook" }
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
`;

describe('queue-only instances (egress.concurrency: 0)', () => {
  it('queues without delivering; an instance with workers on the same Redis delivers it all', async () => {
    const rx = await startUpstream();
    const queuer = await startGateway(config(rx.url, 0), { services: createDeliveryService });
    let worker: Awaited<ReturnType<typeof startGateway>> | undefined;
    try {
      for (let i = 0; i < 20; i++) {
        const r = await queuer.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'a.b', data: { i } }) });
        assert.equal(r.status, 202, r.text);
      }
      const depth = (await queuer.admin('GET', '/metrics')).text;
      assert.match(depth, /^hookgate_queue_depth\{state="waiting"\} 20$/m, 'all 20 wait in the queue');
      assert.equal(rx.requests.length, 0, 'the queue-only instance delivered nothing');
      worker = await startGateway(config(rx.url, 16), { services: createDeliveryService });
      await waitUntil(() => rx.requests.length >= 20, 15000, 'the worker instance delivers the 20');
      assert.equal(new Set(rx.requests.map((r) => r.headers['webhook-id'])).size, 20);
    } finally {
      await worker?.stop();
      await queuer.stop();
      await rx.close();
    }
  });

  it('is a located config error on the memory store', async () => {
    await assert.rejects(compileText('store: { driver: memory }\negress:\n  concurrency: 0\n'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /gateway\.yaml:3 at egress\.concurrency/);
      assert.match(err.message, /needs store\.driver: redis/);
      return true;
    });
  });
});

/**
 * The admin API while Redis is down: 503 HG_STORE_UNAVAILABLE with Retry-After (not 500), no
 * crash, and the same calls work again once Redis is back. A private redis-server on a free
 * port, stopped by pid mid-test (the shared Redis is never touched).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isStoreOutage } from '../../gateway/store/redis-connection.js';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, waitUntil, type HttpResult, type TestUpstream } from '../support/http.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';

describe('admin API during a Redis outage', () => {
  it('answers 503 HG_STORE_UNAVAILABLE with Retry-After while Redis is down, and works again after it is back', async () => {
    let redis: PrivateRedis | undefined;
    let g: TestGateway | undefined;
    let up: TestUpstream | undefined;
    let down = false;
    try {
      redis = await startRedisServer();
      up = await startUpstream();
      g = await startGateway(
        `
store: { driver: redis, url: "${redis.url}", prefix: "hgoutage:" }
egress:
  allowCidrs: ["127.0.0.1/32"]
  lockDurationMs: 2000
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
`,
        { services: createDeliveryService },
      );
      const admin = g.admin;
      const calls: [string, string, () => unknown][] = [
        ['GET', '/admin/endpoints', () => undefined],
        ['GET', '/admin/messages', () => undefined],
        ['POST', '/admin/endpoints', () => ({ url: `${up!.url}/hook`, events: ['x.*'] })],
        ['POST', '/admin/messages/retry', () => ({ status: 'failed', since: '2026-01-01T00:00:00Z', dryRun: true })],
        ['GET', '/admin/event-types', () => undefined],
      ];
      const created = await admin('POST', '/admin/endpoints', { id: 'before', url: `${up.url}/hook`, events: ['x.*'] });
      assert.equal(created.status, 201, created.text);

      await redis.stop();
      down = true;
      for (const [method, path, body] of calls) {
        // The first call after the kill may still see the connection as open: poll until it sees the outage.
        let r: HttpResult | undefined;
        await waitUntil(async () => (r = await admin(method, path, body())).status !== 200 && r.status !== 201, 15000, `${method} ${path} to see the outage`);
        assert.equal(r!.status, 503, `${method} ${path}: ${r!.text}`);
        assert.equal(r!.json().error.code, 'HG_STORE_UNAVAILABLE', `${method} ${path}`);
        assert.equal(r!.json().error.message, 'the store is unavailable');
        assert.equal(r!.headers['retry-after'], '5', `${method} ${path}: Retry-After`);
      }
      const get = await admin('GET', '/admin/endpoints/before');
      assert.equal(get.status, 503, get.text);
      const logged = g.log.lines.filter((l) => l.code === 'HG_STORE_UNAVAILABLE' && /admin call failed/.test(l.msg));
      assert.ok(logged.length >= calls.length, 'each refused call is logged as a store outage');
      assert.ok(!g.log.lines.some((l) => l.msg === 'admin handler failed'), 'no outage was logged as a handler bug (500)');
      assert.equal((await g.request({ path: '/healthz' })).status, 200, 'the gateway is up');

      await redis.restart();
      down = false;
      await waitUntil(async () => (await admin('GET', '/admin/endpoints')).status === 200, 15000, 'GET /admin/endpoints after Redis is back');
      const again = await admin('POST', '/admin/endpoints', { id: 'after', url: `${up.url}/hook`, events: ['x.*'] });
      assert.equal(again.status, 201, again.text);
      const list = await admin('GET', '/admin/endpoints');
      assert.deepEqual(list.json().endpoints.map((e: { id: string }) => e.id), ['after'], 'the restarted Redis kept no data; the new endpoint is there');
      const msgs = await admin('GET', '/admin/messages');
      assert.equal(msgs.status, 200, msgs.text);
      const retry = await admin('POST', '/admin/messages/retry', { status: 'failed', since: '2026-01-01T00:00:00Z', dryRun: true });
      assert.deepEqual([retry.status, retry.json().count], [200, 0], retry.text);
    } finally {
      // Redis up again first, so the gateway's queue stops cleanly.
      if (down) await redis?.restart().catch(() => {});
      await g?.stop();
      await redis?.stop();
      await up?.close();
    }
  });
});

describe('isStoreOutage', () => {
  it('tells what ioredis rejects with while Redis is away from bugs and bad commands', () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    for (const e of [
      new Error('Connection is closed.'),
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      Object.assign(new Error('Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.'), { name: 'MaxRetriesPerRequestError' }),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      reply('LOADING Redis is loading the dataset in memory'),
      reply('MASTERDOWN Link with MASTER is down'),
    ]) assert.equal(isStoreOutage(e), true, e.message);
    for (const e of [new TypeError("Cannot read properties of undefined (reading 'id')"), reply('WRONGTYPE Operation against a key holding the wrong kind of value'), reply('ERR syntax error'), 'Connection is closed.', undefined]) {
      assert.equal(isStoreOutage(e), false, String(e));
    }
  });
});

/**
 * RedisConnections: readiness is every Redis connection hookgate opened, each ready (a Cluster
 * client with its slots); a connection counts from its start until it ends. Against real Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisConnections } from '../gateway/store/redis-connections.js';
import { RedisStore } from '../gateway/store/redis.js';
import { waitUntil } from './support/http.js';
import { startGatedProxy, type GatedProxy } from './support/gated-proxy.js';
import { startRedisServer, type PrivateRedis } from './support/redis-server.js';
import { RedisClusterTopology } from './support/redis-topology.js';

describe('RedisConnections', () => {
  let redis: PrivateRedis;
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await redis?.stop();
  });

  test('names each connection short of ready, and forgets one once it ends', async () => {
    const gate = await startGatedProxy(redis.port, 1);
    const conns = new RedisConnections({ url: gate.url });
    try {
      const first = conns.connect('fail-fast', 'first');
      await waitUntil(() => first.status === 'ready', 10000, 'the first connection');
      assert.deepEqual(conns.notReady(), []);
      const second = conns.connect('blocking', 'second');
      second.on('error', () => {});
      await waitUntil(() => gate.accepted >= 2, 10000, 'the second connection to be accepted (and held)');
      assert.deepEqual(conns.notReady().map((s) => s.split(' ')[0]), ['second']);
      assert.throws(() => conns.checkReady(), /redis connection not ready: second (connecting|connect)\b/);
      gate.open();
      await waitUntil(() => conns.notReady().length === 0, 10000, 'the held connection to turn ready');
      assert.equal(conns.size, 2);
      second.disconnect();
      await waitUntil(() => conns.size === 1, 5000, 'the disconnected connection to be forgotten');
      assert.deepEqual(conns.notReady(), [], 'a connection closed on purpose does not keep readiness down');
      await first.quit();
      await waitUntil(() => conns.size === 0, 5000, 'the quit connection to be forgotten');
    } finally {
      await gate.close();
    }
  });

  test("RedisStore.ping (what /readyz asks) fails while any connection it made is not ready", async () => {
    const gate = await startGatedProxy(redis.port, 1);
    const store = new RedisStore({ url: gate.url, prefix: 'hgconns:' });
    try {
      await store.waitReady(10000);
      await store.ping();
      const worker = store.connect('blocking', 'delivery queue worker');
      worker.on('error', () => {});
      await assert.rejects(store.ping(), /delivery queue worker/);
      gate.open();
      await waitUntil(async () => store.ping().then(() => true, () => false), 10000, 'ping to pass once the worker is ready');
      worker.disconnect();
    } finally {
      await store.close();
      await gate.close();
    }
  });
});

describe('RedisConnections on Cluster', { timeout: 60_000 }, () => {
  let topo: RedisClusterTopology | undefined;
  before(async () => {
    topo = await RedisClusterTopology.start({ replicas: 0 });
  });
  after(async () => {
    await topo?.stop();
  });

  test('a Cluster client counts as ready only once it has loaded the slots', async () => {
    const conns = new RedisConnections({ cluster: { nodes: topo!.startupNodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })) } });
    const c = conns.connect('fail-fast', 'cluster store');
    c.on('error', () => {});
    try {
      // Synchronously after the start, ioredis has not asked any node for the slots yet.
      assert.match(conns.notReady().join(), /^cluster store (connecting|connect|wait)$/);
      await waitUntil(() => conns.notReady().length === 0, 20000, 'the Cluster client to be ready');
      assert.ok((c as unknown as { slots: unknown[] }).slots.length > 0, 'ready means the slot map is loaded');
      assert.equal(await c.set('{hgconns}:k', 'v', 'PX', 1000), 'OK', 'a command right after readiness succeeds');
    } finally {
      c.disconnect();
    }
  });
});

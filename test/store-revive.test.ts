/**
 * A Redis connection that ioredis ends on its own (its connector disconnected during a reconnect,
 * as Sentinel's failover detector does on +switch-master) is connected again; one hookgate closes
 * stays closed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisConnections } from '../gateway/store/redis-connections.js';
import { connectRedis } from '../gateway/store/redis-topology.js';
import { waitUntil } from './support/http.js';
import { REDIS_URL } from './support/redis.js';

/** What the failover detector does: disconnect the connector itself, bypassing the client. */
function disconnectConnectorOnNextConnect(r: Redis): Promise<void> {
  return new Promise((resolve) =>
    r.once('connecting', () => {
      (r as unknown as { connector: { disconnect(): void } }).connector.disconnect();
      resolve();
    }),
  );
}

test('a connection ended by its connector during a reconnect is connected again', async () => {
  const r = connectRedis({ url: REDIS_URL }, 'fail-fast');
  r.on('error', () => {}); // the ended connect's "Connection is closed.", expected here
  try {
    await waitUntil(() => r.status === 'ready', 5000, 'the first connect');
    const ends: number[] = [];
    r.on('end', () => ends.push(Date.now()));
    const raced = disconnectConnectorOnNextConnect(r);
    r.disconnect(true);
    await raced;
    await waitUntil(() => ends.length > 0, 5000, 'ioredis to end the connection (the race this guards against)');
    await waitUntil(() => r.status === 'ready', 5000, 'the connection to be revived');
    assert.equal(await r.ping(), 'PONG');
  } finally {
    r.disconnect();
  }
});

test('quit and disconnect() close a connection for good', async () => {
  for (const close of [(r: Redis) => r.quit().then(() => undefined), (r: Redis) => r.disconnect()]) {
    const r = connectRedis({ url: REDIS_URL }, 'fail-fast');
    await waitUntil(() => r.status === 'ready', 5000, 'connect');
    const ended = new Promise((resolve) => r.once('end', resolve));
    await close(r);
    await ended;
    // A revival would run 200 ms after 'end': a connect attempt shows as 'connecting' first.
    const reopened = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 1000);
      r.once('connecting', () => (clearTimeout(t), resolve(true)));
    });
    assert.equal(reopened, false, 'no reconnect after an intentional close');
    assert.equal(r.status, 'end');
  }
});

test('readiness keeps counting a connection ioredis ended on its own until it is back; one closed on purpose leaves it', async () => {
  const conns = new RedisConnections({ url: REDIS_URL });
  const r = conns.connect('fail-fast', 'store');
  r.on('error', () => {});
  await waitUntil(() => r.status === 'ready', 5000, 'the first connect');
  let seenEnded: string[] | undefined;
  r.once('end', () => (seenEnded = conns.notReady()));
  const raced = disconnectConnectorOnNextConnect(r);
  r.disconnect(true);
  await raced;
  await waitUntil(() => seenEnded !== undefined, 5000, 'the connection to end');
  assert.deepEqual(seenEnded, ['store end'], 'not ready while ended, still counted');
  await waitUntil(() => conns.notReady().length === 0, 5000, 'ready again once revived');
  assert.equal(conns.size, 1);
  await r.quit();
  await waitUntil(() => conns.size === 0, 5000, 'a quit connection no longer counts');
});

import type { Redis } from 'ioredis';

/** How soon a connection that ended without being closed is connected again. */
const REVIVE_AFTER_MS = 200;
/** Whether each revived connection was closed on purpose. */
const closedOnPurpose = new WeakMap<Redis, () => boolean>();

/** True when `redis` ended for good: closed on purpose, or a client this module does not revive. */
export function endedForGood(redis: Redis): boolean {
  return closedOnPurpose.get(redis)?.() ?? true;
}

/**
 * Connects `redis` again whenever it ends without hookgate having closed it.
 *
 * ioredis ends a connection for good when its connector is disconnected while a (re)connect is
 * under way: the connect fails with "Connection is closed." and the client never retries. With
 * Sentinel, the failover detector does exactly that when the sentinels' `+switch-master` arrives
 * while the client is still reconnecting after the primary died, which left an instance refusing
 * every request after a failover although the new primary was up (seen in the Sentinel failover
 * test: the store connection stayed in `end`, `/readyz` said "redis end"). Only `quit()` and
 * `disconnect()` (without `reconnect`) called on the client mean it is closed on purpose.
 */
export function reviveOnUnexpectedEnd(redis: Redis): Redis {
  let closing = false;
  closedOnPurpose.set(redis, () => closing);
  const quit = redis.quit.bind(redis);
  const disconnect = redis.disconnect.bind(redis);
  redis.quit = ((...args: Parameters<Redis['quit']>) => {
    closing = true;
    return quit(...args);
  }) as Redis['quit'];
  redis.disconnect = (reconnect = false) => {
    if (!reconnect) closing = true;
    disconnect(reconnect);
  };
  redis.on('end', () => {
    if (closing) return;
    const t = setTimeout(() => {
      if (!closing && redis.status === 'end') redis.connect().catch(() => {});
    }, REVIVE_AFTER_MS);
    t.unref();
  });
  return redis;
}

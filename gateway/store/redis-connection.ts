import type { RedisOptions } from 'ioredis';

/**
 * What a Redis connection is for, which decides how it behaves while Redis is away:
 * - `fail-fast`: commands fail at once while offline (no offline queue, one retry), so the caller
 *   can answer 503 or fall back instead of hanging. The store and the queue producer.
 * - `blocking`: commands wait for the reconnect; BullMQ requires `maxRetriesPerRequest: null`
 *   for a worker's connection, whose blocking pops must not be cut short.
 */
export type RedisConnectionKind = 'fail-fast' | 'blocking';

/**
 * The ioredis options of every hookgate connection. All of them reconnect forever, backing off
 * up to 2 s between attempts.
 */
export function redisConnectionOptions(kind: RedisConnectionKind): RedisOptions {
  const retryStrategy = (times: number): number => Math.min(times * 100, 2000);
  return kind === 'blocking'
    ? { maxRetriesPerRequest: null, retryStrategy }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy };
}

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

/** Socket errors of a connection to a Redis that is away. */
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** What ioredis rejects a command with while it has no connection (fail-fast connections). */
const OUTAGE_MESSAGES = [
  /^Connection is closed\.?$/, /enableOfflineQueue options is false/, /^Reached the max retries per request limit/, /^connect E[A-Z]+/, /^Command timed out$/, /^Socket timeout/,
  // A Cluster client during a failover or before it knows the slots.
  /^Failed to refresh slots cache/, /^None of startup nodes is available/, /^Cluster isn't ready/, /^Too many Cluster redirections/, /^CLUSTERDOWN\b/,
  // A Sentinel client between primaries.
  /^All sentinels are unreachable/,
];
/**
 * Replies of a Redis that is up but cannot serve yet (loading its data, no primary, busy script),
 * a Cluster mid-failover (slots moving, a node that just lost its primary role), or a demoted
 * primary refusing writes.
 */
const OUTAGE_REPLIES = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|MOVED|ASK|READONLY|NOREPLICAS)\b/;

/**
 * True when `err` says Redis is unreachable or not serving (a store outage, answered 503 with
 * Retry-After), as opposed to a bug or a bad command (500).
 */
export function isStoreOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && OUTAGE_CODES.has(code)) return true;
  if (err.name === 'ReplyError') return OUTAGE_REPLIES.test(err.message);
  return OUTAGE_MESSAGES.some((re) => re.test(err.message));
}

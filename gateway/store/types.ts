import type { Redis } from 'ioredis';

/** What every store does. Keys passed in are logical; each implementation applies its own prefix. */
export interface StoreOperations {
  /** The key prefix applied to every key (redis) or '' (memory). */
  readonly prefix: string;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets only when absent. Returns true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Increments and returns the new value; the TTL is set when the key is created. */
  incr(key: string, ttlMs: number): Promise<number>;
  /** Resolves when the store answers; rejects otherwise. Used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The in-process store: not shared, not durable. */
export interface MemoryStoreLike extends StoreOperations {
  readonly driver: 'memory';
}

/** The Redis store. It also lends its connection to components that speak Redis themselves. */
export interface RedisStoreLike extends StoreOperations {
  readonly driver: 'redis';
  readonly url: string;
  /** The shared command connection (fail-fast: no offline queue). */
  readonly redis: Redis;
  /** Resolves once connected, or rejects after `timeoutMs`. */
  waitReady(timeoutMs?: number): Promise<void>;
}

/**
 * The one store type. `memory` is the default; `redis` shares state between instances.
 * Narrow on `driver` (`store.driver === 'redis'`) to reach the Redis connection.
 */
export type Store = MemoryStoreLike | RedisStoreLike;

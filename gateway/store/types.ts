import type { Redis } from 'ioredis';
import type { RedisConnectionKind } from './redis-connection.js';

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
  /**
   * Resolves when the store answers and (redis) every Redis connection hookgate opened through it
   * is ready; rejects otherwise. `/readyz` asks only this.
   */
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
  /** Where Redis is, for logs: a URL without its password, or the Cluster/Sentinel nodes. */
  readonly url: string;
  /** The shared command connection (fail-fast: no offline queue); a Cluster client on Cluster. */
  readonly redis: Redis;
  /** True on Redis Cluster: keys used together must share a hash tag (see `slottedPrefix`). */
  readonly cluster: boolean;
  /** A new connection to the same Redis (topology, auth, TLS), counted by readiness; `purpose` names it there. */
  connect(kind: RedisConnectionKind, purpose: string, autoPipelining?: boolean): Redis;
  /** `replicated`: acknowledgements wait for a replica ({@link replicated}); `primary`: they do not. */
  readonly durability: 'primary' | 'replicated';
  /** `store.durability: replicated`: waits until one replica has this process's finished writes (else a no-op). */
  replicated(): Promise<void>;
  /** Resolves once connected, or rejects after `timeoutMs`. */
  waitReady(timeoutMs?: number): Promise<void>;
}

/**
 * The one store type. `memory` is the default; `redis` shares state between instances.
 * Narrow on `driver` (`store.driver === 'redis'`) to reach the Redis connection.
 */
export type Store = MemoryStoreLike | RedisStoreLike;

/**
 * The one store interface. `memory` is the default; `redis` shares state between instances.
 * Keys passed in are logical; each implementation applies its own prefix.
 */
export interface Store {
  readonly driver: 'memory' | 'redis';
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

import type { Logger } from 'pino';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import { resolveTarget } from './redis-topology.js';
import type { Store } from './types.js';
import type { StoreConfig as StoreSection } from '../config/types.js';

export type { MemoryStoreLike, RedisStoreLike, Store, StoreOperations } from './types.js';
export { MemoryStore } from './memory.js';
export { RedisStore } from './redis.js';

export { slottedPrefix } from './redis-topology.js';

/** `store` as the config has it; a test may leave out what the schema defaults. */
export type StoreConfig = Pick<StoreSection, 'driver'> & Partial<Omit<StoreSection, 'driver'>>;

/** Opens the configured store; `dir` is the config's folder (a relative `tls.ca` is read from it). */
export function createStore(cfg: StoreConfig, logger?: Logger, dir?: string): Store {
  if (cfg.driver === 'redis') {
    const target = resolveTarget({ prefix: 'hookgate:', durability: 'primary', waitTimeoutMs: 1000, ...cfg } as StoreSection, dir);
    return new RedisStore({ target, prefix: cfg.prefix ?? 'hookgate:', logger, durability: cfg.durability, waitTimeoutMs: cfg.waitTimeoutMs });
  }
  return new MemoryStore();
}

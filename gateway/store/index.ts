import type { Logger } from 'pino';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { Store } from './types.js';

export type { MemoryStoreLike, RedisStoreLike, Store, StoreOperations } from './types.js';
export { MemoryStore } from './memory.js';
export { RedisStore } from './redis.js';

export interface StoreConfig {
  driver: 'memory' | 'redis';
  url?: string;
  prefix?: string;
}

export function createStore(cfg: StoreConfig, logger?: Logger): Store {
  if (cfg.driver === 'redis') {
    return new RedisStore({ url: cfg.url ?? 'redis://127.0.0.1:6379', prefix: cfg.prefix ?? 'hookgate:', logger });
  }
  return new MemoryStore();
}

import { availableParallelism } from 'node:os';
import type { GatewayConfig } from '../config/types.js';
import { Errors } from '../errors.js';

/** `--workers` as given: a positive integer or `auto`; undefined when the value is neither. */
export function parseWorkers(value: string): number | 'auto' | undefined {
  if (value === 'auto') return 'auto';
  return /^[1-9][0-9]{0,3}$/.test(value) ? Number(value) : undefined;
}

/**
 * How many worker processes `hookgate start` runs: the `--workers` flag, else the config's
 * `workers`, else 1; `auto` is one per core (os.availableParallelism()). More than one needs the
 * redis store: the memory store's rate limits, replay windows, dedupe and queues live in one
 * process, and N processes would each enforce their own (N times the limit, duplicates let in).
 */
export function workerCount(config: GatewayConfig, flag?: number | 'auto'): number {
  const want = flag ?? config.workers ?? 1;
  const n = want === 'auto' ? availableParallelism() : want;
  if (n > 1 && config.store.driver !== 'redis') throw Errors.WORKERS_NEED_REDIS(n);
  return n;
}

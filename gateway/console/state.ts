import type { Logger } from 'pino';
import type { ConsoleConfig } from '../config/types.js';
import type { Context } from '../context.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import { ReloadHistory } from './reload-history.js';
import { RequestLog } from './request-log.js';
import { TrafficStats } from './traffic.js';

/** What the console shows that the gateway keeps for it: reloads, recent requests, traffic. */
export class ConsoleState {
  readonly reloads = new ReloadHistory(50);
  readonly requests: RequestLog;
  readonly stats: TrafficStats;

  constructor(config: ConsoleConfig | undefined, metrics: Metrics, store: Store, logger: Logger) {
    this.requests = new RequestLog(sizeOf(config));
    this.stats = new TrafficStats(metrics, store, logger);
  }

  /** The pipeline's observer: one ring slot and a few increments per request. */
  readonly observe = (ctx: Context, route: string, ms: number): void => {
    this.requests.record(ctx, route, ms);
    this.stats.local.observe(route, ctx.status, ms);
  };

  /** A reloaded config's request log size. */
  configure(config: ConsoleConfig | undefined): void {
    this.requests.resize(sizeOf(config));
  }
}

function sizeOf(config: ConsoleConfig | undefined): number {
  return config?.enabled === false ? 0 : config?.requestLog?.size ?? 1000;
}

import { Pool } from 'undici';
import type { UpstreamConfig } from './config/types.js';

/** One target of an upstream: its own undici connection pool and health state. */
export interface Target {
  /** The target URL as configured, without a trailing slash (for logs and `ctx.upstreamTarget`). */
  readonly url: string;
  /** `scheme://host:port`: what the pool connects to. */
  readonly origin: string;
  /** A path prefix from the target URL (`http://h/base` → `/base`), or ''. */
  readonly basePath: string;
  readonly weight: number;
  readonly pool: Pool;
  current: number;
  consecutiveFailures: number;
  ejectedUntil: number;
}

/**
 * An upstream: targets picked by smooth weighted round-robin (nginx's algorithm: even spread, no
 * bursts). A target is ejected for `ejectMs` after `ejectAfterFailures` consecutive connect
 * failures and comes back by itself once that time has passed. One pool per upstream name lives
 * in a compiled snapshot and serves both the proxy and the `deliver` action, so both see the
 * same health state.
 */
export class UpstreamPool {
  readonly targets: Target[];
  /** Deadline for the upstream's response headers, from the moment the request was sent. */
  readonly timeoutMs: number;
  private readonly ejectAfter: number;
  private readonly ejectMs: number;

  constructor(
    readonly name: string,
    cfg: UpstreamConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.timeoutMs = cfg.timeoutMs;
    this.ejectAfter = cfg.ejectAfterFailures;
    this.ejectMs = cfg.ejectMs;
    this.targets = cfg.targets.map((t) => {
      const url = t.url.replace(/\/$/, '');
      const u = new URL(url);
      return {
        url,
        origin: u.origin,
        basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
        weight: t.weight,
        pool: new Pool(u.origin, {
          connections: cfg.maxSockets,
          headersTimeout: cfg.timeoutMs,
          // Idle time between body chunks once the response has started (undici's body timer).
          bodyTimeout: cfg.timeoutMs,
          connectTimeout: Math.min(cfg.timeoutMs, 10_000),
        }),
        current: 0,
        consecutiveFailures: 0,
        ejectedUntil: 0,
      };
    });
  }

  /** Picks the next target; when every target is ejected, the one that comes back soonest. */
  pick(): Target {
    const t = this.now();
    let total = 0;
    let best: Target | undefined;
    for (let i = 0; i < this.targets.length; i++) {
      const x = this.targets[i]!;
      if (x.ejectedUntil > t) continue;
      x.current += x.weight;
      total += x.weight;
      if (!best || x.current > best.current) best = x;
    }
    if (!best) {
      return this.targets.reduce((a, b) => (b.ejectedUntil < a.ejectedUntil ? b : a));
    }
    best.current -= total;
    return best;
  }

  reportSuccess(target: Target): void {
    target.consecutiveFailures = 0;
  }

  /** Counts a connect failure; ejects the target after too many in a row. */
  reportConnectFailure(target: Target): void {
    target.consecutiveFailures++;
    if (target.consecutiveFailures >= this.ejectAfter) {
      target.ejectedUntil = this.now() + this.ejectMs;
      target.consecutiveFailures = 0;
    }
  }

  /** Closes the connection pools once their requests are done (call after the snapshot drained). */
  async close(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.pool.close().catch(() => t.pool.destroy())));
  }
}

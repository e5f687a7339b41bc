import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { parse as parseUrl, type UrlWithStringQuery } from 'node:url';
import type { UpstreamConfig } from './config/types.js';

/** One target of an upstream, with its own keep-alive agent and health state. */
export interface Target {
  readonly url: string;
  /** The target pre-parsed in the legacy shape http-proxy wants, so it is not re-parsed per request. */
  readonly proxyTarget: UrlWithStringQuery;
  readonly weight: number;
  readonly agent: HttpAgent;
  current: number;
  consecutiveFailures: number;
  ejectedUntil: number;
}

/**
 * A set of targets picked by smooth weighted round-robin (nginx's algorithm: even spread, no
 * bursts). A target is ejected for `ejectMs` after `ejectAfterFailures` consecutive connect
 * failures and comes back by itself once that time has passed.
 */
export class Upstream {
  readonly targets: Target[];
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
      const proxyTarget = parseUrl(url);
      const opts = { keepAlive: true, maxSockets: cfg.maxSockets, maxFreeSockets: Math.min(cfg.maxSockets, 256), scheduling: 'lifo' as const };
      return {
        url,
        proxyTarget,
        weight: t.weight ?? 1,
        agent: proxyTarget.protocol === 'https:' ? new HttpsAgent(opts) : new HttpAgent(opts),
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

  close(): void {
    for (const t of this.targets) t.agent.destroy();
  }
}

import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import type { ClientTls } from './client-tls.js';
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
  /** Where requests to this target go (the pool, pinned to the target's TLS name for https). */
  readonly pool: Dispatcher;
  /** For http-proxy (WebSocket upgrades): an https agent with the upstream's TLS options, or undefined for http. */
  readonly wsAgent: HttpsAgent | undefined;
  /** The connection pool itself, for closing. */
  readonly connections: Pool;
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
    /** TLS options for `https://` targets (from `upstreams.<name>.tls`); verification is on without them too. */
    tls?: ClientTls,
  ) {
    this.timeoutMs = cfg.timeoutMs;
    this.ejectAfter = cfg.ejectAfterFailures;
    this.ejectMs = cfg.ejectMs;
    this.targets = cfg.targets.map((t) => {
      const url = t.url.replace(/\/$/, '');
      const u = new URL(url);
      const secure = u.protocol === 'https:';
      const connectTimeout = Math.min(cfg.timeoutMs, 10_000);
      const name = tlsName(u, tls);
      const connections = new Pool(u.origin, {
        connections: cfg.maxSockets,
        headersTimeout: cfg.timeoutMs,
        // Idle time between body chunks once the response has started (undici's body timer).
        bodyTimeout: cfg.timeoutMs,
        connectTimeout,
        ...(secure ? { connect: pinnedConnector(tls, name, connectTimeout) } : {}),
      });
      return {
        url,
        origin: u.origin,
        basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
        weight: t.weight,
        pool: secure ? connections.compose(pinServername(name ?? u.hostname)) : connections,
        wsAgent: secure ? new HttpsAgent({ ...tlsOptions(tls), ...(name ? { servername: name } : {}) }) : undefined,
        connections,
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
    await Promise.all(
      this.targets.map((t) => {
        t.wsAgent?.destroy();
        return t.connections.close().catch(() => t.connections.destroy());
      }),
    );
  }
}

/** The name a target's certificate must carry (and its SNI): `tls.servername`, else the URL's host unless it is an IP. */
function tlsName(u: URL, tls: ClientTls | undefined): string | undefined {
  if (tls?.servername) return tls.servername;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? undefined : host;
}

/** `tls.connect` options from the upstream's TLS settings; verification stays on unless the config turned it off. */
function tlsOptions(tls: ClientTls | undefined): { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean } {
  if (!tls) return { rejectUnauthorized: true };
  const { ca, cert, key, rejectUnauthorized } = tls;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), rejectUnauthorized };
}

/**
 * A TLS connector that always verifies against the configured name (or the target's host), never
 * against the name undici takes from a request's Host header: the proxy forwards the client's
 * Host, and a client must not choose what the upstream's certificate is checked against.
 */
function pinnedConnector(tls: ClientTls | undefined, name: string | undefined, timeout: number): buildConnector.connector {
  const connect = buildConnector({ ...tlsOptions(tls), ...(name ? { servername: name } : {}), timeout });
  return (opts, cb) => connect({ ...opts, servername: name }, cb);
}

/**
 * Sets one servername on every request to a target. undici re-dials whenever a request's
 * servername differs from the connection's, and it derives one from the Host header otherwise.
 */
function pinServername(name: string): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => dispatch({ ...opts, servername: name } as Dispatcher.DispatchOptions, handler);
}

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConnectionKind } from './redis-connection.js';
import { RedisConnections } from './redis-connections.js';
import { describeTarget, isCluster, slottedPrefix, type RedisTarget } from './redis-topology.js';
import { ReplicaWait } from './replication.js';
import type { RedisStoreLike } from './types.js';

export interface RedisStoreOptions {
  /** A standalone Redis (the shorthand for `target: { url }`). */
  url?: string;
  /** Any topology: url, Cluster or Sentinel, with auth and TLS. */
  target?: RedisTarget;
  prefix: string;
  logger?: Logger;
  /** `replicated`: {@link RedisStore.replicated} waits for one replica (`WAIT 1 waitTimeoutMs`). */
  durability?: 'primary' | 'replicated';
  waitTimeoutMs?: number;
}

/**
 * Redis-backed store (ioredis). Connection loss is logged and retried by ioredis forever;
 * commands fail fast while offline (no offline queue) so callers can choose allow/deny
 * instead of hanging, and `/readyz` reports the outage. Every connection hookgate opens to this
 * Redis is made by {@link connect}, so {@link ping} (readiness) covers all of them.
 */
export class RedisStore implements RedisStoreLike {
  readonly driver = 'redis' as const;
  readonly prefix: string;
  /** Where Redis is, for logs (never a password). */
  readonly url: string;
  readonly target: RedisTarget;
  /** The shared command connection. Other components (rate limiter, queue) reuse it or {@link connect} their own. */
  readonly redis: Redis;
  readonly cluster: boolean;
  readonly durability: 'primary' | 'replicated';
  private lastState = 'connecting';
  private readonly connections: RedisConnections;
  private readonly replicaWait: ReplicaWait | undefined;
  private waitConn: Redis | undefined;

  constructor(opts: RedisStoreOptions) {
    this.prefix = opts.prefix;
    this.target = opts.target ?? { url: opts.url ?? 'redis://127.0.0.1:6379' };
    this.url = describeTarget(this.target);
    const log = opts.logger;
    this.connections = new RedisConnections(this.target);
    // Auto-pipelining: commands issued in one turn of the event loop go out in one write, so
    // concurrent requests share syscalls instead of paying one per command.
    this.redis = this.connect('fail-fast', 'store', true);
    this.cluster = isCluster(this.redis);
    this.durability = opts.durability ?? 'primary';
    if (this.durability === 'replicated') {
      const marker = `${slottedPrefix(this.prefix, this.cluster)}dlv:replicated`;
      const conn = (this.waitConn = this.connect('fail-fast', 'replica wait'));
      conn.on('error', () => {});
      this.replicaWait = new ReplicaWait(() => conn, marker, opts.waitTimeoutMs ?? 1000);
    }
    this.redis.on('error', (err: Error) => {
      if (this.lastState !== 'error') log?.warn({ err: err.message, code: 'HG_STORE_UNAVAILABLE' }, 'redis store error; retrying');
      this.lastState = 'error';
    });
    if (this.cluster) {
      // A Cluster's own error is "Failed to refresh slots cache."; a refused login is on the node.
      let authLogged = false;
      this.redis.on('node error', (err: unknown, node: unknown) => {
        const m = String((err as { message?: unknown } | null | undefined)?.message ?? err);
        if (authLogged || !/\b(WRONGPASS|NOAUTH)\b/.test(m)) return;
        authLogged = true;
        log?.warn({ err: m, node: String(node), code: 'HG_STORE_UNAVAILABLE' }, 'redis cluster node refused the login: check store.username and store.password');
      });
    }
    this.redis.on('ready', () => {
      if (this.lastState === 'error') log?.info('redis store reconnected');
      this.lastState = 'ready';
    });
  }

  /**
   * A new connection to the same Redis (topology, auth, TLS), for a component that needs its own;
   * `purpose` names it when it keeps `/readyz` at 503.
   */
  connect(kind: RedisConnectionKind, purpose: string, autoPipelining = false): Redis {
    return this.connections.connect(kind, purpose, autoPipelining);
  }

  /**
   * With `durability: replicated`, resolves once one replica has every write this process
   * finished before the call; rejects with HG_STORE_NOT_REPLICATED when none confirms in time.
   * A no-op otherwise.
   */
  async replicated(): Promise<void> {
    await this.replicaWait?.wait();
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  async waitReady(timeoutMs = 5000): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new Error(`redis at ${this.url} not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(t);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.prefix + key);
  }
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs) await this.redis.set(this.prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)));
    else await this.redis.set(this.prefix + key, value);
  }
  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const r = await this.redis.set(this.prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)), 'NX');
    return r === 'OK';
  }
  async del(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
  async incr(key: string, ttlMs: number): Promise<number> {
    const k = this.prefix + key;
    const [[e1, n], [e2]] = (await this.redis.multi().incr(k).pexpire(k, Math.max(1, Math.round(ttlMs)), 'NX').exec()) as [
      [Error | null, number],
      [Error | null, unknown],
    ];
    if (e1) throw e1;
    if (e2) throw e2;
    return n;
  }
  /** Readiness: every connection this store made is ready (on Cluster: slots loaded), and Redis answers. */
  async ping(): Promise<void> {
    this.connections.checkReady();
    await this.redis.ping();
  }
  async close(): Promise<void> {
    this.waitConn?.disconnect();
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

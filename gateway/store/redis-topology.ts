import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { isAbsolute, resolve } from 'node:path';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisNodeConfig, StoreConfig } from '../config/types.js';
import { reviveOnUnexpectedEnd } from './redis-revive.js';
import { redisConnectionOptions, type RedisConnectionKind } from './redis-connection.js';

/** A Redis node address. */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Where hookgate's Redis is and how to reach it: one URL, a Cluster (startup nodes) or a
 * Sentinel-managed primary, with the ACL user, password and TLS of the data nodes. Resolved once
 * from `store` (the CA file read), then every connection is made from it by {@link connectRedis}.
 */
export interface RedisTarget {
  url?: string;
  cluster?: { nodes: RedisNode[] };
  sentinel?: { sentinels: RedisNode[]; name: string; username?: string; password?: string };
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
}

/** `"host:port"` or `{ host, port }` as a node. */
export function parseNode(n: RedisNodeConfig): RedisNode {
  if (typeof n !== 'string') return { host: n.host, port: n.port };
  const i = n.lastIndexOf(':');
  return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
}

/**
 * What is wrong with a `store` section beyond its schema (one topology at a time, the redis
 * driver for the Redis settings), or undefined. The path is the key to point the error at.
 */
export function storeTopologyProblem(s: StoreConfig): { path: string[]; message: string } | undefined {
  const set = (['url', 'cluster', 'sentinel'] as const).filter((k) => s[k] !== undefined);
  if (set.length > 1) return { path: ['store', set[1]!], message: `store.${set.join(' and store.')} are both set; give one topology: url, cluster or sentinel` };
  if (s.driver !== 'redis') {
    const redisOnly = (['cluster', 'sentinel', 'username', 'password', 'tls'] as const).find((k) => s[k] !== undefined);
    if (redisOnly) return { path: ['store', redisOnly], message: `store.${redisOnly} needs store.driver: redis` };
    if (s.durability === 'replicated') return { path: ['store', 'durability'], message: 'store.durability: replicated needs store.driver: redis (the memory store has no replicas)' };
  }
  return undefined;
}

/** Resolves `store` into a target; a relative CA file is read against `dir` (the config's folder). */
export function resolveTarget(s: StoreConfig, dir = process.cwd()): RedisTarget {
  const tls: ConnectionOptions | undefined = s.tls
    ? {
        ...(s.tls.ca ? { ca: readFileSync(isAbsolute(s.tls.ca) ? s.tls.ca : resolve(dir, s.tls.ca)) } : {}),
        ...(s.tls.servername ? { servername: s.tls.servername } : {}),
        rejectUnauthorized: s.tls.rejectUnauthorized !== false,
      }
    : undefined;
  const base = { username: s.username, password: s.password, tls };
  if (s.cluster) return { ...base, cluster: { nodes: s.cluster.nodes.map(parseNode) } };
  if (s.sentinel) return { ...base, sentinel: { ...s.sentinel, sentinels: s.sentinel.sentinels.map(parseNode) } };
  return { ...base, url: s.url ?? 'redis://127.0.0.1:6379' };
}

/** The target for logs and errors: the addresses, never a password. */
export function describeTarget(t: RedisTarget): string {
  const nodes = (ns: RedisNode[]) => ns.map((n) => `${n.host}:${n.port}`).join(',');
  if (t.cluster) return `redis cluster ${nodes(t.cluster.nodes)}`;
  if (t.sentinel) return `redis sentinel ${t.sentinel.name}@${nodes(t.sentinel.sentinels)}`;
  return (t.url ?? '').replace(/\/\/[^@/]*@/, '//***@');
}

/** True for a Cluster client (keys that must share a slot then need one hash tag). */
export function isCluster(r: unknown): boolean {
  return r instanceof Cluster;
}

/** Node options shared by the three topologies: auth, TLS, and a READONLY reply meaning "reconnect". */
function nodeOptions(t: RedisTarget): RedisOptions {
  const o: RedisOptions = {};
  if (t.username !== undefined) o.username = t.username;
  if (t.password !== undefined) o.password = t.password;
  if (t.tls) o.tls = t.tls;
  // After a failover the old primary may come back as a replica: a write it refuses means this
  // connection must find the new primary (Sentinel) instead of failing forever.
  o.reconnectOnError = (err: Error) => (err.message.startsWith('READONLY') ? 2 : false);
  return o;
}

/**
 * The one place hookgate opens a Redis connection: a standalone, a Sentinel-backed or a Cluster
 * client, with the behaviour of `kind` (see {@link RedisConnectionKind}). Cluster and Redis share
 * ioredis' command interface; the Cluster client is typed as `Redis` so the components that speak
 * Redis need no second code path (they keep every multi-key call inside one hash tag).
 */
export function connectRedis(t: RedisTarget, kind: RedisConnectionKind, extra: { autoPipelining?: boolean } = {}): Redis {
  const behaviour = redisConnectionOptions(kind);
  // Not on Cluster: ioredis groups auto-pipelined commands by the slot of what it takes for the
  // first key, which for a script called with its key count first (the queue's, the rate
  // limiter's) is that count, so a batch could mix slots and fail with "All keys in the pipeline
  // should belong to the same slots allocation group".
  const pipelining = extra.autoPipelining && !t.cluster ? { enableAutoPipelining: true } : {};
  if (t.cluster) {
    const { retryStrategy, enableOfflineQueue, ...perNode } = behaviour;
    const opts: ClusterOptions = {
      ...pipelining,
      redisOptions: { ...perNode, ...nodeOptions(t) },
      // Keep trying to reach the cluster (its startup nodes may all be restarting).
      clusterRetryStrategy: retryStrategy as (times: number) => number,
      enableOfflineQueue: enableOfflineQueue ?? true,
      // Refresh the slot map soon after a failover, and retry redirections through it.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 2000,
      slotsRefreshInterval: 5000,
    };
    return new Cluster(t.cluster.nodes, opts) as unknown as Redis;
  }
  if (t.sentinel) {
    const s = t.sentinel;
    return reviveOnUnexpectedEnd(new Redis({
      ...behaviour,
      ...pipelining,
      ...nodeOptions(t),
      sentinels: s.sentinels,
      name: s.name,
      ...(s.username !== undefined ? { sentinelUsername: s.username } : {}),
      ...(s.password !== undefined ? { sentinelPassword: s.password } : {}),
      ...(t.tls ? { enableTLSForSentinelMode: true, sentinelTLS: t.tls } : {}),
      // Ask the sentinels again at once when the primary goes away, and follow their +switch-master.
      failoverDetector: true,
      sentinelRetryStrategy: (times: number) => Math.min(times * 100, 1000),
    }));
  }
  return reviveOnUnexpectedEnd(new Redis(t.url!, { ...behaviour, ...pipelining, ...nodeOptions(t) }));
}

/**
 * The key prefix of one group of keys that scripts and MULTI use together. On a standalone or
 * Sentinel Redis it is `<prefix>` itself (so data written before Cluster support stays where it
 * was); on Cluster it adds the queue's hash tag, `<prefix>{hgq:<prefix>}:`, so the delivery data
 * (messages, indexes, endpoints, tenants, event types) sit in the queue's slot and one `WAIT` on
 * that node covers a whole acknowledgement.
 */
export function slottedPrefix(prefix: string, cluster: boolean, tag = `hgq:${prefix}`): string {
  return cluster ? `${prefix}{${tag}}:` : prefix;
}

import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { definePlugin, Errors, formatIp, maskIp, parseIp, type Context } from '../../gateway/plugin-api.js';

export interface RateLimitParams {
  by: 'ip' | 'consumer' | 'header' | 'route';
  header?: string;
  points: number;
  durationSec: number;
  onStoreError: 'allow' | 'deny';
  /** Name of the shared counter; routes with the same name share one limit. Defaults to the route name. */
  scope?: string;
  /** IPv6 clients are counted by this prefix of their address (an end site usually has a whole /64). */
  ipv6Prefix: number;
}

/**
 * The counter key of a client address: IPv4 as it is, IPv6 as its `/ipv6Prefix` network
 * (`2001:db8:1:2::/64`), so a client cannot get fresh points by picking another address of its
 * own block. `ctx.clientIp` is canonical already, so one client has one key.
 */
export function addressKey(ip: string, ipv6Prefix: number): string {
  const addr = parseIp(ip);
  if (!addr || addr.family === 4 || ipv6Prefix === 128) return ip;
  return `${formatIp(maskIp(addr, ipv6Prefix))}/${ipv6Prefix}`;
}

function keyOf(params: RateLimitParams, header: string, ctx: Context): string {
  switch (params.by) {
    case 'ip':
      return addressKey(ctx.clientIp, params.ipv6Prefix);
    case 'consumer':
      // Unauthenticated callers share a bucket per address rather than one global bucket.
      return ctx.consumer ? `c:${ctx.consumer}` : `ip:${addressKey(ctx.clientIp, params.ipv6Prefix)}`;
    case 'header':
      return `h:${ctx.header(header) ?? ''}`;
    case 'route':
      return 'route';
  }
}

/**
 * In-process limiters, one per store, scope and window. Keeping them beside the store (not per
 * plugin instance) makes routes with the same `scope` share one limit, and lets a count survive
 * a config reload just as it does in Redis. Routes sharing a scope must use the same points and
 * duration; otherwise they get separate limiters.
 */
const memoryLimiters = new WeakMap<object, Map<string, RateLimiterMemory>>();

function sharedMemoryLimiter(owner: object, opts: { points: number; duration: number; keyPrefix: string }): RateLimiterMemory {
  let byKey = memoryLimiters.get(owner);
  if (!byKey) memoryLimiters.set(owner, (byKey = new Map()));
  const k = `${opts.keyPrefix}|${opts.points}|${opts.duration}`;
  let limiter = byKey.get(k);
  if (!limiter) byKey.set(k, (limiter = new RateLimiterMemory(opts)));
  return limiter;
}

/**
 * Fixed-window limits with rate-limiter-flexible: in memory, or in Redis with the redis store so
 * that one limit holds across instances. Kong-style `RateLimit-*` headers and 429 + Retry-After.
 */
export const rateLimitPlugin = definePlugin<RateLimitParams>({
  name: 'rate-limit',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['points', 'durationSec'],
    properties: {
      by: { enum: ['ip', 'consumer', 'header', 'route'], default: 'ip' },
      header: { type: 'string', minLength: 1 },
      points: { type: 'integer', minimum: 1 },
      durationSec: { type: 'integer', minimum: 1 },
      onStoreError: { enum: ['allow', 'deny'], default: 'allow' },
      scope: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
      ipv6Prefix: { type: 'integer', minimum: 1, maximum: 128, default: 64 },
    },
  },
  create(params, env) {
    if (params.by === 'header' && !params.header) throw new Error('rate-limit: by: header needs a "header" name');
    const header = (params.header ?? '').toLowerCase();
    const scope = params.scope ?? env.routeName ?? 'global';
    const opts = { points: params.points, duration: params.durationSec, keyPrefix: `rl:${scope}` };
    let limiter: RateLimiterAbstract;
    if (env.store.driver === 'redis') {
      limiter = new RateLimiterRedis({
        ...opts,
        keyPrefix: `${env.store.prefix}rl:${scope}`,
        storeClient: env.store.redis,
        rejectIfRedisNotReady: true,
        // With `allow`, an in-process limiter takes over while Redis is unreachable.
        insuranceLimiter: params.onStoreError === 'allow' ? sharedMemoryLimiter(env.store, opts) : undefined,
      });
    } else {
      limiter = sharedMemoryLimiter(env.store, opts);
    }
    const limit = String(params.points);
    const setHeaders = (ctx: Context, r: RateLimiterRes) => {
      ctx.responseHeaders['ratelimit-limit'] = limit;
      ctx.responseHeaders['ratelimit-remaining'] = String(Math.max(0, r.remainingPoints));
      ctx.responseHeaders['ratelimit-reset'] = String(Math.ceil(r.msBeforeNext / 1000));
    };
    return {
      async onRequest(ctx) {
        let r: RateLimiterRes;
        try {
          r = await limiter.consume(keyOf(params, header, ctx), 1);
        } catch (err) {
          if (err instanceof RateLimiterRes) {
            setHeaders(ctx, err);
            const retry = String(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
            throw Errors.RATE_LIMITED(params.points, params.durationSec).with({ 'retry-after': retry });
          }
          // Only reachable with onStoreError: deny (allow has the insurance limiter).
          env.logger.warn({ err: (err as Error)?.message, route: env.routeName, requestId: ctx.requestId || undefined }, 'rate-limit store unavailable; denying');
          throw Errors.STORE_UNAVAILABLE('rate limit').with({ 'retry-after': '1' });
        }
        setHeaders(ctx, r);
      },
    };
  },
});

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import { BUCKET_SEC, bucketView, emptyBucket, emptyRoute, LATENCY_MS, LocalStats, mergeInto, windowStarts, type BucketCounts } from './stats.js';
import type { StatsAnswer } from './answers.js';

/** How often counts go to Redis (and delivery results and the queue are sampled). */
export const FLUSH_EVERY_MS = 5000;
/** A bucket's hash lives a little longer than the hour it is read for. */
const BUCKET_TTL_SEC = 3600 + 120;
const HIST_SLOTS = LATENCY_MS.length + 1;

/**
 * `GET /admin/stats`: this process's counts, or with the redis store every instance's. Requests
 * are counted in memory on the hot path; a timer (never the request) samples the delivery
 * counters and the queue and, with Redis, adds the counts into one hash per bucket
 * (`<prefix>console:stats:<bucket start>`, HINCRBY, with a TTL) and forgets them locally.
 */
export class TrafficStats {
  readonly local: LocalStats;
  private timer: NodeJS.Timeout | undefined;
  private lastDelivered = 0;
  private lastFailed = 0;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.local = new LocalStats(now);
  }

  get shared(): boolean {
    return this.store.driver === 'redis';
  }

  private get redis(): Redis | undefined {
    return this.store.driver === 'redis' ? this.store.redis : undefined;
  }

  private key(start: number): string {
    return `${this.store.prefix}console:stats:${start}`;
  }

  start(everyMs = FLUSH_EVERY_MS): void {
    this.timer ??= setInterval(() => void this.flush(), everyMs).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Samples deliveries and the queue, then (redis) writes the counts out. One at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.runFlush().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async runFlush(): Promise<void> {
    try {
      await this.sample();
      if (this.redis) await this.write(this.redis);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'console stats flush failed; retrying on the next one');
    }
  }

  private async sample(): Promise<void> {
    const counted = await this.metrics.deliveries.get();
    let ok = 0;
    let failed = 0;
    for (const v of counted.values) if (v.labels.result === 'success') ok += v.value;
    else failed += v.value;
    this.local.deliveries(ok - this.lastDelivered, failed - this.lastFailed);
    this.lastDelivered = ok;
    this.lastFailed = failed;
    const depth = await this.metrics.queueSource?.().catch(() => undefined);
    if (depth) {
      const lags = Object.values(depth.lagSeconds);
      this.local.sample(lags.length ? Math.max(...lags) : 0, { waiting: depth.waiting, delayed: depth.delayed, failed: depth.failed });
    }
  }

  private async write(redis: Redis): Promise<void> {
    const drained = this.local.drain();
    if (!drained.size) return;
    const tx = redis.multi();
    for (const [start, b] of drained) {
      const key = this.key(start);
      for (const [route, rc] of b.routes) {
        tx.hincrby(key, `r|${route}|n`, rc.requests);
        if (rc.errors) tx.hincrby(key, `r|${route}|e`, rc.errors);
        rc.hist.forEach((n, i) => n && tx.hincrby(key, `r|${route}|h${i}`, n));
      }
      if (b.succeeded) tx.hincrby(key, 'd|ok', b.succeeded);
      if (b.failed) tx.hincrby(key, 'd|failed', b.failed);
      if (b.queue) tx.hset(key, 'q|waiting', b.queue.waiting, 'q|delayed', b.queue.delayed, 'q|failed', b.queue.failed);
      if (b.lagSeconds !== undefined) tx.hset(key, 'lag', b.lagSeconds);
      tx.expire(key, BUCKET_TTL_SEC);
    }
    try {
      await tx.exec();
    } catch (err) {
      // Not written: keep the counts for the next flush.
      for (const [start, b] of drained) {
        const mine = this.local.buckets.get(start) ?? emptyBucket();
        mergeInto(mine, b);
        this.local.buckets.set(start, mine);
      }
      throw err;
    }
  }

  /** The buckets of the last `minutes`, oldest first. */
  async read(minutes: number): Promise<StatsAnswer> {
    const starts = windowStarts(this.now(), minutes);
    const merged = new Map<number, BucketCounts>(starts.map((s) => [s, emptyBucket()]));
    const redis = this.redis;
    if (redis) {
      const p = redis.pipeline();
      for (const s of starts) p.hgetall(this.key(s));
      const res = (await p.exec()) ?? [];
      res.forEach(([err, h], i) => {
        if (err) throw err;
        mergeInto(merged.get(starts[i]!)!, parseHash(h as Record<string, string>));
      });
    }
    // What this process has not written out yet (everything, without Redis).
    for (const [s, b] of this.local.buckets) {
      const m = merged.get(s);
      if (m) mergeInto(m, b);
    }
    return { bucketSec: BUCKET_SEC, shared: Boolean(redis), buckets: starts.map((s) => bucketView(s, merged.get(s)!)) };
  }
}

function parseHash(h: Record<string, string>): BucketCounts {
  const b = emptyBucket();
  let queue: { waiting: number; delayed: number; failed: number } | undefined;
  for (const [field, raw] of Object.entries(h)) {
    const v = Number(raw);
    if (field === 'd|ok') b.succeeded = v;
    else if (field === 'd|failed') b.failed = v;
    else if (field === 'lag') b.lagSeconds = v;
    else if (field.startsWith('q|')) (queue ??= { waiting: 0, delayed: 0, failed: 0 })[field.slice(2) as 'waiting'] = v;
    else if (field.startsWith('r|')) {
      const cut = field.lastIndexOf('|');
      const route = field.slice(2, cut);
      const what = field.slice(cut + 1);
      let rc = b.routes.get(route);
      if (!rc) b.routes.set(route, (rc = emptyRoute()));
      if (what === 'n') rc.requests = v;
      else if (what === 'e') rc.errors = v;
      else if (what.startsWith('h')) {
        const i = Number(what.slice(1));
        if (i >= 0 && i < HIST_SLOTS) rc.hist[i] = v;
      }
    }
  }
  b.queue = queue;
  return b;
}

/**
 * The console's traffic time series: per 10 s bucket, per route, requests, errors and a fixed
 * latency histogram (percentiles come from it, so buckets of several instances merge by adding),
 * plus delivery results, lag and queue depth sampled once per bucket. Kept for an hour.
 */
import type { RouteStats, StatsBucket } from './answers.js';

export const BUCKET_SEC = 10;
export const KEEP_BUCKETS = 360;
/** Upper bounds (ms) of the latency histogram's slots; one more slot holds what is slower. */
export const LATENCY_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export interface RouteCounts {
  requests: number;
  errors: number;
  /** LATENCY_MS.length + 1 slots. */
  hist: number[];
}

/** One bucket's counts, as this process holds them or as merged from the store. */
export interface BucketCounts {
  routes: Map<string, RouteCounts>;
  succeeded: number;
  failed: number;
  lagSeconds: number | undefined;
  queue: { waiting: number; delayed: number; failed: number } | undefined;
}

export function emptyBucket(): BucketCounts {
  return { routes: new Map(), succeeded: 0, failed: 0, lagSeconds: undefined, queue: undefined };
}

export function emptyRoute(): RouteCounts {
  return { requests: 0, errors: 0, hist: new Array<number>(LATENCY_MS.length + 1).fill(0) };
}

/** The slot of a latency. */
export function slotOf(ms: number): number {
  let i = 0;
  while (i < LATENCY_MS.length && ms > LATENCY_MS[i]!) i++;
  return i;
}

/** Adds `b` into `a` (counts add; the sampled lag and queue take the larger / the present one). */
export function mergeInto(a: BucketCounts, b: BucketCounts): void {
  for (const [route, rc] of b.routes) {
    let t = a.routes.get(route);
    if (!t) a.routes.set(route, (t = emptyRoute()));
    t.requests += rc.requests;
    t.errors += rc.errors;
    for (let i = 0; i < t.hist.length; i++) t.hist[i]! += rc.hist[i] ?? 0;
  }
  a.succeeded += b.succeeded;
  a.failed += b.failed;
  if (b.lagSeconds !== undefined) a.lagSeconds = Math.max(a.lagSeconds ?? 0, b.lagSeconds);
  if (b.queue) a.queue = b.queue;
}

/**
 * The `p` quantile (0..1) of a histogram, in ms: linear inside the slot it falls in; the open
 * last slot answers its lower bound. Null with no samples.
 */
export function percentile(hist: readonly number[], p: number): number | null {
  const total = hist.reduce((s, n) => s + n, 0);
  if (total === 0) return null;
  const rank = p * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i]!;
    if (n > 0 && seen + n >= rank) {
      const lo = i === 0 ? 0 : LATENCY_MS[i - 1]!;
      if (i >= LATENCY_MS.length) return lo;
      const hi = LATENCY_MS[i]!;
      return Math.round((lo + ((rank - seen) / n) * (hi - lo)) * 100) / 100;
    }
    seen += n;
  }
  return LATENCY_MS[LATENCY_MS.length - 1]!;
}

/** A bucket as `GET /admin/stats` answers it. */
export function bucketView(start: number, b: BucketCounts): StatsBucket {
  const routes: Record<string, RouteStats> = {};
  for (const [name, rc] of [...b.routes].sort(([x], [y]) => x.localeCompare(y))) {
    routes[name] = { requests: rc.requests, errors: rc.errors, p50Ms: percentile(rc.hist, 0.5), p99Ms: percentile(rc.hist, 0.99) };
  }
  return { at: new Date(start).toISOString(), routes, deliveries: { succeeded: b.succeeded, failed: b.failed }, lagSeconds: b.lagSeconds ?? null, queue: b.queue ?? null };
}

/** The start (ms) of the bucket holding `t`. */
export function bucketStart(t: number): number {
  return t - (t % (BUCKET_SEC * 1000));
}

/**
 * This process's counts by bucket start. `observe` is the hot path: a map lookup and increments.
 * With a shared store the buckets are drained into it (`drain`) and only the unflushed rest
 * stays here.
 */
export class LocalStats {
  readonly buckets = new Map<number, BucketCounts>();

  constructor(private readonly now: () => number = Date.now) {}

  private current(): BucketCounts {
    const start = bucketStart(this.now());
    let b = this.buckets.get(start);
    if (!b) {
      b = emptyBucket();
      this.buckets.set(start, b);
      this.prune(start);
    }
    return b;
  }

  observe(route: string, status: number, ms: number): void {
    const b = this.current();
    let rc = b.routes.get(route);
    if (!rc) b.routes.set(route, (rc = emptyRoute()));
    rc.requests++;
    if (status >= 500) rc.errors++;
    rc.hist[slotOf(ms)]!++;
  }

  deliveries(succeeded: number, failed: number): void {
    if (succeeded === 0 && failed === 0) return;
    const b = this.current();
    b.succeeded += succeeded;
    b.failed += failed;
  }

  sample(lagSeconds: number | undefined, queue: BucketCounts['queue']): void {
    const b = this.current();
    b.lagSeconds = lagSeconds;
    b.queue = queue;
  }

  /** Takes every bucket out (to be written to the shared store). */
  drain(): Map<number, BucketCounts> {
    const out = new Map(this.buckets);
    this.buckets.clear();
    return out;
  }

  private prune(newest: number): void {
    const oldest = newest - KEEP_BUCKETS * BUCKET_SEC * 1000;
    for (const k of this.buckets.keys()) if (k <= oldest) this.buckets.delete(k);
  }
}

/** The bucket starts of the last `minutes`, oldest first, ending with the current one. */
export function windowStarts(now: number, minutes: number): number[] {
  const n = Math.min(KEEP_BUCKETS, Math.ceil((minutes * 60) / BUCKET_SEC));
  const last = bucketStart(now);
  const out: number[] = [];
  for (let i = n - 1; i >= 0; i--) out.push(last - i * BUCKET_SEC * 1000);
  return out;
}

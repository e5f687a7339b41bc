/**
 * Per-route request counts and latency, recorded with plain increments on the hot path and
 * turned into Prometheus series only at scrape time. prom-client's labelled `inc`/`observe`
 * validate and hash their labels on every call, which was a measurable part of a proxied
 * request's cost. Both objects have the shape a prom-client Registry registers (`name`, `help`,
 * `type`, `get()`), so they appear in `/metrics` beside prom-client's own metrics.
 */

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

interface RouteStats {
  byStatus: Map<number, number>;
  /** Cumulative only at export; here each slot counts its own bucket (the last is +Inf). */
  buckets: Float64Array;
  sum: number;
  count: number;
}

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

export class RequestMetrics {
  private readonly routes = new Map<string, RouteStats>();

  observe(route: string, status: number, seconds: number): void {
    let s = this.routes.get(route);
    if (!s) {
      s = { byStatus: new Map(), buckets: new Float64Array(BUCKETS.length + 1), sum: 0, count: 0 };
      this.routes.set(route, s);
    }
    s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** `hookgate_requests_total{route,status}`. */
  readonly counter = {
    name: 'hookgate_requests_total',
    help: 'Requests by route and status',
    type: 'counter',
    aggregator: 'sum',
    get: () => {
      const values: Sample[] = [];
      for (const [route, s] of this.routes) for (const [status, n] of s.byStatus) values.push({ labels: { route, status }, value: n });
      return { name: this.counter.name, help: this.counter.help, type: 'counter', values, aggregator: 'sum' };
    },
  };

  /** `hookgate_request_duration_seconds{route}`: buckets, sum and count. */
  readonly histogram = {
    name: 'hookgate_request_duration_seconds',
    help: 'Request latency by route',
    type: 'histogram',
    aggregator: 'sum',
    get: () => {
      const values: Sample[] = [];
      const name = this.histogram.name;
      for (const [route, s] of this.routes) {
        let acc = 0;
        for (let i = 0; i < BUCKETS.length; i++) {
          acc += s.buckets[i]!;
          values.push({ labels: { le: BUCKETS[i]!, route }, value: acc, metricName: `${name}_bucket` });
        }
        values.push({ labels: { le: '+Inf', route }, value: s.count, metricName: `${name}_bucket` });
        values.push({ labels: { route }, value: s.sum, metricName: `${name}_sum` });
        values.push({ labels: { route }, value: s.count, metricName: `${name}_count` });
      }
      return { name, help: this.histogram.help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}

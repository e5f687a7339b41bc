import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics, one registry per gateway so several gateways in one process don't collide. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'status'>;
  readonly duration: Histogram<'route'>;
  readonly reloads: Counter<'result'>;
  readonly inflight: Gauge;
  /** Requests in flight, maintained by the request handler. */
  inflightNow = 0;
  readonly deliveries: Counter<'kind' | 'result'>;
  readonly deliveryLatency: Histogram<'kind'>;

  // Label lookups hash the label object on every call; keep the children per route and status.
  private readonly children = new Map<string, { duration: ReturnType<Histogram<'route'>['labels']>; byStatus: Map<number, ReturnType<Counter<'route' | 'status'>['labels']>> }>();

  /** Counts one request and its latency (hot path: no per-call label hashing). */
  observe(route: string, status: number, seconds: number): void {
    let c = this.children.get(route);
    if (!c) {
      c = { duration: this.duration.labels(route), byStatus: new Map() };
      this.children.set(route, c);
    }
    let counter = c.byStatus.get(status);
    if (!counter) {
      counter = this.requests.labels(route, String(status));
      c.byStatus.set(status, counter);
    }
    counter.inc();
    c.duration.observe(seconds);
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hookgate_' });
    this.requests = new Counter({ name: 'hookgate_requests_total', help: 'Requests by route and status', labelNames: ['route', 'status'], registers: [this.registry] });
    this.duration = new Histogram({
      name: 'hookgate_request_duration_seconds',
      help: 'Request latency by route',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
    this.reloads = new Counter({ name: 'hookgate_reloads_total', help: 'Config reloads by result', labelNames: ['result'], registers: [this.registry] });
    // Read at scrape time: a gauge update per request would hash its (empty) labels every time.
    const self = this;
    this.inflight = new Gauge({
      name: 'hookgate_inflight_requests',
      help: 'Requests in flight',
      registers: [this.registry],
      collect() {
        this.set(self.inflightNow);
      },
    });
    this.deliveries = new Counter({ name: 'hookgate_delivery_attempts_total', help: 'Delivery attempts by kind (egress|ingress) and result', labelNames: ['kind', 'result'], registers: [this.registry] });
    this.deliveryLatency = new Histogram({
      name: 'hookgate_delivery_latency_seconds',
      help: 'Time from acceptance to successful delivery',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30, 300, 3600],
      registers: [this.registry],
    });
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { PluginCounter, PluginMetrics } from './plugin.js';
import { EndpointAttempts } from './delivery/endpoint-attempts.js';
import { IngressErrors } from './ingress-errors.js';
import { RequestMetrics } from './request-metrics.js';

/** The delivery queue's depth by state and, per tenant, the age of its oldest due delivery. */
export interface QueueDepth {
  waiting: number;
  delayed: number;
  failed: number;
  lagSeconds: Record<string, number>;
  /** Per `ordering: per-key` endpoint, the age of its oldest key blocked behind a failed head (0: none). */
  orderingBlockedSeconds?: Record<string, number>;
}

/** Each endpoint's lifecycle state, and every state there is (`hookgate_endpoint_state`). */
export interface EndpointStates {
  states: readonly string[];
  byEndpoint: Record<string, string>;
}

/** Prometheus metrics, one registry per gateway so several gateways in one process don't collide. */
export class Metrics implements PluginMetrics {
  readonly registry = new Registry();
  readonly reloads: Counter<'result'>;
  readonly inflight: Gauge;
  /** Requests in flight, maintained by the request handler. */
  inflightNow = 0;
  readonly deliveries: Counter<'kind' | 'result'>;
  readonly deliveryLatency: Histogram<'kind'>;
  /** What the delivery queue holds, read at scrape time (set by the delivery service). */
  queueSource: (() => Promise<QueueDepth>) | undefined;
  /** Breaker transitions this instance made, by the state entered (`hookgate_breaker_transitions_total{to}`). */
  readonly breakerTransitions: Counter<'to'>;
  /** Every endpoint's lifecycle state, read at scrape time (set by the delivery service). */
  endpointStateSource: (() => Promise<EndpointStates>) | undefined;
  /** Egress attempts per endpoint and result (`hookgate_endpoint_attempts_total`), counted by the engine. */
  readonly endpointAttempts = new EndpointAttempts();
  /** Upstream errors and signature failures per route, counted by the pipeline when an exchange closes. */
  readonly ingressErrors = new IngressErrors();
  /** Per alert rule, how many of its subjects fire now, read at scrape time (set by the alert evaluator). */
  alertsSource: (() => Promise<Record<string, number>>) | undefined;
  /** Alert evaluations this instance ran (it held the evaluator lease). */
  readonly alertEvaluations: Counter;

  /**
   * The text `GET /metrics` serves: this registry's, or, in a worker process, every worker's
   * aggregated by the primary (gateway/workers).
   */
  exposition: () => Promise<string> = () => this.registry.metrics();

  /** Per-route counts and latency: plain increments per request, series built at scrape time. */
  private readonly requestStats = new RequestMetrics();
  /** The counters plugins asked for, by name: each reload's instances get the same one. */
  private readonly pluginCounters = new Map<string, { labels: string; counter: Counter<string> }>();

  /** A counter for plugins (PluginMetrics): created on first use, the same one ever after. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): PluginCounter<L> {
    const labels = [...labelNames].sort().join(',');
    const known = this.pluginCounters.get(name);
    if (known) {
      if (known.labels !== labels) throw new Error(`metric ${name} already exists with labels {${known.labels}}`);
      return known.counter;
    }
    // prom-client refuses a name already registered (a core metric): the plugin's create() fails.
    const counter = new Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
    this.pluginCounters.set(name, { labels, counter });
    return counter;
  }

  /** Counts one request and its latency (hot path: no label hashing). */
  observe(route: string, status: number, seconds: number): void {
    this.requestStats.observe(route, status, seconds);
  }

  constructor() {
    // Node's standard names (process_cpu_user_seconds_total, nodejs_heap_size_used_bytes, ...), unprefixed,
    // so the usual dashboards and alerts work as they are.
    collectDefaultMetrics({ register: this.registry });
    this.registry.registerMetric(this.requestStats.counter as unknown as Metric);
    this.registry.registerMetric(this.requestStats.histogram as unknown as Metric);
    for (const m of [this.endpointAttempts.counter, this.ingressErrors.upstreamCounter]) this.registry.registerMetric(m as unknown as Metric);
    new Gauge({
      name: 'hookgate_alerts_firing',
      aggregator: 'max',
      help: 'Per alert rule, how many of its subjects (endpoints, routes, tenants) are firing',
      labelNames: ['alert'],
      registers: [this.registry],
      async collect() {
        const firing = await self.alertsSource?.().catch(() => undefined);
        if (!firing) return;
        this.reset();
        for (const [alert, n] of Object.entries(firing)) this.set({ alert }, n);
      },
    });
    this.alertEvaluations = new Counter({ name: 'hookgate_alert_evaluations_total', help: 'Alert rule evaluations run by this instance (the one holding the evaluator lease)', registers: [this.registry] });
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
    this.breakerTransitions = new Counter({ name: 'hookgate_breaker_transitions_total', help: 'Endpoint lifecycle transitions made by this instance, by the state entered (healthy, failing, open, half-open, disabled)', labelNames: ['to'], registers: [this.registry] });
    new Gauge({
      name: 'hookgate_endpoint_state',
      aggregator: 'max',
      help: "Per endpoint, 1 for its current lifecycle state (healthy, failing, open, half-open, disabled) and 0 for the others",
      labelNames: ['endpoint', 'state'],
      registers: [this.registry],
      async collect() {
        const s = await self.endpointStateSource?.().catch(() => undefined);
        if (!s) return;
        this.reset();
        for (const [endpoint, current] of Object.entries(s.byEndpoint)) for (const state of s.states) this.set({ endpoint, state }, state === current ? 1 : 0);
      },
    });
    // Gauges read from the store say `aggregator: 'max'`: with worker processes every worker reads the
    // same store, and the sum across workers (the default) would count it once per worker.
    // One read of the queue per scrape serves both gauges (each collect asks; the second reuses it).
    let pending: Promise<QueueDepth | undefined> | undefined;
    const depth = (): Promise<QueueDepth | undefined> => {
      pending ??= (self.queueSource?.() ?? Promise.resolve(undefined)).catch(() => undefined).finally(() => setImmediate(() => (pending = undefined)));
      return pending;
    };
    new Gauge({
      name: 'hookgate_queue_depth',
      aggregator: 'max',
      help: 'Deliveries in the queue by state: waiting (due, or running), delayed (a retry not yet due), failed (dead letters)',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const d = await depth();
        if (!d) return;
        for (const state of ['waiting', 'delayed', 'failed'] as const) this.set({ state }, d[state]);
      },
    });
    new Gauge({
      name: 'hookgate_delivery_lag_seconds',
      aggregator: 'max',
      help: 'Per tenant, the age of its oldest due delivery (0 when nothing waits)',
      labelNames: ['tenant'],
      registers: [this.registry],
      async collect() {
        const d = await depth();
        if (!d) return;
        this.reset();
        for (const [tenant, s] of Object.entries(d.lagSeconds)) this.set({ tenant }, s);
      },
    });
    new Gauge({
      name: 'hookgate_ordering_blocked_seconds',
      aggregator: 'max',
      help: 'Per endpoint with ordering: per-key, how long its oldest ordering key has been blocked behind a head that failed an attempt (0 when none is)',
      labelNames: ['endpoint'],
      registers: [this.registry],
      async collect() {
        const d = await depth();
        if (!d) return;
        this.reset();
        for (const [endpoint, s] of Object.entries(d.orderingBlockedSeconds ?? {})) this.set({ endpoint }, s);
      },
    });
  }
}

/**
 * Ingress error tracking: per route, upstream errors (5xx answers, timeouts, unavailable
 * upstreams) and signature failures (refusals with an `HG_SIGNATURE_*` code, whichever plugin
 * refused). Counted where the pipeline's exchange closes, from what the core recorded (status,
 * error code, whether it was forwarded), never inside the plugins. Plain increments on the hot
 * path; `hookgate_upstream_errors_total` is built at scrape time, as request-metrics.ts does.
 * Signature failures feed the alert window only: their Prometheus series is verify-signature's
 * own `hookgate_signature_failures_total{route,reason}` (reason in the words of its diagnostics).
 */

/** Why an upstream request counts as an error. */
export type UpstreamErrorKind = '5xx' | 'timeout' | 'unavailable';

/** What the pipeline knows about an exchange when it closes. */
export interface ClosedExchange {
  route: string;
  status: number;
  /** The catalogue code of the gateway's own answer, if it answered with an error. */
  errorCode: string | undefined;
  /** The request was sent to an upstream (the proxy set its target). */
  forwarded: boolean;
}

/** The kind of upstream error an exchange ended with, if any. */
export function upstreamErrorKind(ex: ClosedExchange): UpstreamErrorKind | undefined {
  if (!ex.forwarded) return undefined;
  if (ex.errorCode === 'HG_UPSTREAM_TIMEOUT' || ex.errorCode === 'HG_DEADLINE_EXCEEDED') return 'timeout';
  if (ex.errorCode === 'HG_UPSTREAM_UNAVAILABLE') return 'unavailable';
  // No code of ours: the status is the upstream's own answer.
  if (ex.errorCode === undefined && ex.status >= 500) return '5xx';
  return undefined;
}

interface RouteErrors {
  requests: number;
  upstream: Map<UpstreamErrorKind, number>;
  signature: Map<string, number>;
}

type Sample = { labels: Record<string, string>; value: number };

/** Per-route ingress error counts (cumulative since start). */
export class IngressErrors {
  private readonly routes = new Map<string, RouteErrors>();

  /** Counts a closed exchange (positional arguments: no object per request on the hot path). */
  observe(route: string, status: number, errorCode: string | undefined, forwarded: boolean): void {
    let r = this.routes.get(route);
    if (!r) {
      r = { requests: 0, upstream: new Map(), signature: new Map() };
      this.routes.set(route, r);
    }
    r.requests++;
    if (status < 500 && errorCode === undefined) return;
    const kind = upstreamErrorKind({ route, status, errorCode, forwarded });
    if (kind) r.upstream.set(kind, (r.upstream.get(kind) ?? 0) + 1);
    if (errorCode !== undefined && errorCode.startsWith('HG_SIGNATURE_')) r.signature.set(errorCode, (r.signature.get(errorCode) ?? 0) + 1);
  }

  /** Per route: requests, upstream errors (every kind) and signature failures, since start (what the alert sampler reads). */
  *totals(): Iterable<{ route: string; requests: number; upstreamErrors: number; signatureFailures: number }> {
    for (const [route, r] of this.routes) {
      let up = 0;
      for (const n of r.upstream.values()) up += n;
      let sig = 0;
      for (const n of r.signature.values()) sig += n;
      yield { route, requests: r.requests, upstreamErrors: up, signatureFailures: sig };
    }
  }

  /** `hookgate_upstream_errors_total{route,kind}`. */
  readonly upstreamCounter = {
    name: 'hookgate_upstream_errors_total',
    help: 'Proxied requests that ended in an upstream error, by route and kind (5xx, timeout, unavailable)',
    type: 'counter',
    aggregator: 'sum',
    get: () => {
      const values: Sample[] = [];
      for (const [route, r] of this.routes) for (const [kind, n] of r.upstream) values.push({ labels: { route, kind }, value: n });
      return { name: this.upstreamCounter.name, help: this.upstreamCounter.help, type: 'counter', values, aggregator: 'sum' };
    },
  };
}

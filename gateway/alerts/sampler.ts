/**
 * Turns this instance's cumulative counters (egress attempts per endpoint, ingress requests and
 * errors per route, kept by Metrics with plain increments) into the deltas since the last flush:
 * what one batched write adds to the shared window. Nothing here runs per request or delivery.
 */
import type { Metrics } from '../metrics.js';

/** Field names of the window's counts: `<what>|<subject>`. */
export const FIELD = {
  attemptsOk: (endpoint: string) => `d.ok|${endpoint}`,
  attemptsFailed: (endpoint: string) => `d.fail|${endpoint}`,
  requests: (route: string) => `r.all|${route}`,
  upstreamErrors: (route: string) => `r.up|${route}`,
  signatureFailures: (route: string) => `s|${route}`,
} as const;

export class CounterSampler {
  private readonly last = new Map<string, number>();

  constructor(private readonly metrics: Metrics) {}

  /** The counts since the previous call (only those that changed). */
  deltas(): Map<string, number> {
    const out = new Map<string, number>();
    const take = (field: string, total: number) => {
      const d = total - (this.last.get(field) ?? 0);
      if (d <= 0) return;
      out.set(field, d);
      this.last.set(field, total);
    };
    for (const [ep, c] of this.metrics.endpointAttempts.totals()) {
      take(FIELD.attemptsOk(ep), c.ok);
      take(FIELD.attemptsFailed(ep), c.failed);
    }
    for (const r of this.metrics.ingressErrors.totals()) {
      take(FIELD.requests(r.route), r.requests);
      take(FIELD.upstreamErrors(r.route), r.upstreamErrors);
      take(FIELD.signatureFailures(r.route), r.signatureFailures);
    }
    return out;
  }

  /** Counts a failed flush's deltas as not flushed, so the next flush carries them. */
  restore(deltas: ReadonlyMap<string, number>): void {
    for (const [field, d] of deltas) this.last.set(field, (this.last.get(field) ?? 0) - d);
  }
}

/**
 * Attempts per endpoint and result, counted with plain increments in the engine's settle step
 * and exported at scrape time as `hookgate_endpoint_attempts_total{endpoint,result}` (the series
 * behind `delivery_failure_ratio` alerts). Labels stay bounded by the endpoints that exist.
 */

type Sample = { labels: Record<string, string>; value: number };

export class EndpointAttempts {
  private readonly byEndpoint = new Map<string, { ok: number; failed: number }>();

  observe(endpoint: string, ok: boolean): void {
    let c = this.byEndpoint.get(endpoint);
    if (!c) {
      c = { ok: 0, failed: 0 };
      this.byEndpoint.set(endpoint, c);
    }
    if (ok) c.ok++;
    else c.failed++;
  }

  /** Per endpoint: successful and failed attempts since start (what the alert sampler reads). */
  totals(): ReadonlyMap<string, { ok: number; failed: number }> {
    return this.byEndpoint;
  }

  readonly counter = {
    name: 'hookgate_endpoint_attempts_total',
    help: 'Egress delivery attempts by endpoint and result (success, failure)',
    type: 'counter',
    aggregator: 'sum',
    get: () => {
      const values: Sample[] = [];
      for (const [endpoint, c] of this.byEndpoint) {
        values.push({ labels: { endpoint, result: 'success' }, value: c.ok });
        values.push({ labels: { endpoint, result: 'failure' }, value: c.failed });
      }
      return { name: this.counter.name, help: this.counter.help, type: 'counter', values, aggregator: 'sum' };
    },
  };
}

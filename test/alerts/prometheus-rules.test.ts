/**
 * config/prometheus-rules.yaml parses as a Prometheus rule file, and every metric its
 * expressions name is one a running hookgate exports on /metrics.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parse } from 'yaml';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway } from '../support/gateway.js';

// dist/test/alerts/ → the package root is three levels up.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
/** PromQL words that are not metric names. */
const PROMQL = new Set(['sum', 'max', 'min', 'avg', 'count', 'rate', 'increase', 'irate', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);

/** The metric names an expression reads: identifiers outside label matchers, ranges, strings and grouping clauses. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"[^"]*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL.has(w));
}

test('config/prometheus-rules.yaml: Prometheus alerting rules over metrics hookgate exports', async () => {
  const doc = parse(readFileSync(join(ROOT, 'config/prometheus-rules.yaml'), 'utf8')) as { groups: { name: string; rules: Record<string, unknown>[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);
  assert.ok(rules.length >= 4, `${rules.length} rules`);
  // A route with verify-signature: its counter exists once a route uses the plugin.
  const g = await startGateway(
    'routes:\n  - { name: orders-v1, path: /orders, respond: { status: 200 } }\n  - name: github\n    path: /github\n    plugins: [{ verify-signature: { preset: github, secrets: ["a-github-secret-of-some-length"] } }]\n    respond: { status: 204 }\n',
    { services: createDeliveryService },
  );
  try {
    const text = (await g.admin('GET', '/admin/metrics')).text;
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));
    const named = new Set<string>();
    for (const r of rules) {
      assert.equal(typeof r.alert, 'string', JSON.stringify(r));
      assert.equal(typeof r.expr, 'string', `${r.alert}: expr`);
      const names = metricNames(r.expr as string);
      assert.ok(names.length > 0, `${r.alert} names a metric`);
      for (const n of names) {
        assert.ok(exported.has(n), `${r.alert}: ${n} is exported by hookgate`);
        named.add(n);
      }
    }
    // The four examples and hookgate's own view of its alerts.
    for (const m of ['hookgate_endpoint_attempts_total', 'hookgate_delivery_lag_seconds', 'hookgate_upstream_errors_total', 'hookgate_requests_total', 'hookgate_signature_failures_total', 'hookgate_alerts_firing']) assert.ok(named.has(m), m);
  } finally {
    await g.stop();
  }
});

/**
 * `alerts:` and `alerting:` in gateway.yaml: the examples compile as written, defaults
 * come from the schema, and every mistake is a located config error (file, YAML path, line).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { compileAlerts } from '../../gateway/alerts/rules.js';
import { loadConfigText } from '../../gateway/config/load.js';
import { systemTarget } from '../../gateway/delivery/system-deliveries.js';
import { SsrfGuard } from '../../gateway/delivery/ssrf.js';
import { ConfigError } from '../../gateway/errors.js';

const guard = new SsrfGuard({ allowCidrs: ['127.0.0.1/32'] });
after(() => guard.destroy());
const ROUTES = 'routes:\n  - { name: orders-v1, path: /orders, respond: { status: 200 } }\n';

function compileYaml(yaml: string) {
  return compileAlerts(loadConfigText(ROUTES + yaml, '/cfg/gateway.yaml'), guard);
}

/** Asserts a located config error: its path, line and message. */
function refuses(yaml: string, path: string, line: number, message: RegExp): void {
  assert.throws(() => compileYaml(yaml), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.code, 'HG_CONFIG_INVALID');
    assert.equal(err.path, path, err.message);
    assert.equal(err.line, line, err.message);
    assert.equal(err.file, '/cfg/gateway.yaml');
    assert.match(err.message, message);
    return true;
  });
}

describe('alert rules in gateway.yaml', () => {
  test("the issue's examples compile as written, with the schema's defaults", () => {
    const a = compileYaml(`alerts:
  - { name: orders-failing, when: { metric: delivery_failure_ratio, endpoint: "*", over: 5m, above: 0.2 } }
  - { when: { metric: delivery_lag_seconds, above: 300 } }
  - { when: { metric: upstream_5xx_ratio, route: orders-v1, over: 5m, above: 0.05 } }
  - { when: { metric: signature_failures, route: "*", over: 5m, above: 50 }, channels: [operational, { slack: "http://127.0.0.1:1/services/x" }, { webhook: "http://127.0.0.1:1/w" }], cooldown: 30m }
`);
    assert.equal(a.evaluateEveryMs, 10_000);
    assert.deepEqual(
      a.rules.map((r) => [r.name, r.metric, r.subjectKey, r.subject, r.overMs, r.above, r.cooldownMs, r.channels.map((c) => c.kind)]),
      [
        ['orders-failing', 'delivery_failure_ratio', 'endpoint', '*', 300_000, 0.2, 600_000, ['operational']],
        ['delivery_lag_seconds-2', 'delivery_lag_seconds', 'tenant', '*', 0, 300, 600_000, ['operational']],
        ['upstream_5xx_ratio-3', 'upstream_5xx_ratio', 'route', 'orders-v1', 300_000, 0.05, 600_000, ['operational']],
        ['signature_failures-4', 'signature_failures', 'route', '*', 300_000, 50, 1_800_000, ['operational', 'slack', 'webhook']],
      ],
    );
    // Each channel by its reserved system target: the URL itself never goes into the queue.
    assert.deepEqual([...a.channels.keys()].sort(), ['sys:operational', systemTarget({ kind: 'slack', url: 'http://127.0.0.1:1/services/x' }), systemTarget({ kind: 'webhook', url: 'http://127.0.0.1:1/w' })].sort());
    assert.ok(![...a.channels.keys()].some((k) => k.includes('127.0.0.1')));
    assert.deepEqual(compileYaml('alerting: { evaluateEvery: 250ms }\n').evaluateEveryMs, 250);
  });

  test('mistakes are located config errors', () => {
    refuses('alerts:\n  - { name: a, when: { metric: signature_failures, above: 1 } }\n  - { name: a, when: { metric: signature_failures, above: 2 } }\n', 'alerts[1].name', 5, /duplicate alert name "a" \(first used at alerts\[0\]\)/);
    refuses('alerts:\n  - when: { metric: delivery_failure_ratio, route: orders-v1, above: 0.1 }\n', 'alerts[0].when.route', 4, /measured per endpoint; "route" does not apply/);
    refuses('alerts:\n  - when: { metric: upstream_5xx_ratio, route: nope, above: 0.1 }\n', 'alerts[0].when.route', 4, /unknown route "nope" \(declared: orders-v1\)/);
    refuses('alerts:\n  - when: { metric: upstream_5xx_ratio, above: 0.1, below: 0.5 }\n', 'alerts[0].when', 4, /exactly one of "above" and "below"/);
    refuses('alerts:\n  - when:\n      metric: delivery_lag_seconds\n      over: 5m\n      above: 1\n', 'alerts[0].when.over', 6, /current lag; "over" does not apply/);
    refuses('alerting: { evaluateEvery: 10s }\nalerts:\n  - when: { metric: signature_failures, over: 5s, above: 1 }\n', 'alerts[0].when.over', 5, /at least alerting.evaluateEvery/);
    refuses('alerts:\n  - when: { metric: signature_failures, above: 1 }\n    channels: [{ webhook: "http://10.0.0.1/hook" }]\n', 'alerts[0].channels[0]', 5, /10\.0\.0\.1/);
    refuses('alerting: { evaluateEvery: 1ms }\n', 'alerting.evaluateEvery', 3, /at least 50ms/);
    refuses('alerts:\n  - when: { metric: signature_failures, over: soon, above: 1 }\n', 'alerts[0].when.over', 4, /found "soon"/);
    // The schema's own checks are located too.
    assert.throws(() => compileYaml('alerts:\n  - when: { metric: cpu, above: 1 }\n'), (err: unknown) => err instanceof ConfigError && err.path === 'alerts[0].when.metric' && err.line === 4);
    assert.throws(() => compileYaml('alerts:\n  - when: { metric: signature_failures, above: 1 }\n    channels: [pager]\n'), (err: unknown) => err instanceof ConfigError && /alerts\[0\]\.channels\[0\]/.test(err.path ?? ''));
  });
});

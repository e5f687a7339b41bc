/**
 * The alert evaluator on a manual clock: each metric kind's value, fire once and resolve once,
 * the cooldown (which never holds back a resolve), `below` rules, and on the real Redis the
 * compare-and-set that lets only one of two evaluators announce a transition.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MemoryAlertStore, RedisAlertStore, type AlertStore } from '../../gateway/alerts/alert-store.js';
import { AlertEvaluator } from '../../gateway/alerts/evaluator.js';
import type { AlertNotice } from '../../gateway/alerts/notify.js';
import { compileAlerts } from '../../gateway/alerts/rules.js';
import type { Snapshot } from '../../gateway/compile.js';
import { loadConfigText } from '../../gateway/config/load.js';
import { SsrfGuard } from '../../gateway/delivery/ssrf.js';
import { Metrics } from '../../gateway/metrics.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';

const silent = pino({ level: 'silent' });
const guard = new SsrfGuard({ allowCidrs: ['127.0.0.1/32'] });
after(() => guard.destroy());

/** An evaluator over `alertsYaml` on a clock the test moves, with the notifications it sent. */
function harness(alertsYaml: string, opts: { store?: AlertStore; lag?: Record<string, number>; metrics?: Metrics } = {}) {
  const loaded = loadConfigText(`routes:\n  - { name: orders-v1, path: /orders, respond: { status: 200 } }\n${alertsYaml}`, '/tmp/gateway.yaml');
  const snap = { alerts: compileAlerts(loaded, guard) } as unknown as Snapshot;
  let t = 1_000_000_000_000;
  const sent: AlertNotice[] = [];
  const metrics = opts.metrics ?? new Metrics();
  const lag = { ...(opts.lag ?? {}) };
  const ev = new AlertEvaluator({ store: opts.store ?? new MemoryAlertStore(() => t), metrics, logger: silent, now: () => t, snapshot: () => snap, lag: async () => lag, notify: async (n) => void sent.push(n) });
  return {
    ev,
    metrics,
    sent,
    lag,
    advance(ms: number) {
      t += ms;
    },
    /** Moves the clock and runs one tick (flush + evaluation). */
    async step(ms: number) {
      t += ms;
      await ev.tick();
    },
    summary: () => sent.map((n) => `${n.rule.name}:${n.subject}:${n.to}`),
  };
}

describe('alert evaluator', () => {
  test('delivery_failure_ratio per endpoint ("*"): fires once per endpoint, resolves once when the window clears', async () => {
    const h = harness('alerting: { evaluateEvery: 1s }\nalerts:\n  - { name: failing, when: { metric: delivery_failure_ratio, endpoint: "*", over: 5s, above: 0.2 }, cooldown: 0s }\n');
    for (let i = 0; i < 3; i++) h.metrics.endpointAttempts.observe('a', false);
    for (let i = 0; i < 9; i++) h.metrics.endpointAttempts.observe('b', true);
    h.metrics.endpointAttempts.observe('b', false); // 0.1: under the threshold
    await h.step(1000);
    assert.deepEqual(h.summary(), ['failing:a:firing']);
    assert.equal(h.sent[0]!.value, 1);
    // Still failing: no second firing.
    h.metrics.endpointAttempts.observe('a', false);
    await h.step(1000);
    await h.step(1000);
    assert.deepEqual(h.summary(), ['failing:a:firing']);
    // The failures leave the 5 s window: the ratio is 0 and the alert resolves, once.
    for (let i = 0; i < 6; i++) await h.step(1000);
    assert.deepEqual(h.summary(), ['failing:a:firing', 'failing:a:resolved']);
    assert.deepEqual(await h.ev.firing(), { failing: 0 });
    assert.equal(await h.metrics.registry.getSingleMetric('hookgate_alert_evaluations_total')!.get().then((m) => m.values[0]!.value), 9);
  });

  test('cooldown holds back a new firing, never a resolve', async () => {
    const h = harness('alerting: { evaluateEvery: 1s }\nalerts:\n  - { name: flappy, when: { metric: signature_failures, route: orders-v1, over: 1s, above: 2 }, cooldown: 10s }\n');
    const burst = async () => {
      for (let i = 0; i < 3; i++) h.metrics.ingressErrors.observe('orders-v1', 401, 'HG_SIGNATURE_INVALID', false);
      await h.step(1000);
    };
    await burst();
    assert.deepEqual(h.summary(), ['flappy:orders-v1:firing']);
    await h.step(1000); // the window is empty: resolved at once, inside the cooldown
    assert.deepEqual(h.summary(), ['flappy:orders-v1:firing', 'flappy:orders-v1:resolved']);
    await burst(); // 2 s after firing: inside the 10 s cooldown
    await h.step(1000);
    assert.equal(h.sent.length, 2);
    await h.step(8000);
    await burst(); // past the cooldown
    assert.deepEqual(h.summary(), ['flappy:orders-v1:firing', 'flappy:orders-v1:resolved', 'flappy:orders-v1:firing']);
  });

  test('upstream_5xx_ratio counts 5xx answers, timeouts and unavailable upstreams of forwarded requests per route', async () => {
    const h = harness('alerting: { evaluateEvery: 1s }\nalerts:\n  - { name: up, when: { metric: upstream_5xx_ratio, route: "*", over: 5s, above: 0.05 } }\n');
    const ie = h.metrics.ingressErrors;
    for (let i = 0; i < 17; i++) ie.observe('orders-v1', 200, undefined, true);
    ie.observe('orders-v1', 502, 'HG_UPSTREAM_UNAVAILABLE', true);
    ie.observe('orders-v1', 504, 'HG_UPSTREAM_TIMEOUT', true);
    ie.observe('orders-v1', 503, undefined, true);
    // Our own refusals are no upstream errors.
    for (let i = 0; i < 20; i++) ie.observe('other', 500, 'HG_INTERNAL', false);
    await h.step(1000);
    assert.deepEqual(h.summary(), ['up:orders-v1:firing']);
    assert.equal(h.sent[0]!.value, 3 / 20);
  });

  test('delivery_lag_seconds per tenant reads the queue (the system tenant left out); below rules fire under the threshold', async () => {
    const h = harness('alerting: { evaluateEvery: 1s }\nalerts:\n  - { when: { metric: delivery_lag_seconds, above: 300 } }\n  - { name: quiet, when: { metric: signature_failures, route: orders-v1, over: 2s, below: 1 } }\n', { lag: { default: 12, acme: 301, 'hookgate:system': 9999 } });
    await h.step(1000);
    assert.deepEqual(h.summary().sort(), ['delivery_lag_seconds-1:acme:firing', 'quiet:orders-v1:firing']);
    h.lag.acme = 0;
    h.metrics.ingressErrors.observe('orders-v1', 401, 'HG_SIGNATURE_MISSING', false);
    await h.step(1000);
    assert.deepEqual(h.summary().sort(), ['delivery_lag_seconds-1:acme:firing', 'delivery_lag_seconds-1:acme:resolved', 'quiet:orders-v1:firing', 'quiet:orders-v1:resolved']);
  });
});

describe('alert store on Redis', () => {
  const prefix = testPrefix('alert-store');
  const redis = new Redis(REDIS_URL);
  after(async () => {
    await deleteKeys(prefix);
    redis.disconnect();
  });

  test('two evaluators on one store: counts are summed, each transition is announced by exactly one of them', async () => {
    const store = new RedisAlertStore(redis, prefix);
    const yaml = 'alerting: { evaluateEvery: 1s }\nalerts:\n  - { name: failing, when: { metric: delivery_failure_ratio, over: 3s, above: 0.5 } }\n';
    const a = harness(yaml, { store });
    const b = harness(yaml, { store });
    a.metrics.endpointAttempts.observe('ep', false);
    b.metrics.endpointAttempts.observe('ep', true);
    b.metrics.endpointAttempts.observe('ep', false);
    a.advance(1000);
    b.advance(1000);
    await a.ev.flush();
    await b.ev.flush();
    // Both tick at once: the lease lets one evaluate, and the compare-and-set would let only
    // one of two simultaneous transitions through anyway (tried directly below).
    await Promise.all([a.ev.tick(), b.ev.tick()]);
    const evaluated = a.sent.length + b.sent.length;
    assert.equal(evaluated, 1, `one firing in all: ${[...a.summary(), ...b.summary()]}`);
    const n = (a.sent[0] ?? b.sent[0])!;
    assert.equal(n.value, 2 / 3);
    const s = await store.states();
    assert.equal(JSON.parse(s.get('failing|ep')!).state, 'firing');
    // Two transitions tried at once from the same state: one wins.
    const raw = s.get('failing|ep')!;
    const next = JSON.stringify({ state: 'ok', since: 1, value: 0 });
    const t = { alert: 'failing', subject: 'ep', to: 'resolved' as const, at: 1, value: 0 };
    const wins = await Promise.all([store.transition('failing|ep', raw, next, t), store.transition('failing|ep', raw, next, t)]);
    assert.deepEqual(wins.sort(), [false, true]);
    assert.equal((await store.transitions()).length, 2);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upstreamErrorKind } from '../gateway/ingress-errors.js';
import { Metrics } from '../gateway/metrics.js';

test('upstream error kinds: 5xx answers of the upstream, its timeouts and refusals; never our own refusals', () => {
  const kind = (status: number, errorCode: string | undefined, forwarded = true) => upstreamErrorKind({ route: 'r', status, errorCode, forwarded });
  assert.equal(kind(503, undefined), '5xx');
  assert.equal(kind(500, undefined), '5xx');
  assert.equal(kind(504, 'HG_UPSTREAM_TIMEOUT'), 'timeout');
  assert.equal(kind(504, 'HG_DEADLINE_EXCEEDED'), 'timeout');
  assert.equal(kind(502, 'HG_UPSTREAM_UNAVAILABLE'), 'unavailable');
  assert.equal(kind(200, undefined), undefined);
  assert.equal(kind(404, undefined), undefined);
  // Answered by the gateway before any forward (a plugin, a respond route): no upstream error.
  assert.equal(kind(500, 'HG_INTERNAL', false), undefined);
  assert.equal(kind(503, undefined, false), undefined);
  assert.equal(kind(413, 'HG_BODY_TOO_LARGE'), undefined);
});

test('hookgate_upstream_errors_total{route,kind} and hookgate_endpoint_attempts_total{endpoint,result} in Prometheus text', async () => {
  const m = new Metrics();
  m.ingressErrors.observe('orders-v1', 503, undefined, true);
  m.ingressErrors.observe('orders-v1', 504, 'HG_UPSTREAM_TIMEOUT', true);
  m.ingressErrors.observe('orders-v1', 504, 'HG_UPSTREAM_TIMEOUT', true);
  m.ingressErrors.observe('orders-v1', 200, undefined, true);
  m.ingressErrors.observe('github', 401, 'HG_SIGNATURE_INVALID', false);
  m.endpointAttempts.observe('ep', true);
  m.endpointAttempts.observe('ep', false);
  m.endpointAttempts.observe('ep', false);
  const t = await m.registry.metrics();
  assert.match(t, /^hookgate_upstream_errors_total\{route="orders-v1",kind="5xx"\} 1$/m);
  assert.match(t, /^hookgate_upstream_errors_total\{route="orders-v1",kind="timeout"\} 2$/m);
  assert.doesNotMatch(t, /hookgate_upstream_errors_total\{route="github"/);
  assert.match(t, /^hookgate_endpoint_attempts_total\{endpoint="ep",result="success"\} 1$/m);
  assert.match(t, /^hookgate_endpoint_attempts_total\{endpoint="ep",result="failure"\} 2$/m);
  assert.deepEqual([...m.ingressErrors.totals()], [
    { route: 'orders-v1', requests: 4, upstreamErrors: 3, signatureFailures: 0 },
    { route: 'github', requests: 1, upstreamErrors: 0, signatureFailures: 1 },
  ]);
});

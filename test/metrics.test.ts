import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../gateway/metrics.js';

/** The value of one exposition line, or undefined. */
function sample(text: string, line: string): number | undefined {
  const hit = text.split('\n').find((l) => l.startsWith(line + ' '));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
}

test('per-route request counts and latency histogram in Prometheus text: cumulative buckets, le inclusive, sum and count', async () => {
  const m = new Metrics();
  m.observe('a', 200, 0.003);
  m.observe('a', 200, 0.005); // exactly on a bound: counted in le="0.005"
  m.observe('a', 404, 20); // above the last bound: only +Inf
  m.observe('b', 502, 0.0005);
  const t = await m.registry.metrics();
  assert.match(t, /^# TYPE hookgate_requests_total counter$/m);
  assert.match(t, /^# TYPE hookgate_request_duration_seconds histogram$/m);
  assert.equal(sample(t, 'hookgate_requests_total{route="a",status="200"}'), 2);
  assert.equal(sample(t, 'hookgate_requests_total{route="a",status="404"}'), 1);
  assert.equal(sample(t, 'hookgate_requests_total{route="b",status="502"}'), 1);
  assert.equal(sample(t, 'hookgate_request_duration_seconds_bucket{le="0.001",route="a"}'), 0);
  assert.equal(sample(t, 'hookgate_request_duration_seconds_bucket{le="0.005",route="a"}'), 2);
  assert.equal(sample(t, 'hookgate_request_duration_seconds_bucket{le="10",route="a"}'), 2);
  assert.equal(sample(t, 'hookgate_request_duration_seconds_bucket{le="+Inf",route="a"}'), 3);
  assert.equal(sample(t, 'hookgate_request_duration_seconds_count{route="a"}'), 3);
  assert.ok(Math.abs(sample(t, 'hookgate_request_duration_seconds_sum{route="a"}')! - 20.008) < 1e-9);
  assert.equal(sample(t, 'hookgate_request_duration_seconds_bucket{le="0.001",route="b"}'), 1);
});

test('plugin counters: the same name and labels give the same counter (counts survive a reload); a taken name or other labels throw', async () => {
  const m = new Metrics();
  const first = m.counter('hookgate_test_things_total', 'Things', ['route', 'reason']);
  first.inc({ route: 'r', reason: 'x' });
  // A reload's new instance asks again, labels in another order.
  const again = m.counter('hookgate_test_things_total', 'Things', ['reason', 'route']);
  again.inc({ route: 'r', reason: 'x' });
  const t = await m.registry.metrics();
  assert.equal(sample(t, 'hookgate_test_things_total{route="r",reason="x"}'), 2);
  assert.throws(() => m.counter('hookgate_test_things_total', 'Things', ['route']), /already exists with labels/);
  assert.throws(() => m.counter('hookgate_reloads_total', 'A core metric', ['result']), /already been registered/);
});

/**
 * The wait of a job whose endpoint has no free slot: short while few jobs are parked, spread over
 * the endpoint's drain time when many are (so a big backlog does not cycle through the workers
 * every second), forgotten once the endpoint keeps up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BusyBackoff, busyDelayMs, MAX_BUSY_DELAY_MS, MIN_BUSY_DELAY_MS } from '../../gateway/delivery/busy-backoff.js';

test('busyDelayMs: parked jobs come back at twice the completion rate, within [MIN, MAX]', () => {
  // 10 put-backs a second at 0.5 s parks ~5 jobs: the shortest wait.
  assert.equal(busyDelayMs(10, 200, 500), MIN_BUSY_DELAY_MS);
  // 8,000 put-backs a second at 0.5 s parks ~4,000 jobs; at 200 completions a second they come back over 10 s.
  assert.equal(busyDelayMs(8000, 200, 500), 10_000);
  // 20,000 jobs at 4 in flight × 20 ms (200/s): 50 s, capped.
  assert.equal(busyDelayMs(40_000, 200, 500), MAX_BUSY_DELAY_MS);
  // No completion at all (a dead endpoint): at least one a second is assumed.
  assert.equal(busyDelayMs(40, 0, 500), 20_000);
});

test('BusyBackoff grows the wait of a saturated endpoint, per endpoint, and forgets one that keeps up', () => {
  let t = 0;
  const b = new BusyBackoff(() => t, () => 0);
  assert.equal(b.putBack('slow'), MIN_BUSY_DELAY_MS, 'first put-back: the shortest wait');
  // A second with 8,000 put-backs and 200 completions.
  for (let i = 1; i < 8000; i++) b.putBack('slow');
  for (let i = 0; i < 200; i++) b.completed('slow');
  t = 1000;
  const grown = b.putBack('slow');
  assert.equal(grown, Math.round((MIN_BUSY_DELAY_MS + 10_000) / 2), 'half way to the drain-time estimate');
  assert.equal(b.putBack('other'), MIN_BUSY_DELAY_MS, 'another endpoint is not affected');
  // A window without a put-back: the endpoint keeps up; its state goes.
  t = 2000;
  for (let i = 0; i < 50; i++) b.completed('slow');
  t = 3100;
  b.completed('slow');
  assert.equal(b.putBack('slow'), MIN_BUSY_DELAY_MS, 'forgotten: back to the shortest wait');
});

test('BusyBackoff spreads the wait by up to +100 %', () => {
  const b = new BusyBackoff(() => 0, () => 0.999);
  assert.equal(b.putBack('x'), MIN_BUSY_DELAY_MS + Math.floor(0.999 * MIN_BUSY_DELAY_MS));
});

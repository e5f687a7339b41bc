import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SCHEDULE_MS,
  nextDelay,
  parseDuration,
  parseRetryAfter,
  scheduleOf,
  withJitter,
} from '../../gateway/delivery/retry.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const mid = (): number => 0.5; // jitter factor exactly 1
const low = (): number => 0; // -20%
const high = (): number => 0.999999; // ~+20%

describe('parseDuration', () => {
  it('numbers and bare numeric strings are seconds', () => {
    assert.equal(parseDuration(0), 0);
    assert.equal(parseDuration(5), 5 * S);
    assert.equal(parseDuration(0.25), 250);
    assert.equal(parseDuration('30'), 30 * S);
  });
  it('strings with units', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('5s'), 5 * S);
    assert.equal(parseDuration('5m'), 5 * MIN);
    assert.equal(parseDuration('2h'), 2 * H);
    assert.equal(parseDuration('1d'), 24 * H);
    assert.equal(parseDuration('1.5h'), 90 * MIN);
    assert.equal(parseDuration(' 10s '), 10 * S);
  });
  it('throws on bad input', () => {
    for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY, '', 'abc', '-5s', '5x', '5 minutes', 'm', '1e3s', null, undefined]) {
      assert.throws(() => parseDuration(v as unknown as string), /invalid duration/, String(v));
    }
  });
});

describe('scheduleOf', () => {
  it('defaults to the standard schedule (copy, not the frozen constant)', () => {
    assert.deepEqual(scheduleOf(), [0, 5 * S, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H]);
    assert.deepEqual(scheduleOf(), [...DEFAULT_SCHEDULE_MS]);
    assert.notEqual(scheduleOf(), DEFAULT_SCHEDULE_MS);
  });
  it('explicit schedules mix numbers (seconds) and strings', () => {
    assert.deepEqual(scheduleOf({ schedule: [0, '500ms', 10, '1m'] }), [0, 500, 10 * S, MIN]);
    assert.throws(() => scheduleOf({ schedule: [] }), /at least one/);
    assert.throws(() => scheduleOf({ schedule: [0, 'soon'] }), /invalid duration/);
  });
  it('exponential: first attempt immediate, then base*factor^(i-1), capped, attempts total', () => {
    assert.deepEqual(scheduleOf({ baseSec: 1, attempts: 5 }), [0, 1 * S, 2 * S, 4 * S, 8 * S]);
    assert.deepEqual(scheduleOf({ baseSec: 10, factor: 3, maxSec: 100, attempts: 5 }), [0, 10 * S, 30 * S, 90 * S, 100 * S]);
    assert.deepEqual(scheduleOf({ baseSec: 2, factor: 1, attempts: 3 }), [0, 2 * S, 2 * S]);
    assert.deepEqual(scheduleOf({ baseSec: 5, attempts: 1 }), [0]);
    // default cap 24h
    const long = scheduleOf({ baseSec: 3600, attempts: 10 });
    assert.equal(long.length, 10);
    assert.equal(Math.max(...long), 24 * H);
  });
  it('exponential: rejects bad parameters', () => {
    assert.throws(() => scheduleOf({ baseSec: 1, attempts: 0 }), /attempts/);
    assert.throws(() => scheduleOf({ baseSec: 1, attempts: 2.5 }), /attempts/);
    assert.throws(() => scheduleOf({ baseSec: 0, attempts: 3 }), /baseSec/);
    assert.throws(() => scheduleOf({ baseSec: 1, factor: 0.5, attempts: 3 }), /factor/);
    assert.throws(() => scheduleOf({ baseSec: 1, maxSec: 0, attempts: 3 }), /maxSec/);
  });
});

describe('withJitter', () => {
  it('stays within ±ratio and hits the bounds with extreme rand', () => {
    assert.equal(withJitter(10_000, 0.2, mid), 10_000);
    assert.equal(withJitter(10_000, 0.2, low), 8_000);
    assert.equal(withJitter(10_000, 0.2, high), 12_000);
    assert.equal(withJitter(10_000, 0.5, low), 5_000);
    assert.equal(withJitter(0, 0.2, high), 0);
    for (let i = 0; i < 1000; i++) {
      const d = withJitter(60_000);
      assert.ok(d >= 48_000 && d <= 72_000, String(d));
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it('delay-seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120 * S);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
  });
  it('HTTP dates, past dates as 0', () => {
    assert.equal(parseRetryAfter('Wed, 01 May 2024 12:05:00 GMT', now), 5 * MIN);
    assert.equal(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now), 0);
  });
  it('absent or unparsable is undefined', () => {
    for (const h of [undefined, '', 'soon', '-5', '1.5', '12abc', 'Wed, 99 Foo 2024']) {
      assert.equal(parseRetryAfter(h, now), undefined, String(h));
    }
  });
});

describe('nextDelay', () => {
  const schedule = [0, 5 * S, 5 * MIN, 30 * MIN];

  it('uses schedule[attemptsMade] with jitter', () => {
    assert.equal(nextDelay({ schedule, attemptsMade: 1, rand: mid }), 5 * S);
    assert.equal(nextDelay({ schedule, attemptsMade: 2, rand: mid }), 5 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 2, rand: low }), 4 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 2, rand: high }), 6 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 3, rand: mid }), 30 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 0, rand: mid }), 0);
  });

  it('returns null when the schedule is exhausted', () => {
    assert.equal(nextDelay({ schedule, attemptsMade: 4, rand: mid }), null);
    assert.equal(nextDelay({ schedule, attemptsMade: 9, rand: mid }), null);
    assert.equal(nextDelay({ schedule: [0], attemptsMade: 1, rand: mid }), null);
    assert.equal(nextDelay({ schedule: scheduleOf(), attemptsMade: 10, rand: mid }), null);
    assert.equal(nextDelay({ schedule: scheduleOf(), attemptsMade: 9, rand: mid }), 24 * H);
  });

  it('clamps Retry-After to [scheduled, 2*scheduled]', () => {
    // scheduled = 5min
    assert.equal(nextDelay({ schedule, attemptsMade: 2, retryAfterMs: 7 * MIN, rand: mid }), 7 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 2, retryAfterMs: 1 * S, rand: mid }), 5 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 2, retryAfterMs: 0, rand: mid }), 5 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 2, retryAfterMs: 24 * H, rand: mid }), 10 * MIN);
    // bounds follow the jittered value
    assert.equal(nextDelay({ schedule, attemptsMade: 2, retryAfterMs: 24 * H, rand: low }), 8 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 2, retryAfterMs: 0, rand: high }), 6 * MIN);
  });

  it('429 and timeouts wait at least 60 s', () => {
    assert.equal(nextDelay({ schedule, attemptsMade: 1, status: 429, rand: mid }), 60 * S);
    assert.equal(nextDelay({ schedule, attemptsMade: 1, timedOut: true, rand: mid }), 60 * S);
    // Retry-After 2s on 429: clamp to [5s,10s] then floor at 60s
    assert.equal(nextDelay({ schedule, attemptsMade: 1, status: 429, retryAfterMs: 2 * S, rand: mid }), 60 * S);
    // the floor does not shorten longer delays
    assert.equal(nextDelay({ schedule, attemptsMade: 2, status: 429, rand: mid }), 5 * MIN);
    assert.equal(nextDelay({ schedule, attemptsMade: 2, timedOut: true, retryAfterMs: 8 * MIN, rand: mid }), 8 * MIN);
    // other statuses get no floor
    assert.equal(nextDelay({ schedule, attemptsMade: 1, status: 503, rand: mid }), 5 * S);
    assert.equal(nextDelay({ schedule, attemptsMade: 1, status: 500, timedOut: false, rand: mid }), 5 * S);
    // exhausted wins over 429
    assert.equal(nextDelay({ schedule, attemptsMade: 4, status: 429, rand: mid }), null);
  });

  it('overloadMinDelayMs replaces the 60 s floor for 429s and timeouts alike', () => {
    const short = [0, 10];
    assert.equal(nextDelay({ schedule: short, attemptsMade: 1, status: 429, overloadMinDelayMs: 250, rand: mid }), 250);
    assert.equal(nextDelay({ schedule: short, attemptsMade: 1, timedOut: true, overloadMinDelayMs: 250, rand: mid }), 250);
    // still only a floor: a longer scheduled delay stands
    assert.equal(nextDelay({ schedule, attemptsMade: 1, status: 429, overloadMinDelayMs: 250, rand: mid }), 5 * S);
    // other statuses ignore it
    assert.equal(nextDelay({ schedule: short, attemptsMade: 1, status: 503, overloadMinDelayMs: 250, rand: mid }), 10);
  });
});

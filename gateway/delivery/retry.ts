/**
 * Retry policy for egress deliveries: schedules, jitter and how a receiver's answer
 * (Retry-After, 429, timeouts) bends the next delay.
 *
 * A schedule is an array of delays in ms; `schedule[i]` is the delay before attempt i+1, so
 * `schedule[0]` (normally 0) is the first attempt and `schedule.length` is the attempt budget.
 */

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

/** Default: immediately, 5s, 5min, 30min, 2h, 5h, 10h, 14h, 20h, 24h (10 attempts over ~3.3 days). */
export const DEFAULT_SCHEDULE_MS: readonly number[] = Object.freeze([
  0,
  5 * S,
  5 * MIN,
  30 * MIN,
  2 * H,
  5 * H,
  10 * H,
  14 * H,
  20 * H,
  24 * H,
]);

/** Floor for the next delay after a timeout or a 429: the receiver is overloaded, back off. */
export const OVERLOAD_MIN_DELAY_MS = 60 * S;

const UNIT_MS: Record<string, number> = { ms: 1, s: S, m: MIN, h: H, d: 24 * H };

/**
 * Parses a duration to ms. Numbers (and bare numeric strings) are seconds; strings take a unit:
 * `500ms`, `5s`, `5m`, `2h`, `1d` (decimals allowed, e.g. `1.5h`).
 * @throws Error for negative, non-finite or unrecognised values.
 */
export function parseDuration(v: number | string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new Error(`invalid duration ${v}: expected a non-negative number of seconds`);
    return Math.round(v * S);
  }
  if (typeof v !== 'string') throw new Error(`invalid duration ${JSON.stringify(v)}`);
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) throw new Error(`invalid duration "${v}": use seconds or a number with ms, s, m, h or d (e.g. "5m")`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

/**
 * Either an explicit schedule (durations, see `parseDuration`) or an exponential policy:
 * attempt 1 immediately, then `baseSec * factor^(i-1)` seconds before attempt i+1, each capped
 * at `maxSec`, `attempts` attempts in total.
 */
export type RetryPolicy =
  | { schedule: (number | string)[] }
  | { baseSec: number; factor?: number; maxSec?: number; attempts: number };

/** Default exponential factor. */
export const DEFAULT_FACTOR = 2;
/** Default cap for a single exponential delay: 24h. */
export const DEFAULT_MAX_SEC = 24 * 60 * 60;

/**
 * The schedule (ms delays) for a policy; the default schedule when none is given.
 * @throws Error for an empty schedule or invalid exponential parameters.
 */
export function scheduleOf(policy?: RetryPolicy): number[] {
  if (!policy) return [...DEFAULT_SCHEDULE_MS];
  if ('schedule' in policy) {
    if (!Array.isArray(policy.schedule) || policy.schedule.length === 0) {
      throw new Error('retry schedule must list at least one delay');
    }
    return policy.schedule.map(parseDuration);
  }
  const { baseSec, factor = DEFAULT_FACTOR, maxSec = DEFAULT_MAX_SEC, attempts } = policy;
  if (!Number.isInteger(attempts) || attempts < 1) throw new Error('retry attempts must be an integer >= 1');
  if (!Number.isFinite(baseSec) || baseSec <= 0) throw new Error('retry baseSec must be > 0');
  if (!Number.isFinite(factor) || factor < 1) throw new Error('retry factor must be >= 1');
  if (!Number.isFinite(maxSec) || maxSec <= 0) throw new Error('retry maxSec must be > 0');
  const out = [0];
  for (let i = 1; i < attempts; i++) out.push(Math.round(Math.min(baseSec * factor ** (i - 1), maxSec) * S));
  return out;
}

/**
 * `ms` spread uniformly over ±`ratio` (default ±20%) so retries from many deliveries that
 * failed together do not hit the receiver in lockstep. `rand` returns [0, 1).
 */
export function withJitter(ms: number, ratio = 0.2, rand: () => number = Math.random): number {
  return Math.max(0, Math.round(ms * (1 + ratio * (2 * rand() - 1))));
}

/**
 * Parses a Retry-After header: delay-seconds or an HTTP date. Returns ms from `nowMs`
 * (0 for dates in the past) or undefined if absent/unparsable.
 */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const v = header.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * S;
  // Only accept things that look like a date; Date.parse is lenient with bare numbers etc.
  if (!/[a-z]/i.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

export interface NextDelayInput {
  /** The schedule in ms (see `scheduleOf`). */
  schedule: readonly number[];
  /** Attempts made so far, including the one that just failed. */
  attemptsMade: number;
  /** HTTP status of the failed attempt, if there was a response. */
  status?: number;
  /** Parsed Retry-After of the failed attempt (see `parseRetryAfter`). */
  retryAfterMs?: number;
  /** True if the failed attempt timed out. */
  timedOut?: boolean;
  /** Floor after a timeout or a 429 (default `OVERLOAD_MIN_DELAY_MS`; tests shorten it). */
  overloadMinDelayMs?: number;
  /** Random source for the jitter, [0, 1). */
  rand?: () => number;
}

/**
 * The delay before the next attempt, or null when the schedule is exhausted.
 *
 * 1. `attemptsMade >= schedule.length` → null (no attempts left).
 * 2. scheduled = withJitter(schedule[attemptsMade], 0.2, rand).
 * 3. If `retryAfterMs` is given, the delay is retryAfterMs clamped to [scheduled, 2 × scheduled]:
 *    the receiver may stretch our backoff (up to double) but never shorten it.
 * 4. If the attempt timed out or got 429, the delay is at least `overloadMinDelayMs` (60 s,
 *    `OVERLOAD_MIN_DELAY_MS`, unless given). This is the only overload floor: callers pass the
 *    knob rather than flooring again.
 */
export function nextDelay(input: NextDelayInput): number | null {
  const { schedule, attemptsMade, status, retryAfterMs, timedOut, overloadMinDelayMs = OVERLOAD_MIN_DELAY_MS, rand = Math.random } = input;
  if (attemptsMade >= schedule.length) return null;
  const scheduled = withJitter(schedule[Math.max(0, attemptsMade)]!, 0.2, rand);
  let delay = scheduled;
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs)) {
    delay = Math.min(Math.max(retryAfterMs, scheduled), 2 * scheduled);
  }
  if (timedOut || status === 429) delay = Math.max(delay, overloadMinDelayMs);
  return Math.round(delay);
}

/** Outcome of a timestamp check: within tolerance, too old, or too far ahead of our clock. */
export type TimestampCheck = 'ok' | 'stale' | 'future';

/**
 * Checks a signed timestamp (Unix seconds) against the local clock, in both directions.
 *
 * A timestamp more than `toleranceSec` in the past is `stale` (a replay); more than
 * `toleranceSec` in the future is `future` (a pre-signed message or a skewed clock). A value
 * that is not a finite number is reported as `stale`; callers should reject unparseable
 * headers before getting here.
 */
export function checkTimestamp(tsSeconds: number, toleranceSec: number, nowMs: number = Date.now()): TimestampCheck {
  if (!Number.isFinite(tsSeconds)) return 'stale';
  const deltaMs = nowMs - tsSeconds * 1000;
  const tolMs = toleranceSec * 1000;
  if (deltaMs > tolMs) return 'stale';
  if (-deltaMs > tolMs) return 'future';
  return 'ok';
}

/**
 * How long a job waits when its endpoint has no free slot (all `maxInFlight` busy). A fixed
 * 0.5–1 s made a big backlog to a slow endpoint cycle through the workers every second: 20,000
 * jobs for an endpoint that takes 4 at a time, 20 ms each, came back some 26,000 times a second
 * to drain at 200 a second, a core's worth of useless job runs that starved everything else on
 * the event loop. Instead the wait spreads the parked jobs over the time the endpoint needs to
 * drain them: they come back at about twice its completion rate.
 */

/** The shortest wait (also the wait while few jobs are parked), and the longest. */
export const MIN_BUSY_DELAY_MS = 500;
export const MAX_BUSY_DELAY_MS = 30_000;
/** How often the rates behind the wait are measured. */
const WINDOW_MS = 1000;

interface Window {
  startedAt: number;
  putBacks: number;
  completions: number;
  /** The wait now (before jitter). */
  delayMs: number;
}

/**
 * The next wait from one window's counts: parked jobs ≈ put-backs a second × the wait they got,
 * to come back at twice the completions a second; clamped to [MIN, MAX].
 */
export function busyDelayMs(putBacksPerSec: number, completionsPerSec: number, currentDelayMs: number): number {
  const parked = putBacksPerSec * (currentDelayMs / 1000);
  const target = (parked / Math.max(2 * completionsPerSec, 1)) * 1000;
  return Math.round(Math.min(MAX_BUSY_DELAY_MS, Math.max(MIN_BUSY_DELAY_MS, target)));
}

/** Per endpoint, the wait for a job that found no free slot; state only for endpoints that had one lately. */
export class BusyBackoff {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly now: () => number,
    private readonly rand: () => number,
  ) {}

  /** A job of `key` found no slot: how long it waits (with jitter up to +100 %), without an attempt. */
  putBack(key: string): number {
    const w = this.current(key, true)!;
    w.putBacks++;
    return w.delayMs + Math.floor(this.rand() * w.delayMs);
  }

  /** An attempt of `key` finished (its slot is free again). */
  completed(key: string): void {
    const w = this.current(key, false);
    if (w) w.completions++;
  }

  /** The window of `key`, rolled over when a second has passed; created only for a put-back. */
  private current(key: string, create: boolean): Window | undefined {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w) {
      if (!create) return undefined;
      w = { startedAt: t, putBacks: 0, completions: 0, delayMs: MIN_BUSY_DELAY_MS };
      this.windows.set(key, w);
      return w;
    }
    const elapsed = t - w.startedAt;
    if (elapsed < WINDOW_MS) return w;
    if (w.putBacks === 0 && !create) {
      // No job parked for a whole window: the endpoint keeps up again; forget it.
      this.windows.delete(key);
      return undefined;
    }
    const next = busyDelayMs((w.putBacks * 1000) / elapsed, (w.completions * 1000) / elapsed, w.delayMs);
    // Half the way each window: the estimate swings as parked jobs come back in waves.
    w.delayMs = Math.round((w.delayMs + next) / 2);
    w.startedAt = t;
    w.putBacks = 0;
    w.completions = 0;
    return w;
  }
}

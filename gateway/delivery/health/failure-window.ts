/**
 * The failure ratio of an endpoint's recent attempts, as this instance made them: two buckets of
 * one window each, the previous one weighted by how much of it still overlaps the window (a
 * sliding window without a list of attempts). Per instance and in memory on purpose: counting
 * every attempt in the store would cost a round trip per delivery; with a shared queue each
 * instance's attempts are a fair sample of the endpoint's.
 */
interface Buckets {
  start: number;
  attempts: number;
  failures: number;
  prevAttempts: number;
  prevFailures: number;
}

export class FailureWindows {
  private readonly byEndpoint = new Map<string, Buckets>();

  private roll(id: string, now: number, windowMs: number): Buckets {
    let b = this.byEndpoint.get(id);
    if (!b) {
      b = { start: now, attempts: 0, failures: 0, prevAttempts: 0, prevFailures: 0 };
      this.byEndpoint.set(id, b);
    }
    const elapsed = now - b.start;
    if (elapsed >= 2 * windowMs) Object.assign(b, { start: now, attempts: 0, failures: 0, prevAttempts: 0, prevFailures: 0 });
    else if (elapsed >= windowMs) Object.assign(b, { start: b.start + windowMs, prevAttempts: b.attempts, prevFailures: b.failures, attempts: 0, failures: 0 });
    return b;
  }

  /** Counts an attempt; returns the window's (attempts, failures) after it. */
  add(id: string, failed: boolean, now: number, windowMs: number): { attempts: number; failures: number } {
    const b = this.roll(id, now, windowMs);
    b.attempts++;
    if (failed) b.failures++;
    const weight = Math.max(0, 1 - (now - b.start) / windowMs);
    return { attempts: b.attempts + b.prevAttempts * weight, failures: b.failures + b.prevFailures * weight };
  }

  /** Starts the endpoint afresh (the breaker closed). */
  reset(id: string): void {
    this.byEndpoint.delete(id);
  }
}

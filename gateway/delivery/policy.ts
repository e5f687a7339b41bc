/**
 * The attempt policy: what a finished attempt means for its delivery and its endpoint. How
 * Retry-After and overload bend the delivery's schedule (chosen by effective-policy.ts) into the
 * next delay (see `nextDelay`), the 410 and 3xx rules, the attempts that raise failing/recovered, and when a failing streak
 * disables an endpoint. The engine carries the verdicts out.
 */
import type { EgressConfig } from '../config/types.js';
import { nextDelay, parseRetryAfter } from './retry.js';
import type { AttemptResult } from './transport.js';
import type { DeliveryRepository, EndpointRecord } from './types.js';

/** The attempt whose failure raises `message.attempt.failing`; a success after it is a recovery. */
const FAILING_AT_ATTEMPT = 4;

/** What to do with a delivery after an attempt. */
export type Verdict =
  | { kind: 'delivered'; /** Delivered to an endpoint after it was reported failing. */ recovered: boolean }
  /** An endpoint answered 410 Gone: the delivery fails and the endpoint is disabled, no retry. */
  | { kind: 'gone'; error?: string }
  | { kind: 'retry'; delayMs: number; error?: string; /** This failure makes the delivery failing (endpoints). */ failing: boolean }
  | { kind: 'exhausted'; error?: string };

export interface AttemptPolicyOptions {
  repo: DeliveryRepository;
  now: () => number;
  rand: () => number;
  /** The overload floor after a timeout or a 429; undefined for `nextDelay`'s default (60 s). */
  overloadMinDelayMs?: number;
}

/** Only a 2xx is a delivery. */
export function delivered(r: AttemptResult): boolean {
  return r.status >= 200 && r.status < 300;
}

export class AttemptPolicy {
  private readonly lastCleared = new Map<string, number>();

  constructor(private readonly opts: AttemptPolicyOptions) {}

  /**
   * Judges attempt number `attemptNo` to `ep` (null for async ingress); `schedule` is the
   * delivery's effective retry schedule (effective-policy.ts), resolved when the attempt began.
   * `requeuedAfter` is the attempts made before the delivery was last requeued (admin retry,
   * recover): the schedule, the failing attempt and recoveries count from there, so a manual
   * retry gets a fresh schedule while its attempt numbers continue.
   */
  judge(r: AttemptResult, attemptNo: number, ep: EndpointRecord | null, schedule: readonly number[], requeuedAfter = 0): Verdict {
    const n = Math.max(1, attemptNo - requeuedAfter);
    if (delivered(r)) return { kind: 'delivered', recovered: ep !== null && n > FAILING_AT_ATTEMPT };
    const error = r.error || (r.status >= 300 && r.status < 400 ? 'redirects are not followed' : undefined);
    if (ep && r.status === 410) return { kind: 'gone', error };
    const delayMs = nextDelay({
      schedule,
      attemptsMade: n,
      status: r.status,
      retryAfterMs: parseRetryAfter(r.retryAfter, this.opts.now()),
      timedOut: r.timedOut,
      overloadMinDelayMs: this.opts.overloadMinDelayMs,
      rand: this.opts.rand,
    });
    if (delayMs === null) return { kind: 'exhausted', error };
    return { kind: 'retry', delayMs, error, failing: ep !== null && n === FAILING_AT_ATTEMPT };
  }

  /**
   * Whether `judge`'s verdict on attempt `attemptNo` depends on where the delivery was last
   * requeued: for a failure (the schedule, the failing attempt) or a late success (a recovery).
   * The engine reads the requeue point only then, never for the common first-attempt success.
   */
  needsRequeuePoint(r: AttemptResult, attemptNo: number): boolean {
    return attemptNo > 1 && (!delivered(r) || attemptNo > FAILING_AT_ATTEMPT);
  }

  /** After a delivery to the endpoint: its failing streak is over. */
  async succeeded(endpointId: string, attemptNo: number): Promise<void> {
    // Clearing the streak on every success would cost a write per delivery; once a second per
    // endpoint is enough (a streak is measured in hours). A success after a failure always clears.
    const t = this.opts.now();
    if (attemptNo > 1 || t - (this.lastCleared.get(endpointId) ?? 0) >= 1000) {
      this.lastCleared.set(endpointId, t);
      await this.opts.repo.clearFailing(endpointId);
    }
  }

  /** After a failed attempt to the endpoint: the reason to disable it once its streak has lasted `disableAfterHours`, else null. */
  async failed(endpointId: string, egress: EgressConfig): Promise<string | null> {
    const since = await this.opts.repo.markFailing(endpointId, this.opts.now());
    if (this.opts.now() - since < egress.disableAfterHours * 3600_000) return null;
    return `failing without a success for ${egress.disableAfterHours} h`;
  }
}

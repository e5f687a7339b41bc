import type { Exchange } from './exchange.js';

/** How often the in-flight exchanges are checked: deadlines hold to within this. */
export const SWEEP_EVERY_MS = 250;

/** What the pipeline does with an exchange that ran out of time. */
export interface DeadlineExits {
  /**
   * `limits.requestTimeoutMs` passed before the response started. `receiving` is true when the
   * gateway was still reading a body the client had not finished sending (the client's delay).
   */
  deadline(ex: Exchange, receiving: boolean): void;
  /** No body byte arrived for `limits.bodyIdleTimeoutMs` while the gateway was reading the body. */
  bodyIdle(ex: Exchange): void;
}

/**
 * The deadlines of the exchanges whose response has not started yet: the whole-request deadline
 * and the body idle timeout. One interval sweeps an intrusive list (links on the exchange, so
 * tracking a request allocates nothing and costs no timer); the interval runs only while the list
 * is not empty. An exchange whose response has started leaves the list at the next sweep, so a
 * long streamed response is never cut by the deadline.
 *
 * Body progress is read from the socket's `bytesRead`, and only while the body is being read
 * (the stream is flowing): a gap caused by the gateway itself (a plugin still working, an
 * upstream applying back-pressure) is not the client's.
 */
export class RequestDeadlines {
  private head: Exchange | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(private readonly exits: DeadlineExits) {}

  /** Starts the clock of a new exchange (its snapshot's limits apply). */
  track(ex: Exchange): void {
    const { requestTimeoutMs, bodyIdleTimeoutMs } = ex.snap.config.limits;
    if (requestTimeoutMs === 0 && bodyIdleTimeoutMs === 0) return;
    ex.deadlineAt = requestTimeoutMs > 0 ? ex.ctx.startedAt + requestTimeoutMs : Infinity;
    ex.bodyIdleSince = ex.ctx.startedAt;
    ex.pending = true;
    ex.pendingNext = this.head;
    if (this.head) this.head.pendingPrev = ex;
    this.head = ex;
    this.timer ??= setInterval(this.sweep, SWEEP_EVERY_MS).unref();
  }

  /** The exchange is over (or answered): no deadline applies any more. */
  untrack(ex: Exchange): void {
    if (!ex.pending) return;
    ex.pending = false;
    const { pendingPrev: prev, pendingNext: next } = ex;
    if (prev) prev.pendingNext = next;
    else this.head = next;
    if (next) next.pendingPrev = prev;
    ex.pendingPrev = ex.pendingNext = undefined;
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    for (let ex = this.head; ex !== undefined; ) {
      const next = ex.pendingNext;
      this.check(ex, now);
      ex = next;
    }
    if (this.head === undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  };

  private check(ex: Exchange, now: number): void {
    const { req, res } = ex;
    if (ex.closed || res.headersSent) return this.untrack(ex);
    const reading = !req.complete && req.readableFlowing === true;
    if (now >= ex.deadlineAt) {
      this.untrack(ex);
      return this.exits.deadline(ex, reading);
    }
    const idleMs = ex.snap.config.limits.bodyIdleTimeoutMs;
    if (idleMs === 0) return;
    if (!reading) {
      ex.bodyIdleSince = now;
      return;
    }
    const seen = req.socket.bytesRead;
    if (seen !== ex.bodyBytesSeen) {
      ex.bodyBytesSeen = seen;
      ex.bodyIdleSince = now;
    } else if (now - ex.bodyIdleSince >= idleMs) {
      this.untrack(ex);
      this.exits.bodyIdle(ex);
    }
  }

  /** Stops the sweep (the pipeline is closing). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

import { DEFAULT_TENANT } from '../config/types.js';
import { FairLanes, laneId, laneOf, retryCap } from './fair-lanes.js';
import { OrderedKeys } from './ordered-keys.js';

/** One unit of work: deliver message `msgId` to `target`. `attempts` counts attempts already made. */
export interface QueueJob {
  msgId: string;
  target: string;
  attempts: number;
}

/** What the processor tells the queue: done, or run again later (counting an attempt or not). */
export type JobOutcome = { kind: 'done' } | { kind: 'retry'; delayMs: number; attempted: boolean };

export type Processor = (job: QueueJob) => Promise<JobOutcome>;

/**
 * Called for an ordered job whose key was skipped past while its attempt ran (or while it waited
 * for a retry), and that is queued nowhere now: its attempt may have recorded it pending after the
 * skip made it a dead letter, so the caller makes it read as one again.
 */
export type SkippedJobHandler = (job: QueueJob) => Promise<void>;

/**
 * A delivery to queue. `attempts` counts attempts already made (0 for a new delivery; a requeue
 * passes the recorded count, so attempt numbers continue); `tenant` is for fair scheduling.
 */
export interface NewJob {
  msgId: string;
  target: string;
  tenant?: string;
  attempts?: number;
  /**
   * Ordered delivery (a target with `ordering: per-key`): the message's ordering key. Deliveries
   * of one key to one target run one at a time, in the order they were added.
   */
  orderingKey?: string;
}

/** The head an ordering key's skip ended: its message and the attempts it had made. */
export interface SkippedHead {
  msgId: string;
  attempts: number;
}

/** The queue interface with two drivers: in-process (memory, below) and Redis Streams (stream-queue.ts). */
export interface DeliveryQueue {
  readonly durable: boolean;
  /**
   * `tenant` is for fair scheduling (default 'default'); `attempts` = attempts already made.
   * A delivery that is still queued (waiting, delayed or running) is not queued twice.
   */
  add(jobs: NewJob[]): Promise<void>;
  start(processor: Processor): void;
  /**
   * Stops taking work; waits for running jobs up to the deadline; unfinished work stays queued.
   * `add` keeps working until `intakeClosed` settles (producers still draining); only then are
   * the producer's connections closed.
   */
  stop(deadlineMs: number, intakeClosed?: Promise<void>): Promise<void>;
  /** What is queued now, for `hookgate_queue_depth` and `hookgate_delivery_lag_seconds`. */
  stats(): Promise<QueueStats>;
  /**
   * Ordered delivery: ends the head of `key`'s deliveries to `target` without delivering it (the
   * caller dead-letters it) and lets the next one go; null when the key has nothing queued.
   */
  skipHead(target: string, key: string): Promise<SkippedHead | null>;
  /** Per target of `targets`, how long (s) its oldest ordering key has been blocked behind a failed head (0: none). */
  orderingBlocked(targets: readonly string[]): Promise<Record<string, number>>;
}

/** Queue depth by state, and per tenant the age of its oldest due delivery (seconds). */
export interface QueueStats {
  waiting: number;
  delayed: number;
  lagSeconds: Record<string, number>;
}

/** The key of a delivery in the "already queued" set. */
const jobKey = (msgId: string, target: string): string => `${msgId}\t${target}`;

interface HeldJob extends QueueJob {
  tenant: string;
  /**
   * Since when the delivery has been due: when it was queued or its retry delay ended. A job put
   * back without an attempt (throttle, busy endpoint) keeps it: it has been waiting all along.
   */
  dueAt: number;
  /** Put back without an attempt: due, though waiting in a timer. */
  heldBack?: boolean;
  orderingKey?: string;
}

/** In-process queue: not durable (a restart loses queued work), for the embedded default. Fair like the Redis one. */
export class MemoryQueue implements DeliveryQueue {
  readonly durable = false;
  private readonly lanes = new FairLanes<HeldJob>();
  /** Deliveries waiting, delayed or running: a second add of one is a no-op. */
  private readonly queued = new Set<string>();
  private readonly timers = new Map<NodeJS.Timeout, HeldJob>();
  private readonly ordered = new OrderedKeys<HeldJob>();
  private running = 0;
  private runningRetries = 0;
  private processor: Processor | undefined;
  private stopped = false;
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly concurrency: number,
    private readonly now: () => number = Date.now,
    private readonly onSkipped?: SkippedJobHandler,
  ) {}

  async add(jobs: NewJob[]): Promise<void> {
    for (const j of jobs) {
      const key = jobKey(j.msgId, j.target);
      if (this.queued.has(key)) continue;
      this.queued.add(key);
      const tenant = j.tenant ?? DEFAULT_TENANT;
      const job: HeldJob = { msgId: j.msgId, target: j.target, attempts: j.attempts ?? 0, tenant, dueAt: this.now() };
      if (j.orderingKey !== undefined) job.orderingKey = j.orderingKey;
      // An ordered job waits behind its key's head; the head's done moves it up (settled, below).
      if (j.orderingKey === undefined || this.ordered.join(j.target, j.orderingKey, job)) this.lanes.push(laneId(tenant, false), job);
    }
    this.pump();
  }

  start(processor: Processor): void {
    this.processor = processor;
    this.pump();
  }

  private pump(): void {
    while (this.processor && !this.stopped && this.running < this.concurrency) {
      const next = this.lanes.take(this.runningRetries < retryCap(this.concurrency));
      if (!next) return;
      const { job } = next;
      // A skipped head's entry (its key moved on): dropped, never run out of order.
      if (job.orderingKey !== undefined && !this.ordered.isHead(job.target, job.orderingKey, job.msgId)) continue;
      const retry = laneOf(next.lane).retry;
      this.running++;
      if (retry) this.runningRetries++;
      this.processor({ msgId: job.msgId, target: job.target, attempts: job.attempts })
        .then(
          (out) => {
            const key = job.orderingKey;
            if (key !== undefined && !this.ordered.isHead(job.target, key, job.msgId)) {
              // Skipped while it ran: unless queued again since, what its attempt recorded must not undo the dead letter.
              if (!this.queued.has(jobKey(job.msgId, job.target))) void this.onSkipped?.(job).catch(() => {});
              return;
            }
            if (out.kind === 'retry') {
              if (key !== undefined && out.attempted) this.ordered.markFailing(job.target, key, this.now());
              this.later({ ...job, attempts: job.attempts + (out.attempted ? 1 : 0), heldBack: !out.attempted }, out.delayMs);
            } else {
              this.queued.delete(jobKey(job.msgId, job.target));
              if (key !== undefined) this.moveUp(job.target, key, job.msgId);
            }
          },
          // The processor handles its own errors; this is a last resort so no job is lost.
          () => this.later({ ...job, heldBack: true }, 1000),
        )
        .finally(() => {
          this.running--;
          if (retry) this.runningRetries--;
          if (this.running === 0) for (const f of this.idle) f();
          this.pump();
        });
    }
  }

  /** An ordered head is done or skipped: the key's next delivery enters its lane. */
  private moveUp(target: string, key: string, msgId: string): void {
    const next = this.ordered.advance(target, key, msgId);
    if (next) this.lanes.push(laneId(next.tenant, false), { ...next, dueAt: this.now() });
  }

  async skipHead(target: string, key: string): Promise<SkippedHead | null> {
    const head = this.ordered.head(target, key);
    if (!head) return null;
    // The head's own attempts: a retry waiting in a timer carries the latest count.
    let attempts = head.attempts;
    for (const [t, j] of this.timers) {
      if (j.msgId !== head.msgId || j.target !== target) continue;
      attempts = j.attempts;
      clearTimeout(t);
      this.timers.delete(t);
    }
    this.queued.delete(jobKey(head.msgId, target));
    this.moveUp(target, key, head.msgId);
    this.pump();
    return { msgId: head.msgId, attempts };
  }

  async orderingBlocked(targets: readonly string[]): Promise<Record<string, number>> {
    return this.ordered.blockedSeconds(targets, this.now());
  }

  private later(job: HeldJob, delayMs: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.lanes.push(laneId(job.tenant, true), job.heldBack ? job : { ...job, dueAt: this.now() });
      this.pump();
    }, delayMs);
    this.timers.set(t, job);
  }

  async stats(): Promise<QueueStats> {
    const lagSeconds: Record<string, number> = {};
    const t = this.now();
    const due = [...[...this.lanes.all()].map((e) => e.job), ...[...this.timers.values()].filter((j) => j.heldBack)];
    for (const job of due) {
      const age = Math.max(0, (t - job.dueAt) / 1000);
      if (age > (lagSeconds[job.tenant] ?? -1)) lagSeconds[job.tenant] = age;
    }
    return { waiting: this.lanes.size + this.ordered.waitingBehind, delayed: this.timers.size, lagSeconds };
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.keys()) clearTimeout(t);
    this.timers.clear();
    if (this.running === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, deadlineMs);
      this.idle.add(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisConnectionOptions } from '../store/redis-connection.js';

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
 * A delivery to queue. `attempts` counts attempts already made (0 for a new delivery; a requeue
 * passes the recorded count, so attempt numbers continue); `tenant` is for fair scheduling.
 */
export interface NewJob {
  msgId: string;
  target: string;
  tenant?: string;
  attempts?: number;
}

/** The queue interface with two drivers: in-process (memory) and BullMQ on Redis. */
export interface DeliveryQueue {
  readonly durable: boolean;
  /** `tenant` is for fair scheduling (default 'default'); `attempts` = attempts already made. */
  add(jobs: NewJob[]): Promise<void>;
  start(processor: Processor): void;
  /**
   * Stops taking work; waits for running jobs up to the deadline; unfinished work stays queued.
   * `add` keeps working until `intakeClosed` settles (producers still draining); only then are
   * the producer's connections closed.
   */
  stop(deadlineMs: number, intakeClosed?: Promise<void>): Promise<void>;
}

/** In-process queue: not durable (a restart loses queued work), for the embedded default. */
export class MemoryQueue implements DeliveryQueue {
  readonly durable = false;
  private readonly ready: QueueJob[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = 0;
  private processor: Processor | undefined;
  private stopped = false;
  private readonly idle = new Set<() => void>();

  constructor(private readonly concurrency: number) {}

  async add(jobs: NewJob[]): Promise<void> {
    for (const j of jobs) this.ready.push({ msgId: j.msgId, target: j.target, attempts: j.attempts ?? 0 });
    this.pump();
  }

  start(processor: Processor): void {
    this.processor = processor;
    this.pump();
  }

  private pump(): void {
    while (this.processor && !this.stopped && this.running < this.concurrency && this.ready.length) {
      const job = this.ready.shift()!;
      this.running++;
      this.processor(job)
        .then(
          (out) => {
            if (out.kind === 'retry') this.later({ ...job, attempts: job.attempts + (out.attempted ? 1 : 0) }, out.delayMs);
          },
          // The processor handles its own errors; this is a last resort so no job is lost.
          () => this.later(job, 1000),
        )
        .finally(() => {
          this.running--;
          if (this.running === 0) for (const f of this.idle) f();
          this.pump();
        });
    }
  }

  private later(job: QueueJob, delayMs: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.ready.push(job);
      this.pump();
    }, delayMs);
    this.timers.add(t);
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
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

export interface BullQueueOptions {
  url: string;
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  logger: Logger;
  name?: string;
}

interface JobData {
  m: string;
  t: string;
  a: number;
}

/**
 * BullMQ on ioredis. A job is written to Redis before the producer gets its 202, and a job whose
 * worker died (kill -9) is found stalled after its lock expires and runs again: at-least-once.
 * Retries are ours (the schedule, Retry-After, rate limits), done by moving the same job to the
 * delayed set, so its id and attempt count survive restarts.
 */
export class BullDeliveryQueue implements DeliveryQueue {
  readonly durable = true;
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private connection: Redis | undefined;
  /** Set by a forced stop: running jobs are left to the stalled-job check. */
  private abandoned = false;
  private readonly producer: Redis;
  private readonly name: string;

  constructor(private readonly opts: BullQueueOptions) {
    this.name = opts.name ?? 'deliveries';
    // The producer fails fast when Redis is down, so the gateway answers 503 instead of a 202 it can't keep.
    this.producer = new Redis(opts.url, redisConnectionOptions('fail-fast'));
    this.producer.on('error', () => {});
    // Cap BullMQ's event stream: nothing here reads it, and it would otherwise cost memory per job.
    this.queue = new Queue(this.name, { connection: this.producer, prefix: `${opts.prefix}bull`, streams: { events: { maxLen: 100 } } });
    this.queue.on('error', () => {});
  }

  async add(jobs: NewJob[]): Promise<void> {
    await this.queue.addBulk(
      jobs.map((j) => ({
        name: 'd',
        data: { m: j.msgId, t: j.target, a: j.attempts ?? 0 } satisfies JobData,
        // Deterministic ids: re-queueing a delivery that is still queued is a no-op, not a duplicate.
        opts: { jobId: `${j.msgId}--${j.target}`, removeOnComplete: true, removeOnFail: true },
      })),
    );
  }

  start(processor: Processor): void {
    const connection = new Redis(this.opts.url, redisConnectionOptions('blocking'));
    connection.on('error', () => {});
    this.connection = connection;
    this.worker = new Worker<JobData>(
      this.name,
      async (job: Job<JobData>, token?: string) => {
        const out = await processor({ msgId: job.data.m, target: job.data.t, attempts: job.data.a ?? 0 });
        // After a forced stop nothing more is written for this job: it stays active in Redis and
        // runs again once its lock expires (at-least-once).
        if (this.abandoned) return new Promise<never>(() => {});
        if (out.kind === 'done') return;
        if (out.attempted) await job.updateData({ ...job.data, a: (job.data.a ?? 0) + 1 });
        await job.moveToDelayed(Date.now() + out.delayMs, token);
        throw new DelayedError();
      },
      {
        connection,
        prefix: `${this.opts.prefix}bull`,
        concurrency: this.opts.concurrency,
        lockDuration: this.opts.lockDurationMs,
        stalledInterval: Math.max(1000, Math.floor(this.opts.lockDurationMs / 2)),
        // A stalled job is one whose worker died: always run it again, never fail it for stalling.
        maxStalledCount: 1_000_000,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 0 },
      },
    );
    // Connection errors are retried by ioredis; log once per burst, never crash.
    let lastLog = 0;
    this.worker.on('error', (err) => {
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        this.opts.logger.warn({ err: err.message, code: 'HG_QUEUE_UNAVAILABLE' }, 'delivery queue error; retrying');
      }
    });
  }

  async stop(deadlineMs: number, intakeClosed: Promise<void> = Promise.resolve()): Promise<void> {
    const w = this.worker;
    if (w) {
      this.opts.logger.info({ deadlineMs }, 'delivery queue stopping: no new jobs; waiting for running ones');
      // Graceful close waits for running jobs. Past the deadline — or when Redis is down, where
      // BullMQ's close waits forever for a disconnect ioredis never reports — abandon them and cut
      // the worker's connections: unfinished jobs keep their Redis state and run again after
      // their lock expires.
      const closing = w.close();
      closing.catch(() => {});
      if (await settlesWithin(closing, deadlineMs)) {
        await settlesWithin(w.disconnect(), 1000);
      } else {
        this.abandoned = true;
        this.opts.logger.warn({ code: 'HG_QUEUE_STOP_FORCED' }, 'delivery workers did not stop in time; unfinished jobs run again after their lock expires');
        const internals = workerInternals(w);
        cutClient(internals.blockingClient);
        cutClient(this.connection);
        await internals.lockManager?.close?.().catch(() => {});
        await settlesWithin(closing, 1000);
      }
    }
    this.connection?.disconnect();
    // A request still draining may be adding a job: its 202 needs the producer.
    await intakeClosed;
    await settlesWithin(this.queue.close(), 1000);
    this.producer.disconnect();
  }
}

/** The BullMQ Worker internals a forced stop reaches for (see `workerInternals`). */
export interface WorkerInternals {
  /** The ioredis client of the worker's blocking connection (BullMQ's duplicate of ours). */
  blockingClient?: Redis;
  /** Renews the locks of running jobs; its timer only stops at the end of a close that may never end. */
  lockManager?: { close?: () => Promise<void> };
}

/**
 * BullMQ internals (5.x), named in this one place and guarded by
 * test/delivery/queue-internals.test.ts: private fields of Worker, not its documented API.
 */
export function workerInternals(w: Worker): WorkerInternals {
  const raw = w as unknown as { blockingConnection?: { _client?: Redis }; lockManager?: { close?: () => Promise<void> } };
  return { blockingClient: raw.blockingConnection?._client, lockManager: raw.lockManager };
}

/** True if `p` settles (either way) within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return done;
}

/**
 * Disconnects a worker's ioredis client for good, for a forced stop. Exported for
 * test/delivery/queue-internals.test.ts, which guards the ioredis internals it relies on.
 * - Later commands never settle: while closing, BullMQ retries a failed write without any delay,
 *   so commands rejected by a closed client would spin the event loop.
 * - A client waiting between reconnect attempts stays 'reconnecting' after disconnect() and never
 *   emits 'end' (BullMQ's close waits for it), and its queued commands (the worker's blocking pop)
 *   never settle: reject them and end it by hand.
 */
export function cutClient(c: Redis | undefined): void {
  if (!c) return;
  const raw = c as unknown as { sendCommand: (...args: unknown[]) => unknown; flushQueue?: (err: Error) => void; status: string };
  raw.sendCommand = () => new Promise(() => {});
  c.disconnect();
  if (raw.status !== 'reconnecting') return;
  raw.flushQueue?.(new Error('Connection is closed.'));
  raw.status = 'end';
  c.emit('end');
}

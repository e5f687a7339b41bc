import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConnectionKind } from '../store/redis-connection.js';
import { connectRedis } from '../store/redis-topology.js';
import { FairLanes, laneId, retryCap } from './fair-lanes.js';
import type { DeliveryQueue, JobOutcome, NewJob, Processor, QueueStats, SkippedHead, SkippedJobHandler } from './queue.js';
import { GROUP, QueueKeys } from './stream-scripts.js';
import { claimAgain, field, promoteDue, queueStats, rotate, sinceOf, withDeadline } from './stream-entries.js';
import { AddBatcher } from './stream-adds.js';
import { scripted, SettleWriter, type Scripted } from './stream-settles.js';
import { backOp, doneOp, dropSkipped, DROP_OP, orderedState, orderingBlocked, retryOp, skipOrderedHead, type Held } from './stream-ordering.js';

export interface StreamQueueOptions {
  /** A standalone Redis; ignored when `connect` is given. */
  url?: string;
  /**
   * Opens a connection to the store's Redis (any topology: url, Cluster, Sentinel); the store
   * counts it for `/readyz`, under `purpose`.
   */
  connect?: (kind: RedisConnectionKind, purpose: string, autoPipelining: boolean) => Redis;
  prefix: string;
  concurrency: number;
  /** A held entry not heard of for this long is taken over by another worker (its process died). */
  lockDurationMs: number;
  logger: Logger;
  now?: () => number;
  /**
   * The connection to add on: the store's (fail-fast, auto-pipelined), so a message and its
   * deliveries go out in one write, in order. Without it the queue opens one of its own.
   */
  producer?: Redis;
  /** An ordered job found skipped and queued nowhere (see SkippedJobHandler). */
  onSkipped?: SkippedJobHandler;
}

/** Entries a read takes from one lane at most, and lanes one read names at most. */
const MAX_COUNT = 128;
const MAX_STREAMS_PER_READ = 128;

/**
 * The delivery queue on Redis Streams (keys and scripts: stream-scripts.ts). Workers read lanes
 * (a stream per tenant, a twin for retries) through one consumer group, a batch per round trip,
 * and take jobs from them in turn (FairLanes). What a batch of jobs came to is written in one
 * script call. Guarantees, as BullMQ's were:
 * - a job is in Redis before the producer's 202 (the add script);
 * - a job whose worker died (kill -9) stays pending in the group and is taken over with XAUTOCLAIM
 *   once it has been idle for `lockDurationMs`; running jobs keep their claim fresh (heartbeat);
 * - a retry waits in a sorted set by due time and survives restarts; promotion is one script;
 * - while Redis is away nothing is dropped: settles are kept and written when it is back;
 * - ordered deliveries of one key run one at a time, in order (stream-ordering.ts).
 */
export class StreamDeliveryQueue implements DeliveryQueue {
  readonly durable = true;
  private readonly keys: QueueKeys;
  private readonly producer: Scripted;
  private cmd: Scripted | undefined;
  private bellConn: Redis | undefined;
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly lanes = new FairLanes<Held>();
  /** Every entry held (running, buffered or settling), by `key id`, for the heartbeat. */
  private readonly held = new Map<string, Held>();
  private readonly settles: SettleWriter<Held>;
  private readonly tenants = new Set<string>();
  /** Lane streams found missing (at), left out of reads until a bell after that, or `until`. */
  private readonly absent = new Map<string, { at: number; until: number }>();
  private tenantsReadAt = 0;
  private running = 0;
  private runningRetries = 0;
  private processor: Processor | undefined;
  private stopped = false;
  /** Set by a forced stop: what running jobs come to is not written; they run again elsewhere. */
  private abandoned = false;
  private closed = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private bellPending: Promise<void> | undefined;
  private lastBell = '0-0';
  private readonly timers = new Set<NodeJS.Timeout>();
  private promoteTimer: { at: number; t: NodeJS.Timeout } | undefined;
  private lastErrorLog = 0;
  private readonly now: () => number;
  private streamOffset = 0;
  private readonly firstConnect: Promise<void>;
  private readonly ownProducer: boolean;
  private readonly adds: AddBatcher;

  constructor(private readonly opts: StreamQueueOptions) {
    this.keys = new QueueKeys(opts.prefix);
    this.settles = new SettleWriter<Held>({
      conn: () => this.cmd!,
      keys: [this.keys.ids, this.keys.delayed],
      written: (h) => this.held.delete(`${h.key} ${h.id}`),
      failed: (err) => this.unavailable(err),
    });
    this.now = opts.now ?? Date.now;
    this.ownProducer = !opts.producer;
    // Fails fast while Redis is down, so the gateway answers 503 instead of a 202 it can't keep.
    this.producer = scripted(opts.producer ?? this.connection('fail-fast', 'delivery queue producer', true));
    // A publish right after the start waits for the first connection (at most 2 s); later, while
    // Redis is away, adds fail at once.
    this.firstConnect = this.producer.status === 'ready' ? Promise.resolve() : withDeadline(new Promise((r) => this.producer.once('ready', r)), 2000);
    this.adds = new AddBatcher({ conn: this.producer, keys: this.keys, ready: () => this.firstConnect, added: (lanes) => lanes.forEach((t) => this.tenants.add(t)) });
  }

  private connection(kind: RedisConnectionKind, purpose: string, autoPipelining: boolean): Redis {
    return this.opts.connect ? this.opts.connect(kind, purpose, autoPipelining) : connectRedis({ url: this.opts.url }, kind, { autoPipelining });
  }

  add(jobs: NewJob[]): Promise<void> {
    return this.adds.add(jobs);
  }

  start(processor: Processor): void {
    this.processor = processor;
    // concurrency 0: a queue-only instance (it accepts and queues; other instances deliver).
    if (this.opts.concurrency === 0) return;
    this.cmd = scripted(this.connection('blocking', 'delivery queue worker', true));
    this.bellConn = this.connection('blocking', 'delivery queue bell', false);
    this.bellConn.on('error', () => {});
    const lock = this.opts.lockDurationMs;
    this.every(Math.max(200, Math.floor(lock / 3)), () => this.heartbeat());
    this.every(Math.max(1000, Math.floor(lock / 4)), () => this.reclaim());
    this.schedulePromote(0);
    this.loopDone = this.loop();
  }

  private every(ms: number, f: () => Promise<void>): void {
    let busy = false;
    const t = setInterval(() => {
      if (busy) return;
      busy = true;
      f().catch((err) => this.unavailable(err)).finally(() => (busy = false));
    }, ms);
    this.timers.add(t);
  }

  /** Jobs this worker can still take: its workers less those running and those read and waiting. */
  private room(): number {
    return this.opts.concurrency - this.running - this.lanes.size;
  }

  /** The worker loop: read while there is room, start jobs in turn, wait for a finish or the bell. */
  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const free = this.room();
        const got = free >= Math.min(16, Math.ceil(this.opts.concurrency / 8)) || this.running === 0 ? await this.read(free) : 0;
        this.pump();
        if (got !== 0 || this.stopped) continue;
        await this.waitForWork(free > 0);
      } catch (err) {
        this.unavailable(err);
        if (!this.stopped) await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Waits until a running job finishes, and, when there is room for more, for the bell too. */
  private waitForWork(listen: boolean): Promise<void> {
    const finished = new Promise<void>((r) => (this.wake = r));
    if (!listen) return finished;
    this.bellPending ??= this.listenBell().finally(() => (this.bellPending = undefined));
    return Promise.race([finished, this.bellPending]);
  }

  private async listenBell(): Promise<void> {
    const res = (await this.bellConn!.call('XREAD', 'COUNT', 64, 'BLOCK', 1000, 'STREAMS', this.keys.bell, this.lastBell)) as [string, [string, string[]][]][] | null;
    for (const [, entries] of res ?? []) {
      for (const [id, fields] of entries) {
        this.lastBell = id;
        const t = fields[1];
        if (t === undefined) continue;
        this.tenants.add(t);
        // A bell rung after a lane was found missing: the add or promotion made it.
        for (const k of [this.keys.first(t), this.keys.retry(t)]) if ((this.absent.get(k)?.at ?? Infinity) <= Number(id.split('-')[0])) this.absent.delete(k);
      }
    }
  }

  /** One XREADGROUP over the lanes (first attempts, and retries while they have room): entries taken, -1 to read again at once. */
  private async read(free: number): Promise<number> {
    if (free <= 0) return 0;
    await this.refreshTenants();
    const retryRoom = retryCap(this.opts.concurrency) - this.runningRetries;
    const all: string[] = [];
    const t0 = this.now();
    for (const t of this.tenants) {
      const first = this.keys.first(t);
      const retry = this.keys.retry(t);
      if (!((this.absent.get(first)?.until ?? 0) > t0)) all.push(first);
      if (retryRoom > 0 && !((this.absent.get(retry)?.until ?? 0) > t0)) all.push(retry);
    }
    if (!all.length) return 0;
    // Past MAX_STREAMS_PER_READ lanes, each read starts further along, so every lane gets its turn.
    const streams = all.length <= MAX_STREAMS_PER_READ ? all : rotate(all, (this.streamOffset = (this.streamOffset + MAX_STREAMS_PER_READ) % all.length)).slice(0, MAX_STREAMS_PER_READ);
    const count = Math.min(MAX_COUNT, Math.max(1, Math.ceil(free / streams.length)));
    let res: [string, [string, string[]][]][] | null;
    try {
      res = (await this.cmd!.call('XREADGROUP', 'GROUP', GROUP, this.consumer, 'COUNT', count, 'STREAMS', ...streams, ...streams.map(() => '>'))) as typeof res;
    } catch (err) {
      if (!/NOGROUP/.test((err as Error).message)) throw err;
      // A lane without its group (data lost) gets it; one without its stream (a retry twin never
      // written) is left out of reads for a second, or until the bell names its tenant.
      const exists = (await this.cmd!.hgqGroups(streams.length, ...streams)) as number[];
      if (this.absent.size > 10_000) this.absent.clear();
      streams.forEach((k, i) => (exists[i] ? this.absent.delete(k) : this.absent.set(k, { at: this.now(), until: this.now() + 1000 })));
      return -1; // read again at once, without the missing ones
    }
    return this.hold(res ?? []);
  }

  /** Buffers entries read or claimed, in their lanes. */
  private hold(res: [string, [string, string[]][]][]): number {
    let n = 0;
    for (const [key, entries] of res) {
      const retry = key.startsWith(`${this.keys.base}r:`);
      const tenant = key.slice(this.keys.base.length + 2);
      for (const [id, f] of entries) {
        if (!f) continue;
        const h: Held = { key, id, msgId: field(f, 'm'), target: field(f, 't'), attempts: Number(field(f, 'a')) || 0, tenant, retry, since: sinceOf(id, f) };
        const order = field(f, 'o');
        if (order !== '') h.order = order;
        this.held.set(`${key} ${id}`, h);
        // A read or a takeover that lands during a stop: handed back at once, never left pending
        // under a consumer that is going away (it would wait a lock duration for a takeover).
        if (this.stopped) this.settles.add(h, backOp(h));
        else this.lanes.push(laneId(tenant, retry), h);
        n++;
      }
    }
    return n;
  }

  private async refreshTenants(): Promise<void> {
    if (this.now() - this.tenantsReadAt < 2000) return;
    this.tenantsReadAt = this.now();
    for (const t of (await this.cmd!.smembers(this.keys.lanes)) as string[]) this.tenants.add(t);
  }

  private pump(): void {
    while (!this.stopped && this.running < this.opts.concurrency) {
      const next = this.lanes.take(this.runningRetries < retryCap(this.opts.concurrency));
      if (!next) return;
      this.run(next.job);
    }
  }

  private run(h: Held): void {
    this.running++;
    if (h.retry) this.runningRetries++;
    const job = { msgId: h.msgId, target: h.target, attempts: h.attempts };
    // An ordered entry runs only as its key's head (one LINDEX; unordered entries skip it).
    const ran: Promise<JobOutcome | 'stale'> = h.order === undefined ? this.processor!(job) : orderedState(this.cmd!, this.keys, h).then((s): Promise<JobOutcome | 'stale'> => (s === 'head' ? this.processor!(job) : dropSkipped(this.opts.onSkipped, job, s)));
    ran
      // The processor handles its own errors; this is a last resort so no job is lost.
      .catch((): JobOutcome => ({ kind: 'retry', delayMs: 1000, attempted: false }))
      .then((out) => {
        if (this.abandoned) return;
        if (out === 'stale') this.settles.add(h, DROP_OP);
        else if (out.kind === 'done') this.settles.add(h, doneOp(h));
        else {
          const a = h.attempts + (out.attempted ? 1 : 0);
          const due = this.now() + Math.max(0, out.delayMs);
          // Put back without an attempt, it has been due all along; after an attempt, from `due`.
          this.settles.add(h, retryOp(h, due, a, out.attempted ? due : h.since, out.attempted ? this.now() : undefined));
          this.schedulePromote(due);
        }
      })
      .finally(() => {
        this.running--;
        if (h.retry) this.runningRetries--;
        this.pump();
        const w = this.wake;
        this.wake = undefined;
        w?.();
      });
  }

  /** Keeps every held entry's claim fresh, so no other worker takes over a job that is running. */
  private heartbeat(): Promise<void> {
    return claimAgain(this.cmd!, this.consumer, this.held.values());
  }

  /** Takes over entries idle for `lockDurationMs` (their worker died), as far as there is room. */
  private async reclaim(): Promise<void> {
    if (this.stopped) return;
    await this.refreshTenants();
    for (const t of this.tenants) {
      for (const key of [this.keys.first(t), this.keys.retry(t)]) {
        const free = this.room();
        if (free <= 0) return;
        const res = (await this.cmd!.call('XAUTOCLAIM', key, GROUP, this.consumer, this.opts.lockDurationMs, '0-0', 'COUNT', Math.min(free, 100)).catch(() => null)) as [string, [string, string[]][]] | null;
        if (res && res[1].length) {
          this.hold([[key, res[1].filter((e) => !this.held.has(`${key} ${e[0]}`))]]);
          this.pump();
        }
      }
    }
  }

  /** Runs the promoter at `at` (or sooner if one is already due sooner). */
  private schedulePromote(at: number): void {
    if (this.stopped || !this.cmd) return;
    if (this.promoteTimer && this.promoteTimer.at <= at) return;
    if (this.promoteTimer) clearTimeout(this.promoteTimer.t);
    const t = setTimeout(() => {
      this.promoteTimer = undefined;
      void this.promote();
    }, Math.max(0, at - this.now()));
    this.promoteTimer = { at, t };
  }

  /** Moves due retries to their lanes; runs again at the next due time, and at least every second (other instances add retries too). */
  private async promote(): Promise<void> {
    let next = this.now() + 1000;
    try {
      next = Math.min(next, await promoteDue(this.cmd!, this.keys, this.now));
    } catch (err) {
      this.unavailable(err);
    }
    this.schedulePromote(Math.max(next, this.now() + 20));
  }

  stats(): Promise<QueueStats> {
    return queueStats(this.cmd ?? this.producer, this.keys, this.tenants, this.now());
  }

  skipHead(target: string, key: string): Promise<SkippedHead | null> {
    return skipOrderedHead(this.producer, this.keys, target, key);
  }

  orderingBlocked(targets: readonly string[]): Promise<Record<string, number>> {
    return orderingBlocked(this.cmd ?? this.producer, this.keys, targets, this.now());
  }

  async stop(deadlineMs: number, intakeClosed: Promise<void> = Promise.resolve()): Promise<void> {
    this.stopped = true;
    if (this.promoteTimer) clearTimeout(this.promoteTimer.t);
    if (this.cmd) {
      this.opts.logger.info({ deadlineMs }, 'delivery queue stopping: no new jobs; waiting for running ones');
      const until = this.now() + deadlineMs;
      while (this.running > 0 && this.now() < until) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, Math.min(100, until - this.now()))));
      if (this.running > 0) {
        this.abandoned = true;
        this.opts.logger.warn({ code: 'HG_QUEUE_STOP_FORCED', running: this.running }, 'delivery workers did not stop in time; unfinished jobs run again after their lock expires');
      }
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      // Let the loop see the stop and end: a read still on its way lands (and is handed back) first.
      this.wake?.();
      await withDeadline(this.loopDone, 1500);
      // Entries read but never started go back to their lanes at once, for other instances.
      for (const { job } of this.lanes.drain()) this.settles.add(job, backOp(job));
      await withDeadline(this.settles.flush(), 2000);
      this.settles.close();
      this.closed = true;
      this.cmd.disconnect();
      this.bellConn?.disconnect();
    }
    // A request still draining may be adding a job: its 202 needs the producer.
    await intakeClosed;
    if (this.ownProducer) this.producer.disconnect();
  }

  /** Logs a queue error at most every 5 s; the loop and the timers carry on. */
  private unavailable(err: unknown): void {
    // After a stop cut the connections, their errors say nothing.
    if (this.closed) return;
    if (this.now() - this.lastErrorLog < 5000) return;
    this.lastErrorLog = this.now();
    this.opts.logger.warn({ err: (err as Error)?.message, code: 'HG_QUEUE_UNAVAILABLE' }, 'delivery queue error; retrying');
  }
}

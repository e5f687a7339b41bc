import type { Logger } from 'pino';
import type { Snapshot } from '../compile.js';
import type { EgressConfig, RetryPolicyConfig } from '../config/types.js';
import { Errors, GatewayError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import type { DeliveryQueue, JobOutcome, QueueJob } from './queue.js';
import { AttemptPolicy } from './policy.js';
import { scheduleOf, type RetryPolicy } from './retry.js';
import { EndpointDirectory, eventMatches } from './endpoints.js';
import { OperationalEvents, type OperationalEmitter } from './operational.js';
import { EndpointSlots } from './slots.js';
import { sendIngress, sendSigned, type AttemptResult } from './transport.js';
import { ingressTarget, newMessageId, upstreamOf, type AttemptRecord, type DeliveryRepository, type EndpointRecord, type StoredMessage } from './types.js';

const DAY_MS = 24 * 3600 * 1000;
export interface EngineOptions {
  store: Store;
  repo: DeliveryRepository;
  queue: DeliveryQueue;
  logger: Logger;
  metrics?: Metrics;
  /** The snapshot to deliver with: egress settings, SSRF guard, upstream pools. `apply` swaps it. */
  snapshot: Snapshot;
  now?: () => number;
  rand?: () => number;
  /** Minimum delay after a timeout or a 429 (`OVERLOAD_MIN_DELAY_MS`, 60 s, unless given; tests shorten it). */
  overloadMinDelayMs?: number;
}

/**
 * The delivery engine: accepts messages (publish, deliver), stores them, queues one job per
 * target, and runs attempts with signing, retries, rate limits, per-endpoint concurrency caps,
 * the SSRF guard, the attempt log and operational events.
 */
export class DeliveryEngine {
  /** Operational events, typed: `events.on('operational', (ev) => ...)`. */
  readonly events: OperationalEmitter;
  readonly repo: DeliveryRepository;
  /** The endpoints: lookups for attempts, and every change to them (the admin API's too). */
  readonly endpoints: EndpointDirectory;
  readonly queue: DeliveryQueue;
  private snap: Snapshot;
  private readonly slots = new EndpointSlots();
  private readonly policy: AttemptPolicy;
  private readonly messageCache = new Map<string, StoredMessage>();
  private readonly now: () => number;
  private readonly rand: () => number;
  private readonly logger: Logger;
  private stopped = false;
  private readonly ops: OperationalEvents;

  constructor(private readonly opts: EngineOptions) {
    this.repo = opts.repo;
    this.queue = opts.queue;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.rand = opts.rand ?? Math.random;
    this.snap = opts.snapshot;
    this.ops = new OperationalEvents({ logger: this.logger, now: this.now, snapshot: () => this.snap });
    this.events = this.ops.emitter;
    this.endpoints = new EndpointDirectory({ repo: opts.repo, logger: this.logger, now: this.now, snapshot: () => this.snap, events: this.ops });
    this.policy = new AttemptPolicy({ repo: opts.repo, now: this.now, rand: this.rand, overloadMinDelayMs: opts.overloadMinDelayMs });
  }

  private get retentionMs(): number {
    return this.egress.retentionDays * DAY_MS;
  }

  /** Applies config endpoints to the repository and starts the workers. */
  async start(): Promise<void> {
    await this.endpoints.sync();
    this.queue.start((job) => this.runJob(job));
  }

  /** Follows a config reload (after the swap): the new snapshot, and its endpoints written to the store. Idempotent. */
  async apply(snap: Snapshot): Promise<void> {
    this.snap = snap;
    await this.endpoints.sync();
  }

  private get egress(): EgressConfig {
    return this.snap.egress;
  }

  private async durableWrite<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.logger.error({ err: (err as Error).message, code: 'HG_QUEUE_UNAVAILABLE' }, `${what} failed`);
      throw Errors.QUEUE_UNAVAILABLE().with({ 'retry-after': '5' });
    }
  }

  /**
   * Accepts an event for fan-out. Resolves once the message and its jobs are in the store (durable
   * with Redis), so a 202 is never a promise the gateway cannot keep.
   */
  async publish(event: { type: string; data: unknown }, opts: { idempotencyKey?: string; retry?: RetryPolicyConfig } = {}): Promise<{ id: string; endpoints: number; replayed: boolean }> {
    const endpoints = (await this.durableWrite('endpoint lookup', () => this.endpoints.all())).filter((e) => !e.disabled && eventMatches(e.events, event.type));
    const id = newMessageId();
    const answer = { id, endpoints: endpoints.length };
    if (opts.idempotencyKey) {
      const prior = await this.durableWrite('idempotency claim', () => this.repo.claimIdempotency(opts.idempotencyKey!, JSON.stringify(answer), DAY_MS));
      if (prior) return { ...(JSON.parse(prior) as { id: string; endpoints: number }), replayed: true };
    }
    const createdAt = this.now();
    const body = JSON.stringify({ type: event.type, timestamp: new Date(createdAt).toISOString(), data: event.data });
    const msg: StoredMessage = {
      id,
      kind: 'event',
      createdAt,
      eventType: event.type,
      body,
      bodyEncoding: 'utf8',
      schedule: opts.retry ? scheduleOf(opts.retry as RetryPolicy) : undefined,
      targets: endpoints.map((e) => e.id),
    };
    try {
      await this.durableWrite('publish', async () => {
        await this.repo.saveMessage(msg, this.retentionMs);
        this.remember(msg);
        if (msg.targets.length) await this.queue.add(msg.targets.map((t) => ({ msgId: id, target: t })));
      });
    } catch (err) {
      if (opts.idempotencyKey) await this.repo.releaseIdempotency(opts.idempotencyKey).catch(() => {});
      throw err;
    }
    return { ...answer, replayed: false };
  }

  /** Accepts an inbound request for async delivery to an upstream. */
  async enqueueIngress(req: { method: string; path: string; headers: Record<string, string | string[]>; body: Buffer; upstream: string; retry?: RetryPolicyConfig; timeoutMs?: number }): Promise<string> {
    if (!this.snap.upstreams.has(req.upstream)) throw Errors.UPSTREAM_UNKNOWN(req.upstream);
    const id = newMessageId();
    const target = ingressTarget(req.upstream);
    const msg: StoredMessage = {
      id,
      kind: 'ingress',
      createdAt: this.now(),
      body: req.body.toString('base64'),
      bodyEncoding: 'base64',
      method: req.method,
      path: req.path,
      headers: req.headers,
      timeoutMs: req.timeoutMs,
      schedule: req.retry ? scheduleOf(req.retry as RetryPolicy) : undefined,
      targets: [target],
    };
    await this.durableWrite('enqueue', async () => {
      await this.repo.saveMessage(msg, this.retentionMs);
      this.remember(msg);
      await this.queue.add([{ msgId: id, target }]);
    });
    return id;
  }

  /** Queues deliveries again (admin retry/recover). Marks them pending first. */
  async requeue(msgId: string, targets: string[]): Promise<void> {
    for (const t of targets) await this.repo.setStatus(msgId, t, 'pending', this.retentionMs);
    await this.queue.add(targets.map((t) => ({ msgId, target: t })));
  }

  private async message(id: string): Promise<StoredMessage | null> {
    const c = this.messageCache.get(id);
    if (c) return c;
    const m = await this.repo.getMessage(id);
    if (m) this.remember(m);
    return m;
  }

  /**
   * Keeps recent messages in memory: the instance that accepted a message usually delivers it
   * too, and fan-out reads the same message once per endpoint. Messages are immutable.
   */
  private remember(m: StoredMessage): void {
    this.messageCache.set(m.id, m);
    if (this.messageCache.size > 2000) this.messageCache.delete(this.messageCache.keys().next().value!);
  }

  /** Runs one job. Every path ends in done or retry; errors (store outage) retry the job. */
  async runJob(job: QueueJob): Promise<JobOutcome> {
    // The attempt holds the snapshot it started on, so a reload does not close its pools under it.
    const snap = this.snap;
    snap.attempts++;
    try {
      return await this.attempt(job, snap);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, msgId: job.msgId, target: job.target }, 'delivery job error; will retry');
      return { kind: 'retry', delayMs: 1000, attempted: false };
    } finally {
      snap.attempts--;
    }
  }

  private async attempt(job: QueueJob, snap: Snapshot): Promise<JobOutcome> {
    const msg = await this.message(job.msgId);
    if (!msg) {
      this.logger.warn({ msgId: job.msgId }, 'message expired or missing; dropping its job');
      return { kind: 'done' };
    }
    const upstream = msg.kind === 'ingress' ? upstreamOf(job.target) : undefined;
    const ingress = upstream !== undefined;
    let ep: EndpointRecord | null = null;
    if (!ingress) {
      ep = await this.endpoints.get(job.target);
      if (!ep || ep.disabled) {
        await this.repo.recordAttempt(msg.id, { target: job.target, attempt: job.attempts + 1, at: this.now(), status: 0, durationMs: 0, error: ep ? 'endpoint disabled' : 'endpoint deleted' }, 'failed', this.retentionMs);
        return { kind: 'done' };
      }
      if (ep.rateLimitPerSec) {
        const sec = Math.floor(this.now() / 1000);
        const n = await this.opts.store.incr(`dlv:rl:${ep.id}:${sec}`, 2000);
        if (n > ep.rateLimitPerSec) {
          // Over the rate: wait for a later second (spread a little), without counting an attempt.
          return { kind: 'retry', delayMs: 1000 - (this.now() % 1000) + Math.floor(this.rand() * 200), attempted: false };
        }
      }
    }
    const key = job.target;
    if (!(await this.slots.acquire(key, snap.egress.maxInFlightPerEndpoint))) {
      // The endpoint already has its share of attempts in flight and none finished soon: it is
      // slow or dead. Give the worker back and try later, without counting an attempt.
      return { kind: 'retry', delayMs: 500 + Math.floor(this.rand() * 500), attempted: false };
    }
    if (this.stopped) {
      // A slot freed during a SIGTERM drain: start no new attempt, leave the job queued.
      this.slots.release(key);
      return { kind: 'retry', delayMs: 0, attempted: false };
    }
    let r: AttemptResult;
    try {
      r = ingress
        ? await sendIngress(snap, upstream, msg, job.attempts + 1)
        : await sendSigned(snap, { url: ep!.url, msgId: msg.id, body: Buffer.from(msg.body, 'utf8'), secrets: this.endpoints.signingSecrets(ep!), headers: { ...ep!.headers, 'user-agent': 'hookgate' }, nowMs: this.now() });
    } finally {
      this.slots.release(key);
    }
    return this.settle(job, msg, ep, r, snap);
  }

  /** Records an attempt and carries out the policy's verdict on it. */
  private async settle(job: QueueJob, msg: StoredMessage, ep: EndpointRecord | null, r: AttemptResult, snap: Snapshot): Promise<JobOutcome> {
    const attemptNo = job.attempts + 1;
    const rec: AttemptRecord = { target: job.target, attempt: attemptNo, at: this.now(), status: r.status, durationMs: r.durationMs };
    const v = this.policy.judge(r, attemptNo, msg, ep, snap.egress);
    const error = v.kind === 'delivered' ? r.error : v.error;
    if (error) rec.error = error;
    if (r.response) rec.response = r.response;
    const kind = ep ? 'egress' : 'ingress';
    this.opts.metrics?.deliveries.inc({ kind, result: v.kind === 'delivered' ? 'success' : 'failure' });
    switch (v.kind) {
      case 'delivered':
        await this.repo.recordAttempt(msg.id, rec, 'delivered', this.retentionMs);
        this.opts.metrics?.deliveryLatency.observe({ kind }, (this.now() - msg.createdAt) / 1000);
        if (ep) await this.policy.succeeded(ep.id, attemptNo);
        if (v.recovered) this.ops.raise('message.attempt.recovered', { msgId: msg.id, endpointId: ep!.id, attempts: attemptNo });
        return { kind: 'done' };
      case 'gone':
        await this.repo.recordAttempt(msg.id, rec, 'failed', this.retentionMs);
        await this.endpoints.disable(ep!, 'the endpoint answered 410 Gone');
        return { kind: 'done' };
      case 'exhausted':
        await this.repo.recordAttempt(msg.id, rec, 'failed', this.retentionMs);
        this.ops.raise('message.attempt.exhausted', { msgId: msg.id, target: job.target, attempts: attemptNo, lastStatus: r.status, lastError: r.error });
        break;
      case 'retry':
        await this.repo.recordAttempt(msg.id, rec, 'pending', this.retentionMs);
        if (v.failing) this.ops.raise('message.attempt.failing', { msgId: msg.id, endpointId: ep!.id, attempts: attemptNo });
        break;
    }
    if (ep) {
      const reason = await this.policy.failed(ep.id, snap.egress);
      if (reason) await this.endpoints.disable(ep, reason);
    }
    return v.kind === 'retry' ? { kind: 'retry', delayMs: v.delayMs, attempted: true } : { kind: 'done' };
  }

  async stop(deadlineMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.queue.stop(deadlineMs);
    await this.repo.close();
  }
}

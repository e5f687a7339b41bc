import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { EventTypeDirectory } from '../catalogue/event-types.js';
import { eventTypeStoreFor } from '../catalogue/store.js';
import type { Snapshot } from '../compile.js';
import { DEFAULT_TENANT } from '../config/types.js';
import type { Metrics, QueueDepth } from '../metrics.js';
import type { Store } from '../store/types.js';
import { EndpointDirectory } from './endpoints.js';
import { AutoRecovery } from './health/auto-recover.js';
import { EndpointHealth } from './health/endpoint-health.js';
import { receiverSignal, verdictWithSignal, NO_SIGNAL, RECEIVER_DISABLED } from './health/signals.js';
import { configTenantPolicy, DeliveryPolicies, type EffectivePolicy } from './effective-policy.js';
import { DeliveryIntake, type IngressRequest, type PublishAnswer, type PublishedEvent, type PublishOptions } from './intake.js';
import { OperationalEvents, type OperationalEmitter } from './operational.js';
import { AttemptPolicy } from './policy.js';
import type { DeliveryQueue, JobOutcome, QueueJob } from './queue.js';
import { retentionMs } from './repository.js';
import { BusyBackoff } from './busy-backoff.js';
import { EndpointSlots } from './slots.js';
import { isSystemTarget, SystemDeliveries } from './system-deliveries.js';
import { TenantDirectory } from './tenants.js';
import { sendIngress, sendSigned, type AttemptResult } from './transport.js';
import { ingressTarget, upstreamOf, type AttemptRecord, type DeliveryRepository, type DeliveryStatus, type EndpointRecord, type StoredMessage } from './types.js';

/** How much longer than its attempt timeout a half-open probe holds the probe lock (room to record it). */
const PROBE_LOCK_ROOM_MS = 5000;

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
 * The delivery engine: the coordinator. Intake accepts messages and queues one job per target;
 * `runJob` takes a job through the endpoint directory, the rate limit and the per-endpoint
 * slots to one attempt on the transport, records it, and carries out the attempt policy's
 * verdict (retry, done, disable the endpoint, operational events).
 */
export class DeliveryEngine {
  /** Operational events, typed: `events.on('operational', (ev) => ...)`. */
  readonly events: OperationalEmitter;
  readonly repo: DeliveryRepository;
  /** The endpoints: lookups for attempts, and every change to them (the admin API's too). */
  readonly endpoints: EndpointDirectory;
  /** The event catalogue as publishing sees it (config and API-created types), and every change to API types. */
  readonly eventTypes: EventTypeDirectory;
  /** The tenants (config, the implicit default, API-created), their changes and quotas. */
  readonly tenants: TenantDirectory;
  /** The effective delivery policy of an endpoint (layers: endpoint, event type, tenant, route, global). */
  readonly policies: DeliveryPolicies;
  readonly queue: DeliveryQueue;
  /** Endpoint health: the circuit breaker, receiver signals and the lifecycle state (admin view, metrics). */
  readonly health: EndpointHealth;
  private readonly recovery: AutoRecovery;
  private snap: Snapshot;
  private readonly slots = new EndpointSlots();
  private readonly busy: BusyBackoff;
  private readonly policy: AttemptPolicy;
  private readonly intake: DeliveryIntake;
  private readonly now: () => number;
  private readonly rand: () => number;
  private readonly logger: Logger;
  private stopped = false;
  private readonly sendHeaders = new WeakMap<EndpointRecord, { from: EndpointRecord['headers']; headers: OutgoingHttpHeaders }>();
  /** Raises operational events (the log, `events`, the durable operational webhook); the alert evaluator raises its own. */
  readonly ops: OperationalEvents;
  /** System messages (operational webhook, alert channels): queued and retried on this engine's queue. */
  readonly system: SystemDeliveries;

  constructor(private readonly opts: EngineOptions) {
    const store = opts.store;
    this.replicated = store.driver === 'redis' && store.durability === 'replicated' ? () => store.replicated() : undefined;
    this.repo = opts.repo;
    this.queue = opts.queue;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.rand = opts.rand ?? Math.random;
    this.busy = new BusyBackoff(this.now, this.rand);
    this.snap = opts.snapshot;
    this.policy = new AttemptPolicy({ repo: opts.repo, now: this.now, rand: this.rand, overloadMinDelayMs: opts.overloadMinDelayMs });
    this.system = new SystemDeliveries({ repo: opts.repo, queue: opts.queue, logger: this.logger, now: this.now, snapshot: () => this.snap, attempts: this.policy });
    this.ops = new OperationalEvents({ logger: this.logger, now: this.now, snapshot: () => this.snap, system: this.system });
    this.events = this.ops.emitter;
    this.endpoints = new EndpointDirectory({ repo: opts.repo, logger: this.logger, now: this.now, snapshot: () => this.snap, events: this.ops, durable: opts.store.driver === 'redis' });
    this.eventTypes = new EventTypeDirectory({ store: eventTypeStoreFor(opts.store), snapshot: () => this.snap, logger: this.logger, now: this.now });
    this.tenants = new TenantDirectory({ repo: opts.repo, store: opts.store, endpoints: this.endpoints, now: this.now, snapshot: () => this.snap });
    // The tenant layer: gateway.yaml's tenants from the attempt's snapshot, else an API tenant's (cached for a second).
    const tenantPolicy = (id: string, snap: Snapshot) => configTenantPolicy(id, snap) ?? this.tenants.policyOf(id);
    this.policies = new DeliveryPolicies({ snapshot: () => this.snap, catalogue: () => this.eventTypes.current(), tenantPolicy });
    this.intake = new DeliveryIntake({ repo: opts.repo, queue: opts.queue, endpoints: this.endpoints, tenants: this.tenants, eventTypes: this.eventTypes, policies: this.policies, logger: this.logger, now: this.now, snapshot: () => this.snap, replicated: this.replicated });
    this.health = new EndpointHealth({ store: opts.store, endpoints: this.endpoints, events: this.ops, metrics: opts.metrics, now: this.now, rand: this.rand, snapshot: () => this.snap });
    const send = async (ep: EndpointRecord, msg: StoredMessage) => {
      const snap = this.snap;
      return this.sendEvent(snap, ep, msg, (await this.policies.of(ep, msg.eventType, msg.schedule, snap)).attemptTimeoutMs);
    };
    this.recovery = new AutoRecovery({ health: this.health, endpoints: this.endpoints, repo: opts.repo, events: this.ops, logger: this.logger, now: this.now, snapshot: () => this.snap, send, requeue: (msg, targets) => this.requeue(msg, targets) });
  }

  /** `store.durability: replicated`: waits until a replica has this process's writes; else undefined. */
  readonly replicated: (() => Promise<void>) | undefined;

  /** Applies config endpoints to the repository and starts the workers. */
  async start(): Promise<void> {
    await this.endpoints.sync();
    this.queue.start((job) => this.runJob(job));
    this.recovery.start();
  }

  /** Follows a config reload (after the swap): the new snapshot, and its endpoints written to the store. Idempotent. */
  async apply(snap: Snapshot): Promise<void> {
    this.snap = snap;
    await this.endpoints.sync();
  }

  /**
   * Accepts an event for fan-out. Resolves once the message and its jobs are in the store (durable
   * with Redis), so a 202 is never a promise the gateway cannot keep.
   */
  publish(event: PublishedEvent, opts: PublishOptions = {}): Promise<PublishAnswer> {
    return this.intake.publish(event, opts);
  }

  /** Accepts an inbound request for async delivery to an upstream; resolves to its message id once stored. */
  enqueueIngress(req: IngressRequest): Promise<string> {
    return this.intake.enqueueIngress(req);
  }

  /** The snapshot attempts start on now (the admin API reads its upstreams). */
  currentSnapshot(): Snapshot {
    return this.snap;
  }

  /** Queues deliveries again (admin retry/recover): attempt numbers continue, the schedule starts afresh. */
  requeue(msg: StoredMessage, targets: string[]): Promise<void> {
    return this.intake.requeue(msg, targets);
  }

  /**
   * Every target a delivery can have: the endpoints (of `tenant`, if given) and the running
   * config's upstreams (async ingress, default tenant). Bulk retry and the failed count read it.
   */
  async deliveryTargets(tenant?: string): Promise<string[]> {
    const targets = (await this.endpoints.list()).filter((e) => tenant === undefined || (e.tenant ?? DEFAULT_TENANT) === tenant).map((e) => e.id);
    if (tenant === undefined || tenant === DEFAULT_TENANT) for (const name of this.snap.upstreams.keys()) targets.push(ingressTarget(name));
    return targets;
  }

  /**
   * What the queue holds, for the metrics: waiting and delayed from the queue, failed from the
   * failed index of every endpoint and upstream, and the lag of every tenant (0 when nothing waits).
   */
  async queueDepth(): Promise<QueueDepth> {
    const [stats, targets, tenants, endpoints] = await Promise.all([this.queue.stats(), this.deliveryTargets(), this.tenants.list(), this.endpoints.all()]);
    const lagSeconds: Record<string, number> = {};
    for (const t of tenants) lagSeconds[t.id] = 0;
    Object.assign(lagSeconds, stats.lagSeconds);
    const orderingBlockedSeconds = await this.queue.orderingBlocked(endpoints.filter((e) => e.ordering === 'per-key').map((e) => e.id));
    return { waiting: stats.waiting, delayed: stats.delayed, failed: await this.repo.countFailed(targets), lagSeconds, orderingBlockedSeconds };
  }

  /** Runs one job. Every path ends in done or retry; errors (store outage) retry the job. */
  async runJob(job: QueueJob): Promise<JobOutcome> {
    // The attempt holds the snapshot it started on, so a reload does not close its pools under it.
    const snap = this.snap;
    snap.attempts++;
    try {
      if (isSystemTarget(job.target)) return await this.system.run(job, snap);
      return await this.attempt(job, snap);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, msgId: job.msgId, target: job.target }, 'delivery job error; will retry');
      return { kind: 'retry', delayMs: 1000, attempted: false };
    } finally {
      snap.attempts--;
    }
  }

  private async attempt(job: QueueJob, snap: Snapshot): Promise<JobOutcome> {
    // Plain values from the caches where they have them: an attempt awaits only real reads.
    const msg = this.intake.cachedMessage(job.msgId) ?? (await this.intake.message(job.msgId));
    if (!msg) {
      this.logger.warn({ msgId: job.msgId }, 'message expired or missing; dropping its job');
      return { kind: 'done' };
    }
    const attemptNo = job.attempts + 1;
    const upstream = msg.kind === 'ingress' ? upstreamOf(job.target) : undefined;
    let ep: EndpointRecord | null = null;
    if (upstream === undefined) {
      const known = this.endpoints.getNow(job.target);
      ep = known instanceof Promise ? await known : known;
      // Disabled fails the delivery for good: read past the cache's second first, since an enable
      // on another instance (auto-recovery replaying what it missed, the admin API) may be newer.
      if (ep?.disabled) ep = await this.endpoints.find(job.target);
      if (!ep || ep.disabled) {
        const skipped: AttemptRecord = { target: job.target, attempt: attemptNo, at: this.now(), status: 0, durationMs: 0, error: ep ? 'endpoint disabled' : 'endpoint deleted' };
        await this.repo.recordAttempt(msg.id, skipped, 'failed', retentionMs(snap.egress));
        return { kind: 'done' };
      }
    }
    // One resolution per attempt, on the attempt's snapshot: a reload changes the next attempt's policy.
    const looked = this.policies.ofNow(ep, msg.eventType, msg.schedule, snap);
    const policy = looked instanceof Promise ? await looked : looked;
    // An open breaker or a receiver's slow-down holds the job without counting an attempt; past
    // the open interval one job across all instances is the probe.
    const gate = ep ? await this.health.gate(ep, policy.attemptTimeoutMs + PROBE_LOCK_ROOM_MS) : undefined;
    if (gate?.kind === 'hold') return { kind: 'retry', delayMs: gate.delayMs, attempted: false };
    const probe = gate?.kind === 'send' && gate.probe;
    if (ep && policy.rateLimitPerSec !== null && (await this.overRate(ep, policy))) {
      // Wait for a later second (spread a little), without counting an attempt.
      return this.notSent(ep, probe, 1000 - (this.now() % 1000) + Math.floor(this.rand() * 200));
    }
    const key = job.target;
    const slot = this.slots.acquire(key, policy.maxInFlight);
    if (!(slot instanceof Promise ? await slot : slot)) {
      // The endpoint already has its share of attempts in flight and none finished soon: it is
      // slow or dead. Give the worker back and try later, without counting an attempt: the later
      // the more jobs wait for it (busy-backoff.ts).
      return this.notSent(ep, probe, this.busy.putBack(key));
    }
    let r: AttemptResult;
    try {
      // A slot freed during a SIGTERM drain: start no new attempt, leave the job queued.
      if (this.stopped) return await this.notSent(ep, probe, 0);
      r = ep ? await this.sendEvent(snap, ep, msg, policy.attemptTimeoutMs) : await sendIngress(snap, upstream!, msg, attemptNo);
    } catch (err) {
      // Whatever the send threw (a value Node refuses to put on the wire, a bug) is an attempt
      // that counts: recorded, retried with backoff and dead-lettered, never a silent 1 s loop.
      r = { status: 0, durationMs: 0, timedOut: false, error: `the attempt could not be sent: ${(err as Error)?.message ?? String(err)}` };
    } finally {
      this.slots.release(key);
      this.busy.completed(key);
    }
    return this.settle(job, msg, ep, r, snap, policy, probe);
  }

  /** A job given back without an attempt: a probe that was not sent frees the probe for another. */
  private async notSent(ep: EndpointRecord | null, probe: boolean, delayMs: number): Promise<JobOutcome> {
    if (probe) await this.health.probeNotSent(ep!.id);
    return { kind: 'retry', delayMs, attempted: false };
  }

  /** One signed attempt of an event to an endpoint (deliveries, and auto-recovery's probe). */
  private sendEvent(snap: Snapshot, ep: EndpointRecord, msg: StoredMessage, timeoutMs: number): Promise<AttemptResult> {
    return sendSigned(snap, { url: ep.url, msgId: msg.id, body: Buffer.from(msg.body, 'utf8'), secrets: this.endpoints.signingSecrets(ep), headers: this.headersOf(ep), tls: this.endpoints.tlsOf(ep), nowMs: this.now(), timeoutMs });
  }

  /**
   * An endpoint's own headers and the user agent: one object per endpoint record (records are
   * replaced, not changed, when the endpoint changes), so the transport checks them once.
   */
  private headersOf(ep: EndpointRecord): OutgoingHttpHeaders {
    const known = this.sendHeaders.get(ep);
    if (known && known.from === ep.headers) return known.headers;
    const headers = { ...ep.headers, 'user-agent': 'hookgate' };
    this.sendHeaders.set(ep, { from: ep.headers, headers });
    return headers;
  }

  /** Counts an attempt against the endpoint's effective `rateLimitPerSec` (shared by all instances through the store). */
  private async overRate(ep: EndpointRecord, policy: EffectivePolicy): Promise<boolean> {
    if (policy.rateLimitPerSec === null) return false;
    const sec = Math.floor(this.now() / 1000);
    return (await this.opts.store.incr(`dlv:rl:${ep.id}:${sec}`, 2000)) > policy.rateLimitPerSec;
  }

  /** Records an attempt and carries out the policy's verdict on it. */
  private async settle(job: QueueJob, msg: StoredMessage, ep: EndpointRecord | null, r: AttemptResult, snap: Snapshot, policy: EffectivePolicy, probe: boolean): Promise<JobOutcome> {
    const target = job.target;
    const attemptNo = job.attempts + 1;
    const rec: AttemptRecord = { target, attempt: attemptNo, at: this.now(), status: r.status, durationMs: r.durationMs };
    // A requeued delivery numbers on but runs a fresh schedule from its requeue: where that was
    // is read only when the verdict depends on it, never on the hot path.
    const from = this.policy.needsRequeuePoint(r, attemptNo) ? await this.repo.requeuedAfter(msg.id, target) : 0;
    const signal = ep ? receiverSignal(r, this.now()) : NO_SIGNAL;
    const v = verdictWithSignal(this.policy.judge(r, attemptNo, ep, policy.retry, from), signal);
    const error = v.kind === 'delivered' ? r.error : v.error;
    if (error) rec.error = error;
    if (r.response) rec.response = r.response;
    if (r.request) rec.request = r.request;
    if (r.responseHeaders) rec.responseHeaders = r.responseHeaders;
    const record = (status: DeliveryStatus) => this.repo.recordAttempt(msg.id, rec, status, retentionMs(snap.egress));
    const kind = ep ? 'egress' : 'ingress';
    this.opts.metrics?.deliveries.inc({ kind, result: v.kind === 'delivered' ? 'success' : 'failure' });
    if (ep) this.opts.metrics?.endpointAttempts.observe(ep.id, v.kind === 'delivered');
    switch (v.kind) {
      case 'delivered':
        await record('delivered');
        this.opts.metrics?.deliveryLatency.observe({ kind }, (this.now() - msg.createdAt) / 1000);
        if (ep) {
          await this.policy.succeeded(ep.id, attemptNo);
          await this.health.succeeded(ep.id, probe);
          if (signal.kind === 'disable') await this.health.disable(ep, 'receiver', RECEIVER_DISABLED);
        }
        if (v.recovered) this.ops.raise('message.attempt.recovered', { msgId: msg.id, endpointId: ep!.id, attempts: attemptNo });
        return { kind: 'done' };
      case 'gone':
        // Disabled first: whoever sees the message failed must also see why (the endpoint disabled).
        await (signal.kind === 'disable' ? this.health.disable(ep!, 'receiver', RECEIVER_DISABLED) : this.health.disable(ep!, 'gone', 'the endpoint answered 410 Gone'));
        await record('failed');
        return { kind: 'done' };
      case 'exhausted':
        await record('failed');
        this.ops.raise('message.attempt.exhausted', { msgId: msg.id, target, attempts: attemptNo, lastStatus: r.status, lastError: r.error });
        break;
      case 'retry':
        await record('pending');
        if (v.failing) this.ops.raise('message.attempt.failing', { msgId: msg.id, endpointId: ep!.id, attempts: attemptNo });
        break;
    }
    if (ep) {
      await this.health.attemptFailed(ep.id, probe, signal, rec.error ?? `HTTP ${r.status}`);
      const reason = await this.policy.failed(ep.id, snap.egress);
      if (reason) await this.health.disable(ep, 'failing', reason);
    }
    return v.kind === 'retry' ? { kind: 'retry', delayMs: v.delayMs, attempted: true } : { kind: 'done' };
  }

  /**
   * Stops starting attempts at once and waits for the running ones up to the deadline. Messages
   * can still be accepted until `intakeClosed` settles (requests draining on the listeners), so
   * the queue's producer and the repository are closed only after it.
   */
  async stop(deadlineMs: number, intakeClosed: Promise<void> = Promise.resolve()): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.recovery.stop();
    await this.queue.stop(deadlineMs, intakeClosed);
    await intakeClosed;
    await this.repo.close();
  }
}

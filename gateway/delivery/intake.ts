/**
 * Intake: accepting messages for delivery. An event to fan out (publish) or an inbound request
 * for an upstream (async ingress) is written to the store with its jobs before the caller gets
 * its 202; the idempotency claim, requeues from the admin API, and the cache of recent messages.
 */
import type { Logger } from 'pino';
import type { EventTypeDirectory } from '../catalogue/event-types.js';
import type { Snapshot } from '../compile.js';
import { DEFAULT_TENANT, type RetryPolicyConfig } from '../config/types.js';
import { Errors, GatewayError } from '../errors.js';
import { eventMatches, type EndpointDirectory } from './endpoints.js';
import type { DeliveryQueue } from './queue.js';
import { retentionMs } from './repository.js';
import { scheduleOf, type RetryPolicy } from './retry.js';
import { ingressTarget, newMessageId, type DeliveryRepository, type StoredMessage } from './types.js';

/** How long an Idempotency-Key answers with the first message. */
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** Recent messages kept in memory. */
const MESSAGE_CACHE_SIZE = 2000;

/** An inbound request accepted for async delivery to `upstream`. */
export interface IngressRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
  upstream: string;
  retry?: RetryPolicyConfig;
  timeoutMs?: number;
}

/** An event to fan out: `{"type": "a.b", "data": {...}}`. */
export interface PublishedEvent {
  type: string;
  /** The catalogue version; the latest when omitted. */
  version?: number;
  data: unknown;
}

export interface PublishOptions {
  /** Scoped by the caller (route name + the Idempotency-Key header). */
  idempotencyKey?: string;
  /** The route's retry policy; endpoints may override it. */
  retry?: RetryPolicyConfig;
  /** Send to this one endpoint only, whatever its subscriptions (admin send-example). */
  onlyEndpoint?: string;
}

/** The answer to a publish: the message id, how many endpoints it goes to, and whether it is an idempotent replay. */
export interface PublishAnswer {
  id: string;
  endpoints: number;
  replayed: boolean;
  /** The event's catalogue version is deprecated (it is still delivered). */
  deprecated?: { sunset: string };
}

/** The schedule chosen at acceptance from a route's policy (none: decided per attempt). */
function scheduleFor(retry: RetryPolicyConfig | undefined): number[] | undefined {
  return retry ? scheduleOf(retry as RetryPolicy) : undefined;
}

export interface DeliveryIntakeOptions {
  repo: DeliveryRepository;
  queue: DeliveryQueue;
  endpoints: EndpointDirectory;
  /** The event catalogue: admits a published event (version, schema, unknown types). */
  eventTypes: EventTypeDirectory;
  logger: Logger;
  now: () => number;
  /** The current snapshot: its upstreams and retention. */
  snapshot: () => Snapshot;
}

export class DeliveryIntake {
  private readonly messageCache = new Map<string, StoredMessage>();

  constructor(private readonly opts: DeliveryIntakeOptions) {}

  private get retention(): number {
    return retentionMs(this.opts.snapshot().egress);
  }

  /** A store or queue write the caller's answer depends on: failing, it is a 503 with Retry-After, never a 202. */
  private async durableWrite<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.opts.logger.error({ err: (err as Error).message, code: 'HG_QUEUE_UNAVAILABLE' }, `${what} failed`);
      throw Errors.QUEUE_UNAVAILABLE().with({ 'retry-after': '5' });
    }
  }

  /** Stores a message and queues one job per target. */
  private accept(what: string, msg: StoredMessage): Promise<void> {
    return this.durableWrite(what, async () => {
      await this.opts.repo.saveMessage(msg, this.retention);
      this.remember(msg);
      if (msg.targets.length) await this.opts.queue.add(msg.targets.map((target) => ({ msgId: msg.id, target })));
    });
  }

  /**
   * Accepts an event for fan-out. Resolves once the message and its jobs are in the store (durable
   * with Redis), so a 202 is never a promise the gateway cannot keep.
   */
  async publish(event: PublishedEvent, opts: PublishOptions = {}): Promise<PublishAnswer> {
    // The catalogue's verdict comes first: a refused event is never queued.
    const admitted = await this.durableWrite('event type lookup', () => this.opts.eventTypes.admit(event));
    const endpoints = (await this.durableWrite('endpoint lookup', () => this.opts.endpoints.all())).filter((e) =>
      opts.onlyEndpoint !== undefined ? e.id === opts.onlyEndpoint : !e.disabled && eventMatches(e.events, event.type) && admitted.receives(e));
    const id = newMessageId();
    const answer = { id, endpoints: endpoints.length };
    if (opts.idempotencyKey) {
      const prior = await this.durableWrite('idempotency claim', () => this.opts.repo.claimIdempotency(opts.idempotencyKey!, JSON.stringify(answer), IDEMPOTENCY_TTL_MS));
      if (prior) return { ...(JSON.parse(prior) as { id: string; endpoints: number }), replayed: true, ...deprecation(admitted) };
    }
    const createdAt = this.opts.now();
    const body = JSON.stringify({ type: event.type, timestamp: new Date(createdAt).toISOString(), data: event.data });
    const msg: StoredMessage = {
      id,
      kind: 'event',
      createdAt,
      eventType: event.type,
      body,
      bodyEncoding: 'utf8',
      schedule: scheduleFor(opts.retry),
      targets: endpoints.map((e) => e.id),
    };
    try {
      await this.accept('publish', msg);
    } catch (err) {
      if (opts.idempotencyKey) await this.opts.repo.releaseIdempotency(opts.idempotencyKey).catch(() => {});
      throw err;
    }
    return { ...answer, replayed: false, ...deprecation(admitted) };
  }

  /** Accepts an inbound request for async delivery to an upstream. */
  async enqueueIngress(req: IngressRequest): Promise<string> {
    if (!this.opts.snapshot().upstreams.has(req.upstream)) throw Errors.UPSTREAM_UNKNOWN(req.upstream);
    const id = newMessageId();
    const target = ingressTarget(req.upstream);
    const msg: StoredMessage = {
      id,
      kind: 'ingress',
      createdAt: this.opts.now(),
      body: req.body.toString('base64'),
      bodyEncoding: 'base64',
      method: req.method,
      path: req.path,
      headers: req.headers,
      timeoutMs: req.timeoutMs,
      schedule: scheduleFor(req.retry),
      targets: [target],
    };
    await this.accept('enqueue', msg);
    return id;
  }

  /**
   * Queues deliveries again (admin retry, recover). Marks them pending first. Attempt numbers
   * continue from the attempts recorded for each target; the retry schedule starts afresh (the
   * repository remembers where, for the attempt policy).
   */
  async requeue(msg: StoredMessage, targets: string[]): Promise<void> {
    if (targets.length === 0) return;
    const made = new Map<string, number>();
    for (const a of await this.opts.repo.getAttempts(msg.id)) made.set(a.target, Math.max(made.get(a.target) ?? 0, a.attempt));
    for (const t of targets) await this.opts.repo.requeue(msg.id, t, made.get(t) ?? 0, this.retention);
    const tenant = (msg as { tenant?: string }).tenant ?? DEFAULT_TENANT;
    await this.opts.queue.add(targets.map((t) => ({ msgId: msg.id, target: t, tenant, attempts: made.get(t) ?? 0 })));
  }

  /** A message for an attempt: from memory when this instance accepted it or read it lately. */
  async message(id: string): Promise<StoredMessage | null> {
    const c = this.messageCache.get(id);
    if (c) return c;
    const m = await this.opts.repo.getMessage(id);
    if (m) this.remember(m);
    return m;
  }

  /**
   * Keeps recent messages in memory: the instance that accepted a message usually delivers it
   * too, and fan-out reads the same message once per endpoint. Messages are immutable.
   */
  private remember(m: StoredMessage): void {
    this.messageCache.set(m.id, m);
    if (this.messageCache.size > MESSAGE_CACHE_SIZE) this.messageCache.delete(this.messageCache.keys().next().value!);
  }
}

/** `{deprecated}` when the admitted version is deprecated, else nothing (no undefined key). */
function deprecation(admitted: { deprecated?: { sunset: string } }): { deprecated?: { sunset: string } } {
  return admitted.deprecated ? { deprecated: admitted.deprecated } : {};
}

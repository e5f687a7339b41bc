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
import type { DeliveryPolicies } from './effective-policy.js';
import { eventMatches, type EndpointDirectory } from './endpoints.js';
import { jobsOf, orderedFor } from './ordering.js';
import type { DeliveryQueue } from './queue.js';
import { retentionMs } from './repository.js';
import { breakerSettings } from './health/settings.js';
import { scheduleOf, type RetryPolicy } from './retry.js';
import type { Tenant, TenantDirectory } from './tenants.js';
import { ingressTarget, newMessageId, type DeliveryRepository, type EndpointRecord, type StoredMessage } from './types.js';

/** How long an Idempotency-Key answers with the first message. */
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/**
 * An unconfirmed claim younger than this is a publish still being written (409, retry); older, it
 * is one that died between its writes, and a retry accepts the event again under the same id.
 */
const IDEMPOTENCY_IN_FLIGHT_MS = 10_000;
/**
 * Recent messages kept in memory, by their bodies' size: enough for the backlog a burst of
 * publishes builds up ahead of the workers, so they rarely read a message back from the store.
 */
const MESSAGE_CACHE_BYTES = 8 * 1024 * 1024;

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
  /** The tenant whose endpoints receive it; the default tenant when omitted. */
  tenant?: string;
  /** Narrows the fan-out to these of the tenant's matching endpoints. */
  endpoints?: string[];
  /** Deliveries to `ordering: per-key` endpoints go in publish order per key (ignored by other endpoints). */
  orderingKey?: string;
}

export interface PublishOptions {
  /** Scoped by the caller (route name + the Idempotency-Key header). */
  idempotencyKey?: string;
  /** The route's retry policy; endpoints may override it. */
  retry?: RetryPolicyConfig;
  /** Send to this one endpoint only, whatever its subscriptions (admin send-example; the message is its tenant's). */
  onlyEndpoint?: string;
  /** The published body's size, checked against the tenant's `quotas.maxPayloadBytes`. */
  bodyBytes?: number;
}

/**
 * What an Idempotency-Key holds: the first answer, when it was claimed, and whether its message and
 * jobs were all written (`done`, set after them). Claims of older versions have neither field and
 * count as done.
 */
interface IdempotencyClaim {
  id: string;
  endpoints: number;
  at?: number;
  done?: boolean;
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
  tenants: TenantDirectory;
  /** The event catalogue: admits a published event (version, schema, unknown types). */
  eventTypes: EventTypeDirectory;
  /** The effective policies: a publish over a target's `maxPayloadBytes` is refused. */
  policies: DeliveryPolicies;
  logger: Logger;
  now: () => number;
  /** The current snapshot: its upstreams and retention. */
  snapshot: () => Snapshot;
  /** `store.durability: replicated`: resolves once a replica has the writes (HG_STORE_NOT_REPLICATED otherwise). */
  replicated?: () => Promise<void>;
}

export class DeliveryIntake {
  private readonly messageCache = new Map<string, StoredMessage>();
  private messageCacheBytes = 0;
  /**
   * The cached ids oldest first, from `cacheHead` on. Evicting through the Map's own order
   * (`keys().next()`) walks past every entry deleted since the Map last rehashed: thousands per
   * publish once the cache is full.
   */
  private cacheOrder: string[] = [];
  private cacheHead = 0;

  constructor(private readonly opts: DeliveryIntakeOptions) {}

  /**
   * An endpoint disabled for failing that auto-recovery will probe back still gets its deliveries:
   * each fails at once (`endpoint disabled`, in the failed index), so the recovery replays
   * every message it missed, also those published while it was disabled.
   */
  private missesWhileDisabled(ep: EndpointRecord): boolean {
    return ep.disabledCause === 'failing' && breakerSettings(this.opts.snapshot().egress).autoRecover;
  }

  private get retention(): number {
    return retentionMs(this.opts.snapshot().egress);
  }

  /** A store or queue write the caller's answer depends on: failing, it is a 503 with Retry-After, never a 202. */
  private async durableWrite<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw this.unavailable(what, err);
    }
  }

  /** A GatewayError as it is; anything else (the store failing) logged and answered as a 503. */
  private unavailable(what: string, err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    this.opts.logger.error({ err: (err as Error).message, code: 'HG_QUEUE_UNAVAILABLE' }, `${what} failed`);
    return Errors.QUEUE_UNAVAILABLE().with({ 'retry-after': '5' });
  }

  /**
   * A lookup publish depends on, as `durableWrite` treats it, but a plain value when the lookup
   * answered from its cache: the caller awaits only a promise.
   */
  private lookup<T>(what: string, f: () => T | Promise<T>): T | Promise<T> {
    try {
      const r = f();
      return r instanceof Promise ? this.durableWrite(what, () => r) : r;
    } catch (err) {
      throw this.unavailable(what, err);
    }
  }

  /** Stores a message and queues one job per target (ordered per key for the targets in `ordered`). */
  private accept(what: string, msg: StoredMessage, ordered: ReadonlySet<string> = NONE, confirm?: () => Promise<void>): Promise<void> {
    return this.durableWrite(what, async () => {
      // One after the other, though both go on the store's connection: a worker must never read a
      // delivery whose message is not written yet (a script's first run, EVALSHA refused and sent
      // again as EVAL, could reorder two commands sent at once).
      await this.opts.repo.saveMessage(msg, this.retention);
      this.remember(msg);
      if (msg.targets.length) await this.opts.queue.add(jobsOf(msg, msg.targets, ordered));
      // Before the WAIT, so a replica that confirms the message also has its confirmed claim.
      if (confirm) await confirm();
      if (this.opts.replicated) await this.opts.replicated();
    });
  }

  /**
   * Accepts an event for fan-out. Resolves once the message and its jobs are in the store (durable
   * with Redis), so a 202 is never a promise the gateway cannot keep.
   */
  async publish(event: PublishedEvent, opts: PublishOptions = {}): Promise<PublishAnswer> {
    const listed = this.lookup('endpoint lookup', () => this.opts.endpoints.allNow());
    const fanOut = listed instanceof Promise ? await listed : listed;
    const only = opts.onlyEndpoint !== undefined ? fanOut.find((e) => e.id === opts.onlyEndpoint) : undefined;
    // An admin send to one endpoint is its tenant's message, outside the tenant's publish quotas.
    let tenant: Tenant | undefined;
    if (opts.onlyEndpoint === undefined) {
      const id = event.tenant ?? DEFAULT_TENANT;
      const found = this.lookup('tenant lookup', () => this.opts.tenants.getNow(id));
      tenant = (found instanceof Promise ? await found : found) ?? undefined;
      if (!tenant) throw Errors.TENANT_NOT_FOUND(id);
    }
    const tenantId = tenant?.id ?? only?.tenant ?? DEFAULT_TENANT;
    // Every refusal comes before the idempotency claim and the queue: a refused publish leaves no trace.
    if (tenant && opts.bodyBytes !== undefined) this.opts.tenants.admitPayload(tenant, opts.bodyBytes);
    const own = fanOut.filter((e) => e.tenant === tenantId);
    if (event.endpoints) {
      const ids = new Set(own.map((e) => e.id));
      const stray = event.endpoints.find((id) => !ids.has(id));
      if (stray !== undefined) throw Errors.EVENT_INVALID(`"endpoints": "${stray}" is not an endpoint of tenant "${tenantId}"`);
    }
    // The catalogue's verdict, then the rate quota: an event refused for its content spends none of it.
    const admission = this.lookup('event type lookup', () => this.opts.eventTypes.admit(event));
    const admitted = admission instanceof Promise ? await admission : admission;
    const narrow = event.endpoints ? new Set(event.endpoints) : undefined;
    const endpoints = opts.onlyEndpoint !== undefined ? (only ? [only] : []) : own.filter((e) => (!e.disabled || this.missesWhileDisabled(e)) && eventMatches(e.events, event.type) && admitted.receives(e) && (!narrow || narrow.has(e.id)));
    const createdAt = this.opts.now();
    const body = JSON.stringify({ type: event.type, timestamp: new Date(createdAt).toISOString(), data: event.data });
    await this.checkPayload(body, event.type, endpoints, tenantId);
    // Without a publish quota there is nothing to count: no store call.
    if (tenant?.quotas.publishPerSec !== undefined) await this.durableWrite('tenant rate quota', () => this.opts.tenants.admitPublish(tenant!));
    let id = newMessageId();
    if (opts.idempotencyKey) {
      const claim: IdempotencyClaim = { id, endpoints: endpoints.length, at: createdAt, done: false };
      const prior = await this.durableWrite('idempotency claim', () => this.opts.repo.claimIdempotency(opts.idempotencyKey!, JSON.stringify(claim), IDEMPOTENCY_TTL_MS));
      if (prior) {
        const first = JSON.parse(prior) as IdempotencyClaim;
        if (first.done !== false || createdAt - first.at! >= this.retention) {
          // A replay after HG_STORE_NOT_REPLICATED is acknowledged only once a replica has the original.
          if (this.opts.replicated) await this.durableWrite('replication', this.opts.replicated);
          return { id: first.id, endpoints: first.endpoints, replayed: true, ...deprecation(admitted) };
        }
        if (createdAt - first.at! < IDEMPOTENCY_IN_FLIGHT_MS) throw Errors.IDEMPOTENCY_IN_PROGRESS(first.id).with({ 'retry-after': '1' });
        // Claimed long ago and never confirmed: the primary died between the claim and the
        // message's writes, or the release after a failed write could not reach it. "Replayed"
        // would acknowledge a message nobody may have stored: accept it again under the claim's id.
        this.opts.logger.warn({ code: 'HG_IDEMPOTENCY_UNCONFIRMED', messageId: first.id }, 'an Idempotency-Key claimed but never confirmed: accepting the event again under its id');
        id = first.id;
      }
    }
    const answer = { id, endpoints: endpoints.length };
    const msg: StoredMessage = {
      id,
      kind: 'event',
      tenant: tenantId,
      createdAt,
      eventType: event.type,
      body,
      bodyEncoding: 'utf8',
      schedule: scheduleFor(opts.retry),
      targets: endpoints.map((e) => e.id),
    };
    if (event.orderingKey !== undefined) msg.orderingKey = event.orderingKey;
    try {
      const key = opts.idempotencyKey;
      const confirm = key ? () => this.opts.repo.confirmIdempotency(key, JSON.stringify({ ...answer, at: createdAt, done: true } satisfies IdempotencyClaim), IDEMPOTENCY_TTL_MS) : undefined;
      await this.accept('publish', msg, new Set(endpoints.filter((e) => orderedFor(msg, e)).map((e) => e.id)), confirm);
    } catch (err) {
      // Not replicated yet, the message is stored: keep the claim, so a retry answers with its id.
      if (opts.idempotencyKey && !(err instanceof GatewayError && err.code === 'HG_STORE_NOT_REPLICATED')) await this.opts.repo.releaseIdempotency(opts.idempotencyKey).catch(() => {});
      throw err;
    }
    return { ...answer, replayed: false, ...deprecation(admitted) };
  }

  /**
   * Refuses an event body (as it would be delivered) over the smallest effective `maxPayloadBytes`
   * of its targets; with no target, of the layers above an endpoint (event type, the tenant,
   * global). Nothing is stored or queued.
   * @throws GatewayError HG_TENANT_PAYLOAD_TOO_LARGE (413)
   */
  private async checkPayload(body: string, type: string, targets: readonly EndpointRecord[], tenant: string): Promise<void> {
    let limit = Infinity;
    for (const ep of targets.length ? targets : [{ tenant }]) {
      const looked = this.opts.policies.ofNow(ep, type);
      limit = Math.min(limit, (looked instanceof Promise ? await looked : looked).maxPayloadBytes ?? Infinity);
    }
    if (Buffer.byteLength(body, 'utf8') > limit) throw Errors.TENANT_PAYLOAD_TOO_LARGE(limit);
  }

  /** Accepts an inbound request for async delivery to an upstream. */
  async enqueueIngress(req: IngressRequest): Promise<string> {
    if (!this.opts.snapshot().upstreams.has(req.upstream)) throw Errors.UPSTREAM_UNKNOWN(req.upstream);
    const id = newMessageId();
    const target = ingressTarget(req.upstream);
    const msg: StoredMessage = {
      id,
      kind: 'ingress',
      tenant: DEFAULT_TENANT,
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
    // An ordered delivery queued again joins its key's tail.
    const ordered = new Set<string>();
    if (msg.orderingKey !== undefined) for (const t of targets) if (orderedFor(msg, await this.opts.endpoints.get(t))) ordered.add(t);
    await this.opts.queue.add(jobsOf({ ...msg, tenant: msg.tenant ?? DEFAULT_TENANT }, targets, ordered, made));
  }

  /** A message this instance has in memory (accepted or read lately), without a promise; else undefined. */
  cachedMessage(id: string): StoredMessage | undefined {
    return this.messageCache.get(id);
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
    if (this.messageCache.has(m.id)) return;
    this.messageCache.set(m.id, m);
    this.cacheOrder.push(m.id);
    this.messageCacheBytes += m.body.length;
    while (this.messageCacheBytes > MESSAGE_CACHE_BYTES) {
      const id = this.cacheOrder[this.cacheHead++]!;
      this.messageCacheBytes -= this.messageCache.get(id)!.body.length;
      this.messageCache.delete(id);
    }
    // Drop the evicted ids' slots now and then (amortised: at most once per half of the array).
    if (this.cacheHead > 1024 && this.cacheHead * 2 > this.cacheOrder.length) {
      this.cacheOrder = this.cacheOrder.slice(this.cacheHead);
      this.cacheHead = 0;
    }
  }
}

const NONE: ReadonlySet<string> = new Set();

/** `{deprecated}` when the admitted version is deprecated, else nothing (no undefined key). */
function deprecation(admitted: { deprecated?: { sunset: string } }): { deprecated?: { sunset: string } } {
  return admitted.deprecated ? { deprecated: admitted.deprecated } : {};
}

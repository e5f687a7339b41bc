/** Delivery state shared by the engine, its repositories, queues and admin API. */
import { randomUUID } from 'node:crypto';
import type { ClientTlsPem } from '../client-tls.js';
import type { DeliveryPolicyConfig, EndpointOrdering } from '../config/types.js';

/** Message ids: `msg_` + 32 hex chars (a v4 UUID: 122 random bits, from Node's pooled entropy). */
export function newMessageId(): string {
  return `msg_${randomUUID().replace(/-/g, '')}`;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** A message accepted for delivery: an egress event (fan-out) or an inbound request (async ingress). */
export interface StoredMessage {
  id: string;
  kind: 'event' | 'ingress';
  /** The message's tenant (`DEFAULT_TENANT` for ingress and publishes that name none; records written before tenants read as it). */
  tenant: string;
  createdAt: number;
  /** Egress: the event type. */
  eventType?: string;
  /** The exact body bytes to send, as UTF-8 text (events) or base64 (ingress). */
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  /** Ingress: the request to replay. */
  method?: string;
  path?: string;
  headers?: Record<string, string | string[]>;
  /** Ingress: attempt timeout from the route (`deliver.timeoutMs`); else the upstream's. */
  timeoutMs?: number;
  /** Retry schedule (ms) chosen when accepted (route or global policy); endpoints may override. */
  schedule?: number[];
  /** Targets: endpoint ids (events) or `up_<upstream>` (ingress). */
  targets: string[];
  /** Published `orderingKey`: its deliveries to `ordering: per-key` endpoints go in publish order. */
  orderingKey?: string;
}

/** The target of an async-ingress delivery to `upstream`. */
export function ingressTarget(upstream: string): string {
  return `up_${upstream}`;
}

/** The upstream an ingress target names, or undefined for an endpoint id. */
export function upstreamOf(target: string): string | undefined {
  return target.startsWith('up_') ? target.slice(3) : undefined;
}

export interface AttemptRecord {
  target: string;
  attempt: number;
  at: number;
  /** HTTP status, 0 for a network error or timeout. */
  status: number;
  durationMs: number;
  error?: string;
  /** Response body, truncated to 4 KB. */
  response?: string;
  /** What was sent: the URL (password redacted) and headers (secret-looking values redacted). Absent on records from before it was kept. */
  request?: { url: string; headers: Record<string, string> };
  /** The response's headers (first 2 KB, secret-looking values redacted). */
  responseHeaders?: Record<string, string>;
}

export interface EndpointSecret {
  secret: string;
  /** When set, the secret stops signing at this time (rotation grace period). */
  expiresAt?: number;
}

export interface EndpointRecord {
  id: string;
  /** The owning tenant; records written before tenants read as `DEFAULT_TENANT`. */
  tenant: string;
  url: string;
  events: string[];
  secrets: EndpointSecret[];
  headers?: Record<string, string>;
  /** TLS for an https endpoint: a CA to trust, a client certificate and key (PEM), a servername. */
  tls?: ClientTlsPem;
  rateLimitPerSec?: number;
  description?: string;
  disabled: boolean;
  disabledReason?: string;
  /**
   * Why hookgate disabled it (unset when an operator did): `failing` endpoints are probed back by
   * auto-recovery and keep receiving their deliveries meanwhile, failed at once, to replay.
   */
  disabledCause?: 'failing' | 'gone' | 'receiver';
  /** `config` endpoints come from gateway.yaml and are read-only through the API. */
  source: 'config' | 'api';
  retry?: unknown;
  /** The endpoint's delivery policy layer (see effective-policy.ts); `policy.retry` wins over `retry`. */
  policy?: DeliveryPolicyConfig;
  /** Version pins: event type → the one version this endpoint receives (else the latest). */
  eventVersions?: Record<string, number>;
  /** Ordered delivery per `orderingKey` (absent: none). */
  ordering?: EndpointOrdering;
  createdAt: number;
  updatedAt: number;
}

export interface MessageSummary {
  id: string;
  kind: StoredMessage['kind'];
  eventType?: string;
  createdAt: string;
  status: DeliveryStatus;
  deliveries: Record<string, DeliveryStatus>;
}

/** A failed delivery in the failed index: message, target, and when it failed (ms). */
export interface FailedDelivery {
  id: string;
  target: string;
  at: number;
}

export interface ListQuery {
  status?: DeliveryStatus;
  /** Only this tenant's messages, walked on the tenant's own index. */
  tenant?: string;
  endpoint?: string;
  limit: number;
  cursor?: string;
}

/** Per-tenant limits (`tenants[].quotas`). */
export interface TenantQuotas {
  maxEndpoints?: number;
  publishPerSec?: number;
  maxPayloadBytes?: number;
}

/** A tenant created through the admin API (config tenants are never stored: gateway.yaml declares them). */
export interface TenantRecord {
  id: string;
  name?: string;
  metadata?: Record<string, string>;
  quotas?: TenantQuotas;
  /** The tenant's delivery policy layer (set through the admin API). */
  policy?: DeliveryPolicyConfig;
  createdAt: number;
  updatedAt: number;
}

/** Where messages, attempts and endpoints live: memory (embedded) or Redis (shared, durable). */
export interface DeliveryRepository {
  saveMessage(msg: StoredMessage, retentionMs: number): Promise<void>;
  getMessage(id: string): Promise<StoredMessage | null>;
  getStatuses(id: string): Promise<Record<string, DeliveryStatus>>;
  setStatus(id: string, target: string, status: DeliveryStatus, retentionMs: number): Promise<void>;
  /** Appends an attempt and sets the delivery's status in one step. */
  recordAttempt(id: string, rec: AttemptRecord, status: DeliveryStatus, retentionMs: number): Promise<void>;
  getAttempts(id: string): Promise<AttemptRecord[]>;
  /** Newest first. The cursor is opaque. */
  listMessages(q: ListQuery): Promise<{ items: string[]; nextCursor: string | null }>;
  /**
   * Deliveries to any of `targets` that are failed now and failed between `sinceMs` and `untilMs`
   * (inclusive), oldest first per target, at most `limit` in all (the bulk retry and recover).
   */
  failedBetween(targets: string[], sinceMs: number, untilMs: number, limit: number): Promise<FailedDelivery[]>;
  /** How many deliveries to `targets` are in the failed index (dead letters), for `hookgate_queue_depth{state="failed"}`. */
  countFailed(targets: string[]): Promise<number>;
  /**
   * Marks a delivery pending again for a requeue (admin retry, recover) and remembers that
   * `attemptsMade` attempts came before it: numbering continues, the schedule starts afresh.
   */
  requeue(id: string, target: string, attemptsMade: number, retentionMs: number): Promise<void>;
  /** The attempts made before the delivery's latest requeue (0 if it was never requeued). */
  requeuedAfter(id: string, target: string): Promise<number>;
  putEndpoint(ep: EndpointRecord): Promise<void>;
  getEndpoint(id: string): Promise<EndpointRecord | null>;
  listEndpoints(): Promise<EndpointRecord[]>;
  deleteEndpoint(id: string): Promise<boolean>;
  /** Writes a new API tenant; false when the id is taken in the store. */
  createTenant(t: TenantRecord): Promise<boolean>;
  putTenant(t: TenantRecord): Promise<void>;
  getTenant(id: string): Promise<TenantRecord | null>;
  listTenants(): Promise<TenantRecord[]>;
  deleteTenant(id: string): Promise<boolean>;
  /** Messages in a tenant's index (within retention, approximately: expired ones leave it now and then). */
  countTenantMessages(tenant: string, retentionMs: number): Promise<number>;
  /** Claims an idempotency key with a value; returns the existing value if already claimed. */
  claimIdempotency(key: string, value: string, ttlMs: number): Promise<string | null>;
  releaseIdempotency(key: string): Promise<void>;
  /** Replaces a claimed key's value (only while it is claimed), restarting its TTL. */
  confirmIdempotency(key: string, value: string, ttlMs: number): Promise<void>;
  /** First failure time of an endpoint's current failing streak (set once; cleared on success). */
  markFailing(endpointId: string, at: number): Promise<number>;
  clearFailing(endpointId: string): Promise<void>;
  close(): Promise<void>;
}

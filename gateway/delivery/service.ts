import { startAlerting } from '../alerts/alerting.js';
import type { CompiledRoute, Snapshot } from '../compile.js';
import { isUtf8 } from 'node:buffer';
import { gatewaySchema } from '../config/load.js';
import { DEFAULT_TENANT } from '../config/types.js';
import type { Context } from '../context.js';
import { Errors } from '../errors.js';
import { appendForwardedFor } from '../http.js';
import type { PluginResponse } from '../plugin.js';
import { encodePath } from '../router.js';
import type { GatewayService, ServiceFactory } from '../runtime.js';
import { registerDeliveryAdmin } from './admin.js';
import { registerBulkAdmin } from './admin-bulk.js';
import { registerEventTypeAdmin } from './admin-event-types.js';
import { registerTenantAdmin } from './admin-tenants.js';
import { registerSecretAdmin } from './admin-secrets.js';
import { DeliveryEngine } from './engine.js';
import type { PublishedEvent } from './intake.js';
import { deadLetterSkipped, ORDERING_KEY, ORDERING_KEY_RULE } from './ordering.js';
import { registerOrderingAdmin } from './admin-ordering.js';
import { MemoryQueue, type DeliveryQueue } from './queue.js';
import { StreamDeliveryQueue } from './stream-queue.js';
import { slottedPrefix } from '../store/redis-topology.js';
import { MemoryRepository, RedisRepository, retentionMs } from './repository.js';
import type { DeliveryRepository } from './types.js';

// Credentials are for the gateway, not for whoever receives the request later.
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'content-length', 'host'];
const EVENT_TYPE = /^[A-Za-z0-9_.:-]{1,256}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
// The rule gateway.yaml's tenant ids follow.
const TENANT_ID = new RegExp(gatewaySchema().$defs.tenantId.pattern as string);
const EVENT_FIELDS = ['type', 'data', 'version', 'tenant', 'endpoints', 'orderingKey'];

function usesDelivery(snap: Snapshot): boolean {
  return snap.routes.some((r) => r.action.kind === 'deliver' || r.action.kind === 'publish');
}

/** Parses and checks a published event: `{"type": "a.b", "data": {...}, "version"?, "tenant"?, "endpoints"?, "orderingKey"?}`. */
export function parseEvent(body: Buffer | undefined): PublishedEvent {
  const bytes = body ?? Buffer.alloc(0);
  // Decoding would turn invalid bytes into U+FFFD and sign an event the publisher never sent.
  if (!isUtf8(bytes)) throw Errors.EVENT_INVALID('the body is not valid UTF-8');
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw Errors.EVENT_INVALID('the body must be a JSON object {"type": "...", "data": {...}}');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw Errors.EVENT_INVALID('the body must be a JSON object {"type": "...", "data": {...}}');
  const o = v as Record<string, unknown>;
  if (typeof o.type !== 'string' || !EVENT_TYPE.test(o.type)) throw Errors.EVENT_INVALID('"type" must be a dot-separated event type such as "invoice.paid" (letters, digits, . _ : -)');
  if (!('data' in o) || o.data === undefined) throw Errors.EVENT_INVALID('"data" is required');
  for (const k of Object.keys(o)) if (!EVENT_FIELDS.includes(k)) throw Errors.EVENT_INVALID(`unknown field "${k}" (an event has "type", "data" and optional "version", "tenant", "endpoints", "orderingKey")`);
  if (o.version !== undefined && (!Number.isInteger(o.version) || (o.version as number) < 1)) throw Errors.EVENT_INVALID('"version" must be an integer of at least 1 (a catalogue version)');
  if (o.tenant !== undefined && (typeof o.tenant !== 'string' || !TENANT_ID.test(o.tenant))) throw Errors.EVENT_INVALID('"tenant" must be a tenant id (1-64 letters, digits, dots, dashes or underscores)');
  if (o.endpoints !== undefined && (!Array.isArray(o.endpoints) || o.endpoints.length === 0 || o.endpoints.length > 1000 || !o.endpoints.every((e) => typeof e === 'string' && e.length > 0 && e.length <= 64))) throw Errors.EVENT_INVALID('"endpoints" must be a non-empty array of endpoint ids');
  if (o.orderingKey !== undefined && (typeof o.orderingKey !== 'string' || !ORDERING_KEY.test(o.orderingKey))) throw Errors.EVENT_INVALID(`"orderingKey" must be a string of ${ORDERING_KEY_RULE}`);
  const out: PublishedEvent = { type: o.type, data: o.data };
  if (o.version !== undefined) out.version = o.version as number;
  if (o.tenant !== undefined) out.tenant = o.tenant as string;
  if (o.endpoints !== undefined) out.endpoints = [...new Set(o.endpoints as string[])];
  if (o.orderingKey !== undefined) out.orderingKey = o.orderingKey as string;
  return out;
}

/**
 * The tenant of a publish: the body's `tenant` (default tenant when absent), or with
 * `publish.tenantFrom: consumer` the authenticated consumer, which a body naming another may not override.
 */
export function publishTenant(tenantFrom: 'body' | 'consumer', bodyTenant: string | undefined, consumer: string | undefined): string {
  if (tenantFrom === 'body') return bodyTenant ?? DEFAULT_TENANT;
  if (consumer === undefined) throw Errors.TENANT_FORBIDDEN('this route takes the tenant from the authenticated consumer, and the request has none (the route needs key-auth or jwt-auth)');
  if (bodyTenant !== undefined && bodyTenant !== consumer) throw Errors.TENANT_FORBIDDEN(`"tenant": the authenticated consumer may publish only into its own tenant "${consumer}"`);
  return consumer;
}

/**
 * Creates the delivery engine with the store's driver: the Redis Streams queue + Redis repository with the redis
 * store (durable, shared), in-process queue and repository with the memory store.
 */
export const createDeliveryService: ServiceFactory = async ({ snapshot, store, logger, metrics, admin }) => {
  const egress = snapshot.egress;
  // The running snapshot, for what follows reloads below the engine (the keys of endpoint records).
  let current = snapshot;
  let repo: DeliveryRepository;
  let queue: DeliveryQueue;
  if (store.driver === 'redis') {
    repo = new RedisRepository(store.redis, slottedPrefix(store.prefix, store.cluster), Date.now, () => current.recordSealer);
    // Endpoint records this config's keys cannot open fail the start here (HG_ENDPOINT_UNREADABLE),
    // before the queue opens connections of its own; readable ones under an old key are re-encrypted.
    await repo.listEndpoints();
    const r = repo;
    queue = new StreamDeliveryQueue({ producer: store.redis, connect: (kind, purpose, pipelined) => store.connect(kind, purpose, pipelined), prefix: store.prefix, concurrency: egress.concurrency, lockDurationMs: egress.lockDurationMs, logger, onSkipped: (job) => deadLetterSkipped(r, job, retentionMs(current.egress)) });
  } else {
    repo = new MemoryRepository();
    const r = repo;
    queue = new MemoryQueue(egress.concurrency, Date.now, (job) => deadLetterSkipped(r, job, retentionMs(current.egress)));
    if (usesDelivery(snapshot)) {
      logger.warn({ code: 'HG_QUEUE_NOT_DURABLE' }, 'deliver/publish routes run on the memory store: accepted messages are lost on restart; use store.driver: redis for durability');
    }
  }
  const engine = new DeliveryEngine({ store, repo, queue, logger, metrics, snapshot });
  try {
    await engine.start();
  } catch (err) {
    // A failed start (the store, a record no key opens) leaves none of the queue's connections open.
    await engine.stop(0).catch(() => {});
    throw err;
  }
  if (metrics) {
    metrics.queueSource = () => engine.queueDepth();
    metrics.endpointStateSource = () => engine.health.states();
  }
  const alerting = metrics && startAlerting({ engine, store, metrics, logger, admin });
  if (admin) {
    registerDeliveryAdmin(admin, engine);
    registerBulkAdmin(admin, engine);
    registerEventTypeAdmin(admin, engine);
    registerTenantAdmin(admin, engine);
    registerSecretAdmin(admin, engine);
    registerOrderingAdmin(admin, engine);
  }

  const service: GatewayService & { engine: DeliveryEngine } = {
    engine,
    actions: {
      async enqueueIngress(route: CompiledRoute, ctx: Context, upstream: string): Promise<string> {
        const headers = ctx.forwardableHeaders();
        for (const h of CREDENTIAL_HEADERS) delete headers[h];
        headers['x-forwarded-for'] = appendForwardedFor(headers['x-forwarded-for'], ctx.remoteAddress);
        if (ctx.requestId) headers['x-request-id'] = ctx.requestId;
        const action = route.action.kind === 'deliver' ? route.action : undefined;
        // The normalised path, re-encoded as the proxy sends it: the decoded form would let
        // `%252e%252e` become `..` at the upstream, `%3F` a query and `%23` a fragment.
        const fp = encodePath(ctx.forwardPath ?? ctx.path);
        return engine.enqueueIngress({ method: ctx.method, path: fp + ctx.search, headers, body: ctx.body ?? Buffer.alloc(0), upstream, retry: action?.retry, timeoutMs: action?.timeoutMs });
      },
      async publish(route: CompiledRoute, ctx: Context): Promise<PluginResponse> {
        const event = parseEvent(ctx.body);
        const key = ctx.header('idempotency-key');
        if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw Errors.EVENT_INVALID('Idempotency-Key must be 1-255 printable ASCII characters');
        const action = route.action.kind === 'publish' ? route.action : undefined;
        const tenant = publishTenant(action?.tenantFrom ?? 'body', event.tenant, ctx.consumer);
        // Keys are per tenant: one tenant's key never answers for another's ('@' is in no route name).
        const scope = tenant === DEFAULT_TENANT ? route.name : `${route.name}@${tenant}`;
        const r = await engine.publish({ ...event, tenant }, { idempotencyKey: key ? `${scope}:${key}` : undefined, retry: action?.retry, bodyBytes: ctx.body?.length ?? 0 });
        ctx.messageId = r.id;
        const headers: Record<string, string> = { 'hookgate-message-id': r.id };
        if (r.replayed) headers['idempotent-replayed'] = 'true';
        // A deprecated catalogue version, as a deprecated route says it (RFC 9745 / RFC 8594).
        if (r.deprecated) {
          headers.deprecation = 'true';
          const sunset = new Date(r.deprecated.sunset);
          if (!Number.isNaN(sunset.getTime())) headers.sunset = sunset.toUTCString();
        }
        return { status: 202, headers, body: { id: r.id, endpoints: r.endpoints } };
      },
    },
    apply: (snap: Snapshot) => {
      current = snap;
      return engine.apply(snap);
    },
    async stop(deadlineMs: number, intakeClosed?: Promise<void>) {
      await alerting?.stop();
      await engine.stop(deadlineMs, intakeClosed);
    },
  };
  return service;
};

import type { CompiledRoute, Snapshot } from '../compile.js';
import { isUtf8 } from 'node:buffer';
import type { Context } from '../context.js';
import { Errors } from '../errors.js';
import { appendForwardedFor } from '../http.js';
import type { PluginResponse } from '../plugin.js';
import { encodePath } from '../router.js';
import type { GatewayService, ServiceFactory } from '../runtime.js';
import { registerDeliveryAdmin } from './admin.js';
import { registerBulkAdmin } from './admin-bulk.js';
import { registerEventTypeAdmin } from './admin-event-types.js';
import { DeliveryEngine } from './engine.js';
import { BullDeliveryQueue, MemoryQueue, type DeliveryQueue } from './queue.js';
import { MemoryRepository, RedisRepository } from './repository.js';
import type { DeliveryRepository } from './types.js';

// Credentials are for the gateway, not for whoever receives the request later.
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'content-length', 'host'];
const EVENT_TYPE = /^[A-Za-z0-9_.:-]{1,256}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function usesDelivery(snap: Snapshot): boolean {
  return snap.routes.some((r) => r.action.kind === 'deliver' || r.action.kind === 'publish');
}

/** Parses and checks a published event: `{"type": "a.b", "data": {...}}`. */
export function parseEvent(body: Buffer | undefined): { type: string; version?: number; data: unknown } {
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
  for (const k of Object.keys(o)) if (k !== 'type' && k !== 'data' && k !== 'version') throw Errors.EVENT_INVALID(`unknown field "${k}" (an event has "type", "data" and an optional "version")`);
  if (o.version !== undefined && (!Number.isInteger(o.version) || (o.version as number) < 1)) throw Errors.EVENT_INVALID('"version" must be an integer of at least 1 (a catalogue version)');
  return o.version === undefined ? { type: o.type, data: o.data } : { type: o.type, version: o.version as number, data: o.data };
}

/**
 * Creates the delivery engine with the store's driver: BullMQ + Redis repository with the redis
 * store (durable, shared), in-process queue and repository with the memory store.
 */
export const createDeliveryService: ServiceFactory = async ({ snapshot, store, logger, metrics, admin }) => {
  const egress = snapshot.egress;
  let repo: DeliveryRepository;
  let queue: DeliveryQueue;
  if (store.driver === 'redis') {
    repo = new RedisRepository(store.redis, store.prefix);
    queue = new BullDeliveryQueue({ url: store.url, prefix: store.prefix, concurrency: egress.concurrency, lockDurationMs: egress.lockDurationMs, logger });
  } else {
    repo = new MemoryRepository();
    queue = new MemoryQueue(egress.concurrency);
    if (usesDelivery(snapshot)) {
      logger.warn({ code: 'HG_QUEUE_NOT_DURABLE' }, 'deliver/publish routes run on the memory store: accepted messages are lost on restart; use store.driver: redis for durability');
    }
  }
  const engine = new DeliveryEngine({ store, repo, queue, logger, metrics, snapshot });
  await engine.start();
  if (admin) {
    registerDeliveryAdmin(admin, engine);
    registerBulkAdmin(admin, engine);
    registerEventTypeAdmin(admin, engine);
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
        const retry = route.action.kind === 'publish' ? route.action.retry : undefined;
        const r = await engine.publish(event, { idempotencyKey: key ? `${route.name}:${key}` : undefined, retry });
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
    apply: (snap: Snapshot) => engine.apply(snap),
    async stop(deadlineMs: number, intakeClosed?: Promise<void>) {
      await engine.stop(deadlineMs, intakeClosed);
    },
  };
  return service;
};

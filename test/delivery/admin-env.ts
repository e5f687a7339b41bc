/**
 * A gateway with the delivery service and its admin API, and the helpers the admin API tests
 * share (admin-api.test.ts: endpoints; admin-messages.test.ts: messages).
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startUpstream, type HttpResult, type RecordedRequest, type TestUpstream } from '../support/http.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';

export const SECRET_RE = /^whsec_([A-Za-z0-9+/]+={0,2})$/;
export const WAIT_MS = 15000;

/** A receiver whose answer per path is switchable; it records every request. */
export interface Receiver {
  up: TestUpstream;
  /** Status to answer per path (default 200). */
  status: Map<string, number>;
  to(path: string): RecordedRequest[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const status = new Map<string, number>();
  const up = await startUpstream((req, res) => {
    const code = status.get(req.url) ?? 200;
    // Failures answer with more than 4 KB, so the attempt log's truncation shows.
    const body = code >= 300 ? 'e'.repeat(5000) : '{"ok":true}';
    res.writeHead(code, { 'content-type': code >= 300 ? 'text/plain' : 'application/json' });
    res.end(body);
  });
  return { up, status, to: (p) => up.requests.filter((r) => r.url === p), close: () => up.close() };
}

export interface Env {
  gw: TestGateway;
  rx: Receiver;
  publish(type: string, data?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  stop(): Promise<void>;
}

export type Mode = 'memory' | 'redis';
const prefixes: string[] = [];

/** Deletes the Redis keys of every gateway `setup` started in this file (call from `after`). */
export async function deleteSetupKeys(): Promise<void> {
  for (const p of prefixes) await deleteKeys(p);
}

/** The egress settings `setup` uses unless given others: one config endpoint and a short 2-attempt schedule. */
const DEFAULT_EGRESS = (rx: Receiver) => `  retry: { schedule: ["50ms", "100ms"] }
  lockDurationMs: 2000
  endpoints:
    - { id: cfg-ep, url: "${rx.up.url}/cfg", events: ["cfg.*"] }`;

/**
 * A gateway with a publish route and, by default, one config endpoint (`cfg-ep`, events cfg.*) and
 * a short 2-attempt schedule; `egress` replaces those lines (under `egress:`, beside allowCidrs).
 */
export async function setup(mode: Mode, opts: { egress?: string } = {}): Promise<Env> {
  const rx = await startReceiver();
  let store = '{ driver: memory }';
  if (mode === 'redis') {
    const p = testPrefix('admin-api');
    prefixes.push(p);
    store = `{ driver: redis, url: "${REDIS_URL}", prefix: "${p}" }`;
  }
  const gw = await startGateway(
    `
store: ${store}
egress:
  allowCidrs: ["127.0.0.1/32"]
  # The admin tests count attempts to endpoints that always fail: without a breaker holding them.
  breaker: { enabled: false }
${opts.egress ?? DEFAULT_EGRESS(rx)}
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
`,
    { services: createDeliveryService },
  );
  return {
    gw,
    rx,
    publish: (type, data = { n: 1 }, headers = {}) =>
      gw.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ type, data }) }),
    async stop() {
      await gw.stop();
      await rx.close();
    },
  };
}

export function errCode(r: HttpResult): string {
  return r.json().error?.code;
}

export async function expectError(p: Promise<HttpResult>, status: number, code: string, what: string): Promise<HttpResult> {
  const r = await p;
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status} ${r.text}`);
  assert.equal(errCode(r), code, `${what}: ${r.text}`);
  return r;
}

export async function createEndpoint(env: Env, body: Record<string, unknown>): Promise<Record<string, any>> {
  const r = await env.gw.admin('POST', '/admin/endpoints', body);
  assert.equal(r.status, 201, r.text);
  return r.json();
}

export async function publishOk(env: Env, type: string, data?: unknown): Promise<string> {
  const r = await env.publish(type, data);
  assert.equal(r.status, 202, r.text);
  return r.json().id as string;
}

export async function message(env: Env, id: string): Promise<Record<string, any>> {
  const r = await env.gw.admin('GET', `/admin/messages/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json();
}

export async function deliveryStatus(env: Env, id: string, endpoint: string): Promise<string | undefined> {
  return (await message(env, id)).deliveries[endpoint]?.status;
}

/** Walks /admin/messages page by page, checking the cursor contract on the way. */
export async function listAll(env: Env, query: string, limit: number): Promise<{ ids: string[]; pages: number[] }> {
  const ids: string[] = [];
  const pages: number[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const q = `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await env.gw.admin('GET', `/admin/messages?${q}`);
    assert.equal(r.status, 200, r.text);
    const body = r.json();
    assert.ok(body.messages.length <= limit, `a page holds at most ${limit}`);
    pages.push(body.messages.length);
    ids.push(...body.messages.map((m: { id: string }) => m.id));
    cursor = body.nextCursor;
    if (!cursor) return { ids, pages };
  }
  throw new Error('pagination did not end');
}

export function webhookHeadersOf(h: IncomingHttpHeaders): Record<string, string> {
  return { 'webhook-id': String(h['webhook-id']), 'webhook-timestamp': String(h['webhook-timestamp']), 'webhook-signature': String(h['webhook-signature']) };
}


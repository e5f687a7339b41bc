/**
 * A gateway with tenants for the tenant tests (tenants-publish.test.ts, tenants-admin.test.ts):
 * acme (two endpoints), globex (one), tiny (quotas: one endpoint, 3 publishes/s, 300-byte bodies)
 * and the default tenant (one endpoint); an open publish route, a key-auth route that takes the
 * tenant from the consumer, and one that takes it from a consumer it never has.
 */
import assert from 'node:assert/strict';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import type { HttpResult } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';
import { startReceiver, type Mode, type Receiver } from './admin-env.js';

export const ACME_KEY = 'acme-key-7f3a9c1e5b2d4f60';
export const GLOBEX_KEY = 'globex-key-2b8e6d4a1c9f3e57';
export const NOBODY_KEY = 'nobody-key-5c1a7e3f9b2d6a48';

export interface TenantEnv {
  gw: TestGateway;
  rx: Receiver;
  /** POSTs an event body (an object, sent as JSON) to a route's path. */
  publish(body: Record<string, unknown>, o?: { path?: string; headers?: Record<string, string> }): Promise<HttpResult>;
  stop(): Promise<void>;
}

const prefixes: string[] = [];

/** Deletes the Redis keys of every gateway `tenantSetup` started in this file (call from `after`). */
export async function deleteTenantKeys(): Promise<void> {
  for (const p of prefixes) await deleteKeys(p);
}

/** The gateway.yaml text; `prefix` shares the store between instances. */
export function tenantConfig(mode: Mode, rxUrl: string, prefix?: string): string {
  const store = mode === 'redis' ? `{ driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }` : '{ driver: memory }';
  return `
store: ${store}
eventTypes:
  - { name: sample.ping, examples: [ { n: 1 } ] }
tenants:
  - { id: acme, name: Acme Corp, metadata: { plan: gold } }
  - { id: globex, name: Globex }
  - { id: tiny, quotas: { maxEndpoints: 1, publishPerSec: 3, maxPayloadBytes: 300 } }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: ["50ms"] }
  lockDurationMs: 2000
  endpoints:
    - { id: dflt, url: "${rxUrl}/dflt" }
    - { id: acme-inv, tenant: acme, url: "${rxUrl}/acme-inv", events: ["invoice.*"] }
    - { id: acme-all, tenant: acme, url: "${rxUrl}/acme-all" }
    - { id: globex-all, tenant: globex, url: "${rxUrl}/globex-all" }
    - { id: tiny-all, tenant: tiny, url: "${rxUrl}/tiny-all" }
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
  - name: mine
    path: /mine
    methods: [POST]
    plugins:
      - key-auth: { keys: [ { key: "${ACME_KEY}", consumer: acme }, { key: "${GLOBEX_KEY}", consumer: globex }, { key: "${NOBODY_KEY}", consumer: nobody } ] }
    publish: { tenantFrom: consumer }
  - name: unauthenticated
    path: /unauthenticated
    methods: [POST]
    publish: { tenantFrom: consumer }
`;
}

export async function tenantSetup(mode: Mode, shared?: { prefix: string; rx: Receiver }): Promise<TenantEnv> {
  const rx = shared?.rx ?? (await startReceiver());
  let prefix = shared?.prefix;
  if (mode === 'redis' && !prefix) {
    prefix = testPrefix('tenants');
    prefixes.push(prefix);
  }
  const gw = await startGateway(tenantConfig(mode, rx.up.url, prefix), { services: createDeliveryService });
  return {
    gw,
    rx,
    publish: (body, o = {}) => gw.request({ method: 'POST', path: o.path ?? '/events', headers: { 'content-type': 'application/json', ...(o.headers ?? {}) }, body: JSON.stringify(body) }),
    async stop() {
      await gw.stop();
      if (!shared) await rx.close();
    },
  };
}

/** The prefix a redis `tenantSetup` used (to start a second instance on the same store). */
export function lastPrefix(): string {
  return prefixes.at(-1)!;
}

export async function accepted(r: Promise<HttpResult>, what = 'publish'): Promise<{ id: string; endpoints: number }> {
  const res = await r;
  assert.equal(res.status, 202, `${what}: ${res.status} ${res.text}`);
  return res.json();
}

/** The targets of a message, as GET /admin/messages/{id} shows them. */
export async function targetsOf(env: TenantEnv, id: string): Promise<string[]> {
  const r = await env.gw.admin('GET', `/admin/messages/${id}`);
  assert.equal(r.status, 200, r.text);
  return Object.keys(r.json().deliveries).sort();
}

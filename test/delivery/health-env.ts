/**
 * Gateways for the endpoint health tests (breaker*.test.ts, receiver-signals.test.ts,
 * auto-recover.test.ts): a publish route, one or more endpoints, short breaker intervals, the
 * operational events each gateway raised, and the health the admin API shows.
 */
import assert from 'node:assert/strict';
import type { DeliveryEngine } from '../../gateway/delivery/engine.js';
import type { OperationalEvent } from '../../gateway/delivery/operational.js';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';

export type Driver = 'memory' | 'redis';
export const DRIVERS: readonly Driver[] = ['memory', 'redis'];
export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export interface HealthGateway {
  g: TestGateway;
  engine: DeliveryEngine;
  /** Operational events this gateway raised, in order. */
  events: OperationalEvent[];
  /** POSTs an event; returns its message id. */
  publish(data?: unknown): Promise<string>;
  /** The endpoint's `health` as `GET /admin/endpoints/{id}` answers it. */
  health(id?: string): Promise<{ state: string; reason: string | null; since: string | null; nextProbeAt: string | null; slowedUntil: string | null }>;
  /** The attempts of a message to the endpoint. */
  attempts(msgId: string, id?: string): Promise<{ attempt: number; at: number; status: number; error?: string }[]>;
  status(msgId: string, id?: string): Promise<string | undefined>;
  /** Rewrites gateway.yaml with another `egress` block and reloads it. */
  reload(egress: string): Promise<void>;
  stop(): Promise<void>;
}

/** Store prefixes handed out; `deleteHealthKeys` removes their keys (call from `after`, after the gateways stop). */
const prefixes: string[] = [];

export function healthPrefix(name: string): string {
  const p = testPrefix(name);
  prefixes.push(p);
  return p;
}

export async function deleteHealthKeys(): Promise<void> {
  for (const p of prefixes.splice(0)) await deleteKeys(p);
}

/**
 * A gateway on `driver` (Redis under `prefix`, shared by gateways given the same one). `egress` is
 * YAML inserted under `egress:` (indented two spaces), e.g. the breaker and the endpoints.
 */
export async function healthGateway(driver: Driver, egress: string, prefix?: string): Promise<HealthGateway> {
  const store = driver === 'redis' ? `store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix ?? healthPrefix('health')}" }` : 'store: { driver: memory }';
  const yaml = (e: string) => `${store}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
${e}
`;
  const g = await startGateway(yaml(egress), { services: createDeliveryService });
  const engine = (g.gw.service as unknown as { engine: DeliveryEngine }).engine;
  const events: OperationalEvent[] = [];
  engine.events.on('operational', (ev) => events.push(ev));
  return {
    g,
    engine,
    events,
    async publish(data = {}) {
      const r = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'a.b', data }) });
      assert.equal(r.status, 202, r.text);
      return r.json().id as string;
    },
    async health(id = 'ep') {
      const r = await g.admin('GET', `/admin/endpoints/${id}`);
      assert.equal(r.status, 200, r.text);
      return r.json().health;
    },
    async attempts(msgId, id = 'ep') {
      return (await engine.repo.getAttempts(msgId)).filter((a) => a.target === id);
    },
    async status(msgId, id = 'ep') {
      return (await engine.repo.getStatuses(msgId))[id];
    },
    async reload(e) {
      g.write(yaml(e));
      await g.gw.reload('SIGHUP');
    },
    stop: () => g.stop(),
  };
}

/** The count of `type` events. */
export function count(events: OperationalEvent[], type: OperationalEvent['type']): number {
  return events.filter((e) => e.type === type).length;
}

/**
 * Attempts on an engine built directly (injected clock, own queue): the failing streak that
 * disables an endpoint, the SSRF guard, rate limits, per-endpoint slots and the overload floor.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { DeliveryEngine } from '../../gateway/delivery/engine.js';
import type { OperationalEvent } from '../../gateway/delivery/operational.js';
import { MemoryQueue } from '../../gateway/delivery/queue.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import { waitUntil } from '../support/http.js';
import { compileConfig } from '../support/snapshot.js';
import { openResources } from './resources.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const silent = pino({ level: 'silent' });
const { onClose, receiver } = openResources();

describe('engine behaviour with injected time and pure parts', () => {
  async function engine(opts: { now?: () => number; egress?: Record<string, unknown>; queue?: MemoryQueue; overloadMinDelayMs?: number } = {}) {
    const store = new MemoryStore();
    const repo = new MemoryRepository(opts.now);
    const queue = opts.queue ?? new MemoryQueue(8);
    const snapshot = await compileConfig({ egress: opts.egress ?? {} }, store);
    const e = new DeliveryEngine({ store, repo, queue, logger: silent, snapshot, now: opts.now, overloadMinDelayMs: opts.overloadMinDelayMs });
    onClose(() => e.stop(1000).then(() => snapshot.dispose()).then(() => store.close()));
    return e;
  }

  async function addEndpoint(e: DeliveryEngine, id: string, url: string, extra: Record<string, unknown> = {}) {
    const t = Date.now();
    await e.repo.putEndpoint({ id, tenant: 'default', url, events: ['*'], secrets: [{ secret: SECRET }], disabled: false, source: 'api', createdAt: t, updatedAt: t, ...extra });
  }

  test('an endpoint failing for disableAfterHours is disabled with endpoint.disabled', async () => {
    let clock = Date.now();
    const r = await receiver((_req, res) => {
      clock += 50 * 3600_000; // each failed attempt happens 50 h after the previous one
      res.writeHead(500).end();
    });
    const e = await engine({ now: () => clock, egress: { allowCidrs: ['127.0.0.1/32'], disableAfterHours: 120, retry: { schedule: [0, '10ms', '10ms', '10ms', '10ms', '10ms'] } } });
    const events: OperationalEvent[] = [];
    // No annotation on `ev`: the emitter's type supplies it (the expect-errors fail to compile if it goes untyped).
    e.events.on('operational', (ev) => {
      // @ts-expect-error timestamp is an ISO string
      const n: number = ev.timestamp;
      void n;
      events.push(ev);
    });
    // @ts-expect-error 'operational' is the only event
    e.events.on('other', () => {});
    await addEndpoint(e, 'ep', `${r.url}/hook`);
    await e.start();
    await e.publish({ type: 'a.b', data: {} });
    await waitUntil(() => events.some((ev) => ev.type === 'endpoint.disabled'), 10000, 'endpoint.disabled');
    // The streak starts at the first failure (+50 h); failures at +100 h and +150 h are within
    // 120 h of it, the one at +200 h is not.
    assert.equal(r.requests.length, 4);
    const ep = await e.repo.getEndpoint('ep');
    assert.equal(ep?.disabled, true);
    assert.match(ep?.disabledReason ?? '', /120 h/);
  });

  test('loopback is refused by the SSRF guard by default, and allowed with allowCidrs', async () => {
    const r = await receiver();
    const blocked = await engine({ egress: { retry: { schedule: [0] } } });
    await addEndpoint(blocked, 'ep', `${r.url}/hook`);
    await blocked.start();
    const { id } = await blocked.publish({ type: 'a.b', data: {} });
    await waitUntil(async () => (await blocked.repo.getStatuses(id)).ep === 'failed', 10000, 'failed');
    const att = await blocked.repo.getAttempts(id);
    assert.equal(att[0]!.status, 0);
    assert.match(att[0]!.error ?? '', /blocked by the SSRF guard.*egress\.allowCidrs/);
    assert.equal(r.requests.length, 0, 'no connection reached the receiver');

    const allowed = await engine({ egress: { allowCidrs: ['127.0.0.1/32'], retry: { schedule: [0] } } });
    await addEndpoint(allowed, 'ep', `${r.url}/hook`);
    await allowed.start();
    const m2 = await allowed.publish({ type: 'a.b', data: {} });
    await waitUntil(async () => (await allowed.repo.getStatuses(m2.id)).ep === 'delivered', 10000, 'delivered');
    assert.equal(r.requests.length, 1);
    // By name too (resolved at connect time by the guarded lookup).
    const byName = await engine({ egress: { retry: { schedule: [0] } } });
    await addEndpoint(byName, 'ep', `http://localhost:${r.port}/hook`);
    await byName.start();
    const m3 = await byName.publish({ type: 'a.b', data: {} });
    await waitUntil(async () => (await byName.repo.getStatuses(m3.id)).ep === 'failed', 10000, 'failed by name');
    assert.equal(r.requests.length, 1);
  });

  test('rateLimitPerSec delays deliveries instead of failing them', async () => {
    const r = await receiver();
    const e = await engine({ egress: { allowCidrs: ['127.0.0.1/32'] } });
    await addEndpoint(e, 'ep', `${r.url}/hook`, { rateLimitPerSec: 4 });
    await e.start();
    const ids: string[] = [];
    const started = Date.now();
    for (let i = 0; i < 10; i++) ids.push((await e.publish({ type: 'a.b', data: { i } })).id);
    await waitUntil(() => r.requests.length === 10, 15000, '10 deliveries');
    // 10 deliveries at 4 per second span at least three one-second windows.
    assert.ok(Date.now() - started >= 1000, 'took at least two window boundaries');
    // The receiver counts a request when it arrives; the attempt is recorded once its answer is in.
    await waitUntil(async () => (await Promise.all(ids.map((id) => e.repo.getStatuses(id)))).every((st) => st.ep === 'delivered'), 10000, 'every attempt recorded');
    for (const id of ids) {
      const att = await e.repo.getAttempts(id);
      assert.equal(att.length, 1, 'rate limiting is not a failed attempt');
      assert.equal(att[0]!.status, 200);
    }
  });

  test('a 429 and a timeout both wait the overload minimum, overloadMinDelayMs when given', async () => {
    // Without the knob both would wait 60 s and the second attempts would never come in time.
    const FLOOR = 400;
    const times: Record<string, number[]> = { '/busy': [], '/slow': [] };
    const r = await receiver((req, res) => {
      const seen = times[req.url!]!;
      seen.push(Date.now());
      if (seen.length > 1) return void res.writeHead(200).end();
      if (req.url === '/busy') return void res.writeHead(429).end();
      // /slow: hold the first answer past attemptTimeoutMs.
      setTimeout(() => res.writeHead(200).end(), 1000).unref();
    });
    const e = await engine({ overloadMinDelayMs: FLOOR, egress: { allowCidrs: ['127.0.0.1/32'], attemptTimeoutMs: 100, retry: { schedule: [0, '10ms'] } } });
    await addEndpoint(e, 'busy', `${r.url}/busy`);
    await addEndpoint(e, 'slow', `${r.url}/slow`);
    await e.start();
    const { id } = await e.publish({ type: 'a.b', data: {} });
    await waitUntil(async () => {
      const st = await e.repo.getStatuses(id);
      return st.busy === 'delivered' && st.slow === 'delivered';
    }, 10000, 'both delivered on the second attempt');
    const busyGap = times['/busy']![1]! - times['/busy']![0]!;
    assert.ok(busyGap >= FLOOR - 5, `429: gap was ${busyGap} ms, floor ${FLOOR} ms`);
    // The floor counts from the end of the timed-out attempt, which is after the receiver saw it.
    const slowGap = times['/slow']![1]! - times['/slow']![0]!;
    assert.ok(slowGap >= FLOOR - 5, `timeout: gap was ${slowGap} ms, floor ${FLOOR} ms`);
    const att = await e.repo.getAttempts(id);
    assert.deepEqual(att.filter((a) => a.target === 'busy').map((a) => a.status), [429, 200]);
    assert.deepEqual(att.filter((a) => a.target === 'slow').map((a) => a.status), [0, 200]);
  });

  test('a dead endpoint does not starve a healthy one', async () => {
    const held: (() => void)[] = [];
    let open = 0;
    let maxOpen = 0;
    const dead = await receiver((_req, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      held.push(() => {
        open--;
        res.writeHead(200).end();
      });
    });
    onClose(async () => held.forEach((f) => f()));
    const healthy = await receiver();
    const e = await engine({ egress: { allowCidrs: ['127.0.0.1/32'], maxInFlightPerEndpoint: 2, attemptTimeoutMs: 30000 }, queue: new MemoryQueue(4) });
    await addEndpoint(e, 'dead', `${dead.url}/hook`, { events: ['*'] });
    await addEndpoint(e, 'healthy', `${healthy.url}/hook`);
    await e.start();
    for (let i = 0; i < 20; i++) await e.publish({ type: 'a.b', data: { i } });
    await waitUntil(() => healthy.requests.length === 20, 15000, 'healthy endpoint got all 20');
    assert.ok(maxOpen <= 2, `dead endpoint held ${maxOpen} attempts at once (cap 2)`);
    held.splice(0).forEach((f) => f());
  });
});

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { pino } from 'pino';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { DeliveryEngine } from '../../gateway/delivery/engine.js';
import type { OperationalEvent } from '../../gateway/delivery/operational.js';
import { MemoryQueue } from '../../gateway/delivery/queue.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { compileConfig } from '../support/snapshot.js';
import { startUpstream, waitUntil, type RecordedRequest, type TestUpstream } from '../support/http.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/redis.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const silent = pino({ level: 'silent' });

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function gatewayWith(yaml: string): Promise<TestGateway> {
  const g = await startGateway(yaml, { services: createDeliveryService });
  cleanups.push(() => g.stop());
  return g;
}

async function receiver(handler?: Parameters<typeof startUpstream>[0]): Promise<TestUpstream> {
  const u = await startUpstream(handler);
  cleanups.push(() => u.close());
  return u;
}

function verifyAll(reqs: RecordedRequest[], secret = SECRET): void {
  const wh = new Webhook(secret);
  for (const r of reqs) {
    // The official library is the oracle: it checks the signature and the timestamp window.
    wh.verify(r.body.toString('utf8'), r.headers as Record<string, string>);
  }
}

function publish(g: TestGateway, type: string, data: unknown, headers: Record<string, string> = {}) {
  return g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ type, data }) });
}

for (const driver of ['memory', 'redis'] as const) {
  describe(`egress with the ${driver} store`, () => {
    // One prefix per test: gateways sharing a prefix would share one queue and take each other's jobs.
    const prefixes: string[] = [];
    after(async () => {
      for (const p of prefixes) await deleteKeys(p);
    });
    const storeYaml = () => {
      if (driver === 'memory') return 'store: { driver: memory }';
      const prefix = testPrefix(`engine-${driver}`);
      prefixes.push(prefix);
      return `store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }`;
    };

    test('fans out to subscribed endpoints; every delivery verifies with standardwebhooks', async () => {
      const a = await receiver();
      const b = await receiver();
      const g = await gatewayWith(`${storeYaml()}
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: invoices, url: "${a.url}/hook", events: ["invoice.*"], secret: "${SECRET}", headers: { x-tenant: acme } }
    - { id: all, url: "${b.url}/hook", events: ["*"], secret: "${SECRET}" }
`);
      const r1 = await publish(g, 'invoice.paid', { amount: 10 });
      assert.equal(r1.status, 202);
      assert.equal(r1.json().endpoints, 2);
      assert.match(r1.json().id, /^msg_/);
      assert.equal(r1.headers['hookgate-message-id'], r1.json().id);
      const r2 = await publish(g, 'customer.created', { id: 'c1' });
      assert.equal(r2.json().endpoints, 1);
      await waitUntil(() => a.requests.length === 1 && b.requests.length === 2, 10000, 'deliveries');
      verifyAll([...a.requests, ...b.requests]);
      const got = a.requests[0]!;
      assert.equal(got.headers['webhook-id'], r1.json().id);
      assert.equal(got.headers['x-tenant'], 'acme');
      assert.equal(got.headers['content-type'], 'application/json');
      const payload = JSON.parse(got.body.toString());
      assert.deepEqual(Object.keys(payload), ['type', 'timestamp', 'data']);
      assert.equal(payload.type, 'invoice.paid');
      assert.deepEqual(payload.data, { amount: 10 });
      assert.ok(!Number.isNaN(Date.parse(payload.timestamp)));
      // The attempt log records it.
      const m = await g.admin('GET', `/admin/messages/${r1.json().id}`);
      assert.equal(m.json().status, 'delivered');
      assert.equal(m.json().deliveries.invoices.attempts[0].status, 200);
    });

    test('retries on failure with the configured schedule, same webhook-id, then succeeds', async () => {
      let n = 0;
      const times: number[] = [];
      const r = await receiver((_req, res) => {
        times.push(Date.now());
        n++;
        res.writeHead(n <= 2 ? 500 : 200).end(n <= 2 ? 'boom' : 'ok');
      });
      const g = await gatewayWith(`${storeYaml()}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "300ms", "600ms", "1s"] }
  endpoints:
    - { id: flaky, url: "${r.url}/hook", secret: "${SECRET}" }
`);
      const id = (await publish(g, 'order.created', { n: 1 })).json().id;
      await waitUntil(() => r.requests.length === 3, 15000, '3 attempts');
      verifyAll(r.requests);
      assert.deepEqual(new Set(r.requests.map((q) => q.headers['webhook-id'])), new Set([id]));
      // Lower bounds only (jitter is ±20%): never earlier than the schedule allows.
      assert.ok(times[1]! - times[0]! >= 300 * 0.8 - 5, `gap 1 was ${times[1]! - times[0]!} ms`);
      assert.ok(times[2]! - times[1]! >= 600 * 0.8 - 5, `gap 2 was ${times[2]! - times[1]!} ms`);
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${id}`)).json().status === 'delivered', 5000, 'delivered status');
      const att = (await g.admin('GET', `/admin/messages/${id}`)).json().deliveries.flaky.attempts;
      assert.deepEqual(att.map((a: any) => a.status), [500, 500, 200]);
      assert.equal(att[0].response, 'boom');
    });

    test('exhausted attempts mark the message failed and raise message.attempt.exhausted', async () => {
      const r = await receiver((_req, res) => void res.writeHead(503).end('x'.repeat(10000)));
      const g = await gatewayWith(`${storeYaml()}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "50ms"] }
  endpoints:
    - { id: down, url: "${r.url}/hook" }
`);
      const events: OperationalEvent[] = [];
      (g.gw.service as any).engine.events.on('operational', (e: OperationalEvent) => events.push(e));
      const id = (await publish(g, 'x.y', {})).json().id;
      await waitUntil(() => events.some((e) => e.type === 'message.attempt.exhausted'), 10000, 'exhausted event');
      assert.equal(r.requests.length, 2);
      const m = (await g.admin('GET', `/admin/messages/${id}`)).json();
      assert.equal(m.status, 'failed');
      assert.equal(m.deliveries.down.attempts.length, 2);
      assert.equal(m.deliveries.down.attempts[0].response.length, 4096, 'response body truncated to 4 KB');
      assert.ok(g.log.lines.some((l) => l.event === 'message.attempt.exhausted'), 'operational event logged');
    });

    test('410 disables the endpoint at once; 3xx is a failure and is not followed', async () => {
      const gone = await receiver((_req, res) => void res.writeHead(410).end());
      const redirect = await receiver((req, res) => {
        if (req.url === '/hook') res.writeHead(302, { location: '/elsewhere' }).end();
        else res.writeHead(200).end();
      });
      const g = await gatewayWith(`${storeYaml()}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "50ms", "50ms"] }
  endpoints:
    - { id: gone, url: "${gone.url}/hook" }
    - { id: moved, url: "${redirect.url}/hook" }
`);
      const events: OperationalEvent[] = [];
      (g.gw.service as any).engine.events.on('operational', (e: OperationalEvent) => events.push(e));
      const id = (await publish(g, 'a.b', {})).json().id;
      await waitUntil(() => events.some((e) => e.type === 'endpoint.disabled'), 10000, 'endpoint.disabled');
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${id}`)).json().deliveries.moved.status === 'failed', 10000, 'moved failed');
      assert.equal(gone.requests.length, 1, 'no retry after 410');
      const ep = (await g.admin('GET', '/admin/endpoints/gone')).json();
      assert.equal(ep.state, 'disabled');
      assert.match(ep.disabledReason, /410/);
      assert.equal(redirect.requests.filter((q) => q.url === '/elsewhere').length, 0, 'redirect not followed');
      assert.equal(redirect.requests.length, 3, '3xx retried as a failure');
      // A disabled endpoint gets no new messages.
      assert.equal((await publish(g, 'a.b', {})).json().endpoints, 1);
    });

    test('Idempotency-Key returns the first answer and delivers once', async () => {
      const r = await receiver();
      const g = await gatewayWith(`${storeYaml()}
routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: one, url: "${r.url}/hook" }
`);
      const a = await publish(g, 'a.b', { n: 1 }, { 'idempotency-key': 'key-1' });
      const b = await publish(g, 'a.b', { n: 1 }, { 'idempotency-key': 'key-1' });
      const c = await publish(g, 'a.b', { n: 1 }, { 'idempotency-key': 'key-2' });
      assert.equal(b.status, 202);
      assert.equal(b.json().id, a.json().id);
      assert.equal(b.headers['idempotent-replayed'], 'true');
      assert.notEqual(c.json().id, a.json().id);
      await waitUntil(() => r.requests.length === 2, 10000, '2 deliveries');
      assert.deepEqual(new Set(r.requests.map((q) => q.headers['webhook-id'])), new Set([a.json().id, c.json().id]));
    });

    test('async ingress: 202 at once, then the exact request reaches the upstream, retried until 2xx', async () => {
      let n = 0;
      const up = await receiver((_req, res) => {
        n++;
        res.writeHead(n === 1 ? 502 : 204).end();
      });
      const g = await gatewayWith(`${storeYaml()}
upstreams:
  orders: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: inbox
    path: /webhook/v1/orders
    methods: [POST, PUT]
    deliver: { upstream: orders, retry: { schedule: [0, "50ms", "50ms"] } }
`);
      const body = Buffer.from('{"order": 1,   "raw": "bytes\\u00e9"}');
      const res = await g.request({ method: 'PUT', path: '/webhook/v1/orders?src=test', headers: { 'content-type': 'application/json', authorization: 'Bearer secret-token', cookie: 'a=b', 'x-hub-signature-256': 'sha256=abc' }, body });
      assert.equal(res.status, 202);
      const id = res.json().id;
      assert.equal(res.headers['hookgate-message-id'], id);
      await waitUntil(() => up.requests.length === 2, 10000, '2 attempts');
      const got = up.requests[1]!;
      assert.equal(got.method, 'PUT');
      assert.equal(got.url, '/webhook/v1/orders?src=test');
      assert.deepEqual(got.body, body);
      assert.equal(got.headers['content-type'], 'application/json');
      assert.equal(got.headers.authorization, undefined, 'credentials are not forwarded');
      assert.equal(got.headers.cookie, undefined);
      assert.equal(got.headers['x-hub-signature-256'], 'sha256=abc', 'provider signatures are kept');
      assert.equal(got.headers['hookgate-message-id'], id);
      assert.equal(got.headers['hookgate-attempt'], '2');
      await waitUntil(async () => (await g.admin('GET', `/admin/messages/${id}`)).json().status === 'delivered', 5000, 'delivered');
    });
  });
}

describe('publish input', () => {
  test('malformed events get 400 HG_EVENT_INVALID', async () => {
    const g = await gatewayWith(`routes:
  - { name: events, path: /events, publish: {} }
`);
    for (const body of ['not json', '[]', '{"data":{}}', '{"type":"a b","data":{}}', '{"type":"a.b"}', '{"type":"a.b","data":{},"extra":1}', '{"type":7,"data":{}}']) {
      const r = await g.request({ method: 'POST', path: '/events', body });
      assert.equal(r.status, 400, body);
      assert.equal(r.json().error.code, 'HG_EVENT_INVALID', body);
    }
    assert.ok(g.log.lines.some((l) => l.code === 'HG_QUEUE_NOT_DURABLE'), 'memory-store warning logged');
  });
});

describe('engine behaviour with injected time and pure parts', () => {
  async function engine(opts: { now?: () => number; egress?: Record<string, unknown>; queue?: MemoryQueue; overloadMinDelayMs?: number } = {}) {
    const store = new MemoryStore();
    const repo = new MemoryRepository(opts.now);
    const queue = opts.queue ?? new MemoryQueue(8);
    const snapshot = await compileConfig({ egress: opts.egress ?? {} }, store);
    const e = new DeliveryEngine({ store, repo, queue, logger: silent, snapshot, now: opts.now, overloadMinDelayMs: opts.overloadMinDelayMs });
    cleanups.push(() => e.stop(1000).then(() => snapshot.dispose()).then(() => store.close()));
    return e;
  }

  async function addEndpoint(e: DeliveryEngine, id: string, url: string, extra: Record<string, unknown> = {}) {
    const t = Date.now();
    await e.repo.putEndpoint({ id, url, events: ['*'], secrets: [{ secret: SECRET }], disabled: false, source: 'api', createdAt: t, updatedAt: t, ...extra });
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
    cleanups.push(async () => held.forEach((f) => f()));
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

describe('Retry-After and the operational webhook', () => {
  test('Retry-After stretches the next delay (clamped to twice the scheduled one)', async () => {
    const times: number[] = [];
    const r = await receiver((_req, res) => {
      times.push(Date.now());
      if (times.length === 1) res.writeHead(503, { 'retry-after': '30' }).end();
      else res.writeHead(200).end();
    });
    const g = await gatewayWith(`routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0, "200ms", "1s"] }
  endpoints:
    - { id: ep, url: "${r.url}/hook" }
`);
    await publish(g, 'a.b', {});
    await waitUntil(() => times.length === 2, 10000, 'second attempt');
    // Scheduled 200 ms ±20%; Retry-After 30 s is clamped to twice that: at least 320 ms.
    assert.ok(times[1]! - times[0]! >= 2 * 200 * 0.8 - 5, `gap was ${times[1]! - times[0]!} ms`);
  });

  test('operational events are also sent, signed, to egress.operationalWebhook', async () => {
    const ops = await receiver();
    const gone = await receiver((_req, res) => void res.writeHead(410).end());
    const OPS_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
    const g = await gatewayWith(`routes:
  - { name: events, path: /events, publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  operationalWebhook: { url: "${ops.url}/ops", secret: "${OPS_SECRET}" }
  endpoints:
    - { id: gone, url: "${gone.url}/hook" }
`);
    await publish(g, 'a.b', {});
    await waitUntil(() => ops.requests.some((q) => JSON.parse(q.body.toString()).type === 'endpoint.disabled'), 10000, 'endpoint.disabled on the ops webhook');
    verifyAll(ops.requests, OPS_SECRET);
    const ev = ops.requests.map((q) => JSON.parse(q.body.toString())).find((e) => e.type === 'endpoint.disabled');
    assert.equal(ev.data.endpointId, 'gone');
  });
});

/**
 * The egress attempt timeout is an absolute deadline for the whole attempt (connect, headers,
 * body), for publish attempts, `deliver` attempts and the operational webhook: endpoints that
 * trickle a byte at a time end at the deadline, are recorded as timeouts, and do not hold up a
 * healthy endpoint.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { DeliveryEngine } from '../../gateway/delivery/engine.js';
import { OperationalEvents } from '../../gateway/delivery/operational.js';
import { AttemptPolicy } from '../../gateway/delivery/policy.js';
import { MemoryQueue } from '../../gateway/delivery/queue.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import { SystemDeliveries } from '../../gateway/delivery/system-deliveries.js';
import { sendIngress, sendSigned } from '../../gateway/delivery/transport.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import { memoryLogger } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { compileConfig } from '../support/snapshot.js';
import { openResources } from './resources.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const silent = pino({ level: 'silent' });
const { onClose } = openResources();

/** At most this many trickled bytes (one per TICK_MS): bounded, and far longer than any deadline here. */
const MAX_BYTES = 150;
const TICK_MS = 100;

/** Writes `bytes` one at a time every TICK_MS until MAX_BYTES or the peer goes away. */
function trickle(socket: Socket | NodeJS.WritableStream & { on: Socket['on'] }, bytes: string, end: () => void): void {
  let i = 0;
  const timer = setInterval(() => {
    if (i >= MAX_BYTES) {
      clearInterval(timer);
      return end();
    }
    (socket as NodeJS.WritableStream).write(bytes[i % bytes.length]!);
    i++;
  }, TICK_MS);
  socket.on('close', () => clearInterval(timer));
}

async function listen(server: Server | NetServer): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  onClose(
    () =>
      new Promise<void>((r) => {
        (server as Server).closeAllConnections?.();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers 200 at once, then trickles the body. */
async function bodyTrickler(): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const sockets = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    trickle(res as unknown as Socket, 'x', () => res.end());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const url = await listen(server);
  onClose(async () => {
    for (const s of sockets) s.destroy();
  });
  return { url, hits: () => hits };
}

/** Trickles the status line and headers themselves (a raw socket), so the response never starts. */
async function headerTrickler(): Promise<string> {
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => trickle(socket, 'HTTP/1.1 200 OK\r\nX-Slow: ' + 'a'.repeat(MAX_BYTES), () => socket.end()));
  });
  server.on('connection', (s) => onClose(async () => s.destroy()));
  return listen(server);
}

const DEADLINE_MS = 600;
/** The deadline plus room for a loaded 2-core machine; the old idle timer held these for the whole trickle (15 s). */
const LATEST_MS = DEADLINE_MS + 4000;

describe('egress attempt deadline', () => {
  test('a publish attempt (sendSigned) ends at the deadline, whether the body or the headers trickle', async () => {
    const snap = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], attemptTimeoutMs: DEADLINE_MS } });
    onClose(() => snap.dispose());
    for (const url of [(await bodyTrickler()).url, await headerTrickler()]) {
      const r = await sendSigned(snap, { url: `${url}/hook`, msgId: 'msg_1', body: Buffer.from('{}'), secrets: [SECRET], nowMs: Date.now(), timeoutMs: DEADLINE_MS });
      assert.equal(r.timedOut, true, url);
      assert.equal(r.status, 0, 'a 2xx whose body never finished is not a delivery');
      assert.match(r.error ?? '', new RegExp(`timed out after ${DEADLINE_MS} ms`));
      assert.ok(r.durationMs >= DEADLINE_MS - 5 && r.durationMs < LATEST_MS, `took ${r.durationMs} ms`);
    }
  });

  test('a deliver attempt (sendIngress) ends at deliver.timeoutMs while the upstream trickles its body', async () => {
    const slow = await bodyTrickler();
    const snap = await compileConfig({ upstreams: { slow: { targets: [{ url: slow.url }], timeoutMs: 30000 } } });
    onClose(() => snap.dispose());
    const msg = { id: 'msg_2', kind: 'ingress' as const, tenant: 'default', createdAt: Date.now(), body: '', bodyEncoding: 'base64' as const, method: 'POST', path: '/in', headers: {}, timeoutMs: DEADLINE_MS, targets: ['up_slow'] };
    const r = await sendIngress(snap, 'slow', msg, 1);
    assert.equal(r.timedOut, true);
    assert.equal(r.status, 0);
    assert.match(r.error ?? '', /timed out/);
    assert.ok(r.durationMs >= DEADLINE_MS - 5 && r.durationMs < LATEST_MS, `took ${r.durationMs} ms`);
  });

  test('the operational webhook is cut at the deadline too', async () => {
    const slow = await bodyTrickler();
    const snap = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], attemptTimeoutMs: DEADLINE_MS, retry: { schedule: [0] }, operationalWebhook: { url: `${slow.url}/ops`, secret: SECRET } } });
    onClose(() => snap.dispose());
    const log = memoryLogger();
    // The webhook's messages go through a queue like any delivery (system-deliveries.ts).
    const queue = new MemoryQueue(1);
    const repo = new MemoryRepository();
    const system = new SystemDeliveries({ repo, queue, logger: log.logger, now: Date.now, snapshot: () => snap, attempts: new AttemptPolicy({ repo, now: Date.now, rand: Math.random }) });
    queue.start((job) => system.run(job, snap));
    onClose(() => queue.stop(1000));
    const ops = new OperationalEvents({ logger: log.logger, now: Date.now, snapshot: () => snap, system });
    const started = Date.now();
    ops.raise('endpoint.created', { endpointId: 'ep' });
    const failed = (l: Record<string, any>) => l.msg === 'system message failed for good';
    await waitUntil(() => log.lines.some(failed), LATEST_MS, 'the webhook failure');
    const line = log.lines.find(failed)!;
    assert.equal(slow.hits(), 1);
    assert.equal(line.status, 0);
    assert.match(line.error, /timed out/);
    assert.ok(Date.now() - started < LATEST_MS);
  });

  test('four trickling endpoints: each attempt is recorded as a timeout, and a healthy endpoint is delivered first', async () => {
    const store = new MemoryStore();
    const repo = new MemoryRepository();
    const queue = new MemoryQueue(8);
    // A longer deadline here: the healthy delivery must land while the tricklers are still held.
    const deadline = 3000;
    const snapshot = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], attemptTimeoutMs: deadline, retry: { schedule: [0] } } }, store);
    const e = new DeliveryEngine({ store, repo, queue, logger: silent, snapshot });
    onClose(() => e.stop(1000).then(() => snapshot.dispose()).then(() => store.close()));
    const t = Date.now();
    const put = (id: string, url: string) => repo.putEndpoint({ id, tenant: 'default', url, events: ['*'], secrets: [{ secret: SECRET }], disabled: false, source: 'api', createdAt: t, updatedAt: t });
    const slow = [];
    for (let i = 0; i < 4; i++) {
      const s = await bodyTrickler();
      slow.push(s);
      await put(`slow${i}`, `${s.url}/hook`);
    }
    let healthyHits = 0;
    const healthy = createHttpServer((req, res) => {
      healthyHits++;
      req.resume();
      res.end('ok');
    });
    await put('healthy', `${await listen(healthy)}/hook`);
    await e.start();
    const { id, endpoints } = await e.publish({ type: 'a.b', data: {} });
    assert.equal(endpoints, 5);
    await waitUntil(async () => (await repo.getStatuses(id)).healthy === 'delivered', deadline, 'the healthy delivery');
    assert.equal(healthyHits, 1);
    const early = await repo.getAttempts(id);
    assert.deepEqual(
      early.map((a) => a.target),
      ['healthy'],
      'the healthy endpoint was delivered while every trickler was still held',
    );
    await waitUntil(async () => (await repo.getAttempts(id)).length === 5, deadline + LATEST_MS, 'the trickler attempts');
    for (const a of (await repo.getAttempts(id)).filter((x) => x.target !== 'healthy')) {
      assert.equal(a.status, 0, a.target);
      assert.match(a.error ?? '', /timed out after 3000 ms/);
      assert.ok(a.durationMs >= deadline - 5 && a.durationMs < deadline + 4000, `${a.target} took ${a.durationMs} ms`);
    }
    const st = await repo.getStatuses(id);
    for (let i = 0; i < 4; i++) assert.equal(st[`slow${i}`], 'failed', 'one attempt in the schedule: the timeout fails the delivery');
    for (const s of slow) assert.equal(s.hits(), 1);
  });

  test('tricklers holding every worker delay a healthy endpoint by about one deadline, not by the trickle', async () => {
    const store = new MemoryStore();
    const repo = new MemoryRepository();
    // Four workers and one attempt in flight per endpoint: four tricklers hold all of them.
    const queue = new MemoryQueue(4);
    const snapshot = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], attemptTimeoutMs: DEADLINE_MS, maxInFlightPerEndpoint: 1, retry: { schedule: [0] } } }, store);
    const e = new DeliveryEngine({ store, repo, queue, logger: silent, snapshot });
    onClose(() => e.stop(1000).then(() => snapshot.dispose()).then(() => store.close()));
    const t = Date.now();
    const put = (id: string, url: string, events: string[]) => repo.putEndpoint({ id, tenant: 'default', url, events, secrets: [{ secret: SECRET }], disabled: false, source: 'api', createdAt: t, updatedAt: t });
    for (let i = 0; i < 4; i++) await put(`slow${i}`, `${(await bodyTrickler()).url}/hook`, ['s.*']);
    const healthy = createHttpServer((req, res) => {
      req.resume();
      res.end('ok');
    });
    await put('healthy', `${await listen(healthy)}/hook`, ['h.*']);
    await e.start();
    const slowMsgs = [];
    for (let i = 0; i < 2; i++) slowMsgs.push((await e.publish({ type: 's.x', data: { i } })).id);
    const started = Date.now();
    const { id } = await e.publish({ type: 'h.x', data: {} });
    // Before the deadline was absolute, the healthy delivery waited for a whole trickle (15 s).
    await waitUntil(async () => (await repo.getStatuses(id)).healthy === 'delivered', LATEST_MS, 'the healthy delivery');
    assert.ok(Date.now() - started < LATEST_MS);
    for (const m of slowMsgs) {
      await waitUntil(async () => Object.values(await repo.getStatuses(m)).every((s) => s === 'failed'), 4 * LATEST_MS, 'the trickler deliveries');
      for (const a of await repo.getAttempts(m)) assert.match(a.error ?? '', /timed out/);
    }
  });
});

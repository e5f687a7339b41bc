/**
 * The BullMQ and ioredis behaviour gateway/delivery/queue.ts relies on beyond their documented
 * APIs (or close to their edges). These fail by name if an upgrade changes something, rather
 * than leaving it to show up as a duplicate delivery, a lost retry or a shutdown that hangs:
 * - retries: `job.updateData` + `job.moveToDelayed(ts, token)` + `throw new DelayedError()` from
 *   the processor keep the job (same id, new data) in the delayed set, never failed;
 * - deterministic job ids: adding a delivery whose job is still queued is a no-op;
 * - key names: BullMQ keeps every key under `<store prefix>bull:<queue name>:`, so a prefix
 *   isolates a gateway's queue and cleaning a prefix cleans it;
 * - forced stop: Worker's private `blockingConnection._client` and `lockManager.close()`
 *   (`workerInternals`), and ioredis's `sendCommand`, `flushQueue`, `status` (`cutClient`).
 * Real Redis, a key prefix of this file's own; only those keys are deleted.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BullDeliveryQueue, cutClient, workerInternals, type JobOutcome, type QueueJob } from '../../gateway/delivery/queue.js';
import { memoryLogger } from '../support/gateway.js';
import { closedPort, waitUntil } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';
import { startRedisServer } from '../support/redis-server.js';

const NAME = 'deliveries';
const prefixes: string[] = [];
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  for (const p of prefixes) await deleteKeys(p);
});

function prefix(): string {
  const p = testPrefix('queue-internals');
  prefixes.push(p);
  return p;
}

function redis(url = REDIS_URL): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  cleanups.push(() => r.disconnect());
  return r;
}

/** A BullMQ queue on the same Redis keys as a BullDeliveryQueue, to look at its jobs. */
function inspector(p: string): Queue {
  const q = new Queue(NAME, { connection: redis(), prefix: `${p}bull` });
  cleanups.push(() => q.close());
  return q;
}

function deliveryQueue(p: string, opts: { url?: string; lockDurationMs?: number } = {}) {
  const log = memoryLogger();
  const q = new BullDeliveryQueue({ url: opts.url ?? REDIS_URL, prefix: p, concurrency: 2, lockDurationMs: opts.lockDurationMs ?? 30_000, logger: log.logger });
  cleanups.push(() => q.stop(500));
  return { q, log };
}

/** A processor that records its jobs and answers with `answer` (or hangs while `answer` returns undefined). */
function recorder(answer: (job: QueueJob, n: number) => JobOutcome | undefined) {
  const seen: QueueJob[] = [];
  const hung: (() => void)[] = [];
  cleanups.push(() => hung.forEach((f) => f()));
  const processor = (job: QueueJob): Promise<JobOutcome> => {
    seen.push(job);
    const out = answer(job, seen.length);
    if (out) return Promise.resolve(out);
    return new Promise((resolve) => hung.push(() => resolve({ kind: 'done' })));
  };
  return { seen, processor };
}

describe('BullMQ and ioredis internals the delivery queue relies on', () => {
  it('a retry moves the same job (id, updated data) to the delayed set; re-adding it is a no-op; keys stay under the prefix', async () => {
    const p = prefix();
    const { q } = deliveryQueue(p);
    const inspect = inspector(p);
    const rec = recorder((_job, n) => (n === 1 ? { kind: 'retry', delayMs: 60_000, attempted: true } : { kind: 'done' }));
    q.start(rec.processor);
    await q.add([{ msgId: 'msg_a', target: 'ep1' }]);
    const id = 'msg_a--ep1';
    await waitUntil(async () => (await inspect.getJobState(id)) === 'delayed', 10_000, 'the job in the delayed set');
    const job = (await inspect.getJob(id))!;
    assert.deepEqual(job.data, { m: 'msg_a', t: 'ep1', a: 1 }, 'updateData before moveToDelayed kept the attempt count');
    assert.equal(job.attemptsMade, 0, 'DelayedError is not a failed attempt to BullMQ');
    const counts = await inspect.getJobCounts('delayed', 'waiting', 'active', 'failed', 'completed');
    assert.deepEqual([counts.delayed, counts.waiting, counts.active, counts.failed, counts.completed], [1, 0, 0, 0, 0], JSON.stringify(counts));

    // A requeue (admin retry) of a delivery that is still queued adds nothing and resets nothing.
    await q.add([{ msgId: 'msg_a', target: 'ep1' }]);
    const again = await inspect.getJobCounts('delayed', 'waiting');
    assert.deepEqual([again.delayed, again.waiting], [1, 0], JSON.stringify(again));
    assert.equal((await inspect.getJob(id))!.data.a, 1);

    // Every key BullMQ wrote is under <prefix>bull:<name>: (the job hash and the delayed set among them).
    const keys: string[] = [];
    for await (const batch of redis().scanStream({ match: `${p}*`, count: 1000 })) keys.push(...(batch as string[]));
    assert.ok(keys.includes(`${p}bull:${NAME}:${id}`), `job hash key; keys: ${keys.join(' ')}`);
    assert.ok(keys.includes(`${p}bull:${NAME}:delayed`), 'delayed set key');
    for (const k of keys) assert.ok(k.startsWith(`${p}bull:${NAME}:`), `key outside the queue's namespace: ${k}`);

    // Promoted, it runs again with the same id and the attempt counted.
    await job.promote();
    await waitUntil(() => rec.seen.length === 2, 10_000, 'the second run');
    assert.deepEqual(rec.seen[1], { msgId: 'msg_a', target: 'ep1', attempts: 1 });
  });

  it('a forced stop cuts the blocking client and stops lock renewal, so another worker runs the job again', async () => {
    const p = prefix();
    const lockDurationMs = 1000;
    const a = deliveryQueue(p, { lockDurationMs });
    const hang = recorder(() => undefined);
    a.q.start(hang.processor);
    const worker = (a.q as unknown as { worker: Parameters<typeof workerInternals>[0] }).worker;
    await a.q.add([{ msgId: 'msg_b', target: 'ep1' }]);
    await waitUntil(() => hang.seen.length === 1, 10_000, 'the job to start');

    const internals = workerInternals(worker);
    assert.ok(internals.blockingClient instanceof Redis, 'Worker.blockingConnection._client is an ioredis client');
    assert.equal(internals.blockingClient.status, 'ready');
    assert.equal(typeof internals.lockManager?.close, 'function', 'Worker.lockManager.close()');
    const r = redis();
    const lockKey = `${p}bull:${NAME}:msg_b--ep1:lock`;
    assert.equal(await r.exists(lockKey), 1, `the running job holds ${lockKey}`);

    await a.q.stop(100);
    assert.ok(a.log.lines.some((l) => l.code === 'HG_QUEUE_STOP_FORCED'), 'the stop was forced');
    assert.equal(internals.blockingClient.status, 'end', 'the blocking client was cut');
    // Nobody renews the lock any more: it expires, and the stalled-job check of a new worker runs the job again.
    await waitUntil(async () => (await r.exists(lockKey)) === 0, 5 * lockDurationMs, 'the lock to expire');
    const b = deliveryQueue(p, { lockDurationMs });
    const rerun = recorder(() => ({ kind: 'done' }));
    b.q.start(rerun.processor);
    await waitUntil(() => rerun.seen.length === 1, 15_000, 'another worker to run the abandoned job');
    assert.deepEqual(rerun.seen[0], { msgId: 'msg_b', target: 'ep1', attempts: 0 });
  });

  it('a forced stop while Redis is down ends the worker connections instead of hanging', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const p = prefix();
    const { q, log } = deliveryQueue(p, { url: server.url, lockDurationMs: 1000 });
    const hang = recorder(() => undefined);
    q.start(hang.processor);
    const internals = workerInternals((q as unknown as { worker: Parameters<typeof workerInternals>[0] }).worker);
    await q.add([{ msgId: 'msg_c', target: 'ep1' }]);
    await waitUntil(() => hang.seen.length === 1, 10_000, 'the job to start');
    await server.stop();
    await waitUntil(() => internals.blockingClient?.status === 'reconnecting', 10_000, 'the blocking client to lose Redis');
    const stopped = q.stop(100);
    const bound = new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('stop() hung with Redis down')), 10_000).unref());
    await Promise.race([stopped, bound]);
    assert.ok(log.lines.some((l) => l.code === 'HG_QUEUE_STOP_FORCED'));
    assert.equal(internals.blockingClient?.status, 'end', 'no reconnect timer left behind');
  });

  it("cutClient: ioredis's sendCommand, flushQueue and status do what a forced stop needs", async () => {
    const port = await closedPort();
    const c = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: () => 60_000, maxRetriesPerRequest: null });
    c.on('error', () => {});
    cleanups.push(() => c.disconnect());
    await waitUntil(() => c.status === 'reconnecting', 10_000, 'a client between reconnect attempts');
    const raw = c as unknown as { flushQueue?: unknown; sendCommand?: unknown };
    assert.equal(typeof raw.flushQueue, 'function', 'Redis#flushQueue');
    assert.equal(typeof raw.sendCommand, 'function', 'Redis#sendCommand');
    const queued = c.get('k');
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    cutClient(c);
    await assert.rejects(queued, /Connection is closed/, 'a command queued while reconnecting is rejected');
    await ended;
    assert.equal(c.status, 'end');
    // Later commands go through the replaced sendCommand and never settle (no busy retry loop).
    const later = c.get('k').then(
      () => 'settled',
      () => 'settled',
    );
    const tick = new Promise((resolve) => setImmediate(() => resolve('pending')));
    assert.equal(await Promise.race([later, tick]), 'pending');
  });
});

/**
 * The Redis Streams delivery queue on the real Redis, each test under a key prefix of its own:
 * every job runs once, a delivery still queued is not queued twice, retries keep their attempt
 * count and survive a restart, work held by a worker that died is taken over, a stop hands back
 * what it never started, tenants are served in turn, and the stats read what is queued.
 * (kill -9 of a whole gateway mid-delivery: durability.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { JobOutcome, NewJob, QueueJob } from '../../gateway/delivery/queue.js';
import { StreamDeliveryQueue } from '../../gateway/delivery/stream-queue.js';
import { QueueKeys } from '../../gateway/delivery/stream-scripts.js';
import { memoryLogger } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';

const prefixes: string[] = [];
const queues: StreamDeliveryQueue[] = [];
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
after(async () => {
  for (const q of queues) await q.stop(0).catch(() => {});
  for (const p of prefixes) await deleteKeys(p);
  redis.disconnect();
});

function prefix(): string {
  const p = testPrefix('stream-queue');
  prefixes.push(p);
  return p;
}

function queue(p: string, o: { concurrency?: number; lockDurationMs?: number } = {}): StreamDeliveryQueue {
  const q = new StreamDeliveryQueue({ url: REDIS_URL, prefix: p, concurrency: o.concurrency ?? 16, lockDurationMs: o.lockDurationMs ?? 30000, logger: memoryLogger().logger });
  queues.push(q);
  return q;
}

const jobs = (n: number, tenant?: string, from = 0): NewJob[] => Array.from({ length: n }, (_, i) => ({ msgId: `m${from + i}`, target: 'ep', ...(tenant ? { tenant } : {}) }));
const done: JobOutcome = { kind: 'done' };

describe('stream delivery queue (redis)', () => {
  it('runs every job once and leaves no entry, id or retry behind', async () => {
    const p = prefix();
    const q = queue(p);
    const seen: string[] = [];
    await q.add(jobs(500));
    q.start(async (j) => (seen.push(j.msgId), done));
    await waitUntil(() => seen.length >= 500, 15000, '500 jobs run');
    await q.stop(5000);
    assert.equal(new Set(seen).size, 500);
    assert.equal(seen.length, 500, 'no job ran twice');
    const k = new QueueKeys(p);
    assert.equal(await redis.xlen(k.first('default')), 0);
    assert.equal(await redis.scard(k.ids), 0);
    assert.equal(await redis.zcard(k.delayed), 0);
    assert.equal(((await redis.xpending(k.first('default'), 'g')) as [number])[0], 0, 'nothing pending in the group');
  });

  it('queues a delivery that is still queued only once, and again once it is done', async () => {
    const p = prefix();
    const q = queue(p);
    await q.add(jobs(1));
    await q.add(jobs(1));
    assert.equal((await q.stats()).waiting, 1);
    const seen: string[] = [];
    q.start(async (j) => (seen.push(j.msgId), done));
    await waitUntil(() => seen.length >= 1, 10000, 'the job');
    await waitUntil(async () => (await redis.scard(new QueueKeys(p).ids)) === 0, 5000, 'its id released');
    await q.add(jobs(1));
    await waitUntil(() => seen.length >= 2, 10000, 'queued again after it was done');
    await q.stop(5000);
    assert.deepEqual(seen, ['m0', 'm0']);
  });

  it('retries keep their attempt count, wait in the delayed set and survive a restart', async () => {
    const p = prefix();
    const q1 = queue(p);
    const runs: QueueJob[] = [];
    await q1.add([{ msgId: 'r1', target: 'ep', tenant: 'acme', attempts: 2 }]);
    q1.start(async (j) => (runs.push(j), { kind: 'retry', delayMs: 1500, attempted: true }));
    await waitUntil(() => runs.length === 1, 10000, 'the first run');
    await waitUntil(async () => (await redis.zcard(new QueueKeys(p).delayed)) === 1, 5000, 'the retry in the delayed set');
    assert.equal((await q1.stats()).delayed, 1);
    await q1.stop(5000);
    const q2 = queue(p);
    const later: QueueJob[] = [];
    const t0 = Date.now();
    q2.start(async (j) => (later.push(j), done));
    await waitUntil(() => later.length === 1, 10000, 'the retry run by a new queue');
    await q2.stop(5000);
    assert.deepEqual(runs[0], { msgId: 'r1', target: 'ep', attempts: 2 });
    assert.deepEqual(later[0], { msgId: 'r1', target: 'ep', attempts: 3 }, 'an attempted retry counts');
    assert.ok(Date.now() - t0 < 9000);
  });

  it('a retry that was not attempted (throttle, busy endpoint) keeps its count', async () => {
    const p = prefix();
    const q = queue(p);
    const runs: number[] = [];
    await q.add(jobs(1));
    q.start(async (j) => (runs.push(j.attempts), runs.length < 3 ? { kind: 'retry', delayMs: 10, attempted: false } : done));
    await waitUntil(() => runs.length === 3, 10000, 'three runs');
    await q.stop(5000);
    assert.deepEqual(runs, [0, 0, 0]);
  });

  it('work held by a worker that stopped answering is taken over after the lock duration', async () => {
    const p = prefix();
    const q1 = queue(p, { lockDurationMs: 1000 });
    let started = 0;
    await q1.add(jobs(5));
    // Never settles: like a process killed mid-delivery, it holds the entries and says nothing more.
    q1.start(() => (started++, new Promise<JobOutcome>(() => {})));
    await waitUntil(() => started === 5, 10000, 'five jobs held');
    await q1.stop(0); // forced: abandons the running jobs, their claims go stale
    const q2 = queue(p, { lockDurationMs: 1000 });
    const seen: string[] = [];
    q2.start(async (j) => (seen.push(j.msgId), done));
    await waitUntil(() => seen.length >= 5, 15000, 'the five taken over');
    await q2.stop(5000);
    assert.deepEqual([...new Set(seen)].sort(), ['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('a running job keeps its claim past the lock duration (heartbeat): no second worker runs it', async () => {
    const p = prefix();
    const q1 = queue(p, { lockDurationMs: 1000 });
    const q2 = queue(p, { lockDurationMs: 1000 });
    const runs: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    await q1.add(jobs(1));
    q1.start(async (j) => (runs.push(`q1:${j.msgId}`), await slow, done));
    await waitUntil(() => runs.length === 1, 10000, 'q1 runs the job');
    q2.start(async (j) => (runs.push(`q2:${j.msgId}`), done));
    // Watch for a takeover for three lock durations (q2's reclaimer runs several times meanwhile).
    await assert.rejects(waitUntil(() => runs.length > 1, 3500, 'a takeover'));
    release();
    await waitUntil(async () => (await redis.scard(new QueueKeys(p).ids)) === 0, 5000, 'settled');
    await q1.stop(5000);
    await q2.stop(5000);
    assert.deepEqual(runs, ['q1:m0']);
  });

  it('a stop hands back what it read but never started, at once', async () => {
    const p = prefix();
    const q1 = queue(p, { concurrency: 2 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    await q1.add(jobs(2));
    q1.start(async (j) => (seen.push(j.msgId), await gate, done));
    await waitUntil(() => seen.length === 2, 10000, 'two running');
    await q1.add(jobs(20, undefined, 2));
    const stopping = q1.stop(10000);
    release();
    await stopping;
    const q2 = queue(p); // default lock of 30 s: only a hand-back makes these runnable now
    q2.start(async (j) => (seen.push(j.msgId), done));
    await waitUntil(() => new Set(seen).size === 22, 10000, 'the other 20 run by the next queue');
    await q2.stop(5000);
    assert.equal(seen.length, 22, 'nothing ran twice');
  });

  it('serves tenants in turn: a burst of one does not hold back another', async () => {
    const p = prefix();
    const q = queue(p, { concurrency: 4 });
    const order: string[] = [];
    await q.add(jobs(2000, 'noisy'));
    await q.add(jobs(20, 'quiet', 10_000));
    q.start(async (j) => {
      order.push(j.msgId);
      await new Promise((r) => setImmediate(r));
      return done;
    });
    await waitUntil(() => order.filter((m) => Number(m.slice(1)) >= 10_000).length === 20, 20000, 'the quiet tenant served');
    const noisyDone = order.filter((m) => Number(m.slice(1)) < 10_000).length;
    const stats = await q.stats();
    await q.stop(0);
    assert.ok(noisyDone < 400, `the quiet tenant's 20 ran while the noisy one had done only ${noisyDone} of 2000`);
    assert.ok(stats.waiting > 1000, 'the noisy backlog is still there');
    assert.ok((stats.lagSeconds.noisy ?? -1) >= 0, 'lag is reported for the noisy tenant');
  });

  it('retries hold at most three quarters of the workers: first attempts always get a worker', async () => {
    const p = prefix();
    const q = queue(p, { concurrency: 4 });
    let retriesRunning = 0;
    let maxRetries = 0;
    let firstDone = 0;
    // 40 deliveries that each fail once quickly, then take a while on their retry.
    await q.add(jobs(40, 'acme'));
    q.start(async (j) => {
      if (j.attempts === 0 && Number(j.msgId.slice(1)) < 40) return { kind: 'retry', delayMs: 0, attempted: true };
      if (j.attempts === 0) return (firstDone++, done);
      retriesRunning++;
      maxRetries = Math.max(maxRetries, retriesRunning);
      await new Promise((r) => setTimeout(r, 20));
      retriesRunning--;
      return done;
    });
    await waitUntil(async () => (await redis.xlen(new QueueKeys(p).retry('acme'))) > 10, 10000, 'a pile of retries');
    await q.add(jobs(10, 'acme', 100));
    await waitUntil(() => firstDone === 10, 10000, 'new first attempts run among the retries');
    await q.stop(5000);
    assert.ok(maxRetries <= 3, `at most 3 of 4 workers on retries (saw ${maxRetries})`);
  });
});

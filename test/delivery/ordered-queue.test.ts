/**
 * Ordered delivery in both queue drivers (memory, and Redis Streams on the real Redis): jobs of
 * one ordering key run one at a time in the order they were added, whatever fails and is held
 * back; other keys and unordered jobs run beside a blocked key; a skip ends the head and lets
 * the next one go; the blocked age is reported per target. (Through the gateway, with kill -9:
 * ordered-delivery.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryQueue, type DeliveryQueue, type JobOutcome, type NewJob, type QueueJob } from '../../gateway/delivery/queue.js';
import { StreamDeliveryQueue } from '../../gateway/delivery/stream-queue.js';
import { QueueKeys } from '../../gateway/delivery/stream-scripts.js';
import { memoryLogger } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';
import { seeded } from '../support/seeded.js';

const prefixes: string[] = [];
const queues: DeliveryQueue[] = [];
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
after(async () => {
  for (const q of queues) await q.stop(0).catch(() => {});
  for (const p of prefixes) await deleteKeys(p);
  redis.disconnect();
});

type Driver = 'memory' | 'redis';

function queue(driver: Driver, concurrency = 16): { q: DeliveryQueue; prefix?: string } {
  if (driver === 'memory') {
    const q = new MemoryQueue(concurrency);
    queues.push(q);
    return { q };
  }
  const prefix = testPrefix('ordered-queue');
  prefixes.push(prefix);
  const q = new StreamDeliveryQueue({ url: REDIS_URL, prefix, concurrency, lockDurationMs: 30000, logger: memoryLogger().logger });
  queues.push(q);
  return { q, prefix };
}

/** Message `k<key>-<n>`: the n-th of key k. */
const nth = (msgId: string): number => Number(msgId.split('-')[1]);
const keyOf = (msgId: string): string => msgId.split('-')[0]!;
const done: JobOutcome = { kind: 'done' };

for (const driver of ['memory', 'redis'] as const) {
  describe(`ordered delivery in the queue (${driver})`, () => {
    it('50 keys × 20 jobs under random failures and hold-backs: each key runs in order, one at a time, and every job ends', async () => {
      const { q } = queue(driver, 16);
      const rand = seeded(12);
      const KEYS = 50;
      const PER_KEY = 20;
      const running = new Map<string, string>();
      const attempts = new Map<string, number[]>();
      const finished = new Set<string>();
      const problems: string[] = [];
      q.start(async (j: QueueJob) => {
        const key = keyOf(j.msgId);
        if (running.has(key)) problems.push(`${j.msgId} ran beside ${running.get(key)}`);
        running.set(key, j.msgId);
        try {
          await new Promise((r) => setImmediate(r));
          const roll = rand();
          // Held back (throttle, a busy endpoint): no attempt, the key stays blocked behind it.
          if (roll < 0.1) return { kind: 'retry', delayMs: 5, attempted: false };
          const seen = attempts.get(key) ?? [];
          seen.push(nth(j.msgId));
          attempts.set(key, seen);
          if (roll < 0.3) return { kind: 'retry', delayMs: 5 + Math.floor(rand() * 20), attempted: true };
          if (finished.has(j.msgId)) problems.push(`${j.msgId} finished twice`);
          finished.add(j.msgId);
          return done;
        } finally {
          running.delete(key);
        }
      });
      // Added in rounds, interleaved across keys, as publishes arrive.
      for (let n = 0; n < PER_KEY; n++) {
        const round: NewJob[] = [];
        for (let k = 0; k < KEYS; k++) round.push({ msgId: `k${k}-${n}`, target: 'ep', orderingKey: `order-${k}` });
        await q.add(round);
      }
      await waitUntil(() => finished.size >= KEYS * PER_KEY, 40000, 'every job finished');
      assert.deepEqual(problems, []);
      for (let k = 0; k < KEYS; k++) {
        const seen = attempts.get(`k${k}`)!;
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `key ${k}: job ${seen[i]} ran after job ${seen[i - 1]} (${seen.join(',')})`);
        assert.equal(new Set(seen).size, PER_KEY, `key ${k}: every job was attempted`);
      }
    });

    it('a blocked key holds back only itself: other keys, other targets and unordered jobs run', async () => {
      const { q } = queue(driver, 4);
      const ran: string[] = [];
      q.start(async (j) => {
        if (j.msgId === 'stuck-0') return { kind: 'retry', delayMs: 20, attempted: true };
        ran.push(j.msgId);
        return done;
      });
      await q.add([
        { msgId: 'stuck-0', target: 'ep', orderingKey: 'a' },
        { msgId: 'stuck-1', target: 'ep', orderingKey: 'a' },
        { msgId: 'free-0', target: 'ep', orderingKey: 'b' },
        { msgId: 'free-1', target: 'ep', orderingKey: 'b' },
        { msgId: 'other-0', target: 'ep2', orderingKey: 'a' },
        { msgId: 'plain-0', target: 'ep' },
      ]);
      await waitUntil(() => ran.length >= 4, 10000, 'the unblocked jobs');
      assert.deepEqual([...ran].sort(), ['free-0', 'free-1', 'other-0', 'plain-0']);
      await waitUntil(async () => ((await q.orderingBlocked(['ep', 'ep2'])).ep ?? 0) > 0, 10000, 'the blocked age grows');
      const blocked = await q.orderingBlocked(['ep', 'ep2', 'ep3']);
      assert.equal(blocked.ep2, 0);
      assert.equal(blocked.ep3, 0);
      assert.ok(!ran.includes('stuck-1'), 'the job behind the failing head waits');
      assert.ok((await q.stats()).waiting >= 1, 'a job behind its head counts as waiting');

      // Skip: the head ends without running again, the next one goes, the key is no longer blocked.
      const skipped = await q.skipHead('ep', 'a');
      assert.equal(skipped?.msgId, 'stuck-0');
      await waitUntil(() => ran.includes('stuck-1'), 10000, 'the next job after the skip');
      assert.equal((await q.orderingBlocked(['ep'])).ep, 0);
      assert.equal(await q.skipHead('ep', 'a'), null, 'nothing left to skip');
      assert.equal(await q.skipHead('ep', 'nope'), null);
      // A skipped message queued again (a manual retry) joins its key's tail and runs.
      await q.add([{ msgId: 'stuck-2', target: 'ep', orderingKey: 'a' }]);
      await waitUntil(() => ran.includes('stuck-2'), 10000, 'a later job of the key');
    });
  });
}

describe('ordered delivery in the queue (redis keys)', () => {
  it('leaves no list, blocked mark, entry or id behind once every key has drained', async () => {
    const { q, prefix } = queue('redis', 8);
    let fails = 0;
    const seen: string[] = [];
    q.start(async (j) => {
      if (j.msgId === 'k1-0' && fails++ < 2) return { kind: 'retry', delayMs: 10, attempted: true };
      seen.push(j.msgId);
      return done;
    });
    await q.add(Array.from({ length: 30 }, (_, i) => ({ msgId: `k${i % 3}-${Math.floor(i / 3)}`, target: 'ep', orderingKey: `key-${i % 3}` })));
    await waitUntil(() => seen.length >= 30, 15000, 'all delivered');
    const k = new QueueKeys(prefix!);
    await waitUntil(async () => (await redis.scard(k.ids)) === 0, 5000, 'ids released');
    for (let i = 0; i < 3; i++) assert.equal(await redis.exists(k.ordered('ep', `key-${i}`)), 0);
    assert.equal(await redis.exists(k.blocked('ep')), 0);
    assert.equal(Number(await redis.get(k.orderedWaiting)), 0, 'none counted as waiting behind a head');
    assert.equal((await q.stats()).waiting, 0);
    assert.equal(await redis.zcard(k.delayed), 0);
    assert.equal(await redis.xlen(k.first('default')), 0);
    for (let i = 0; i < 3; i++) {
      const mine = seen.filter((m) => m.startsWith(`k${i}-`)).map(nth);
      assert.deepEqual(mine, [...mine].sort((a, b) => a - b));
    }
  });
});

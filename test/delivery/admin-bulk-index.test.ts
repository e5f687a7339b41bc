/**
 * The repository queries behind the bulk admin operations, on both repositories (the real Redis
 * for RedisRepository): failed deliveries by failure time (`failedBetween`), and the requeue
 * point (`requeue`, `requeuedAfter`).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { MemoryRepository, RedisRepository } from '../../gateway/delivery/repository.js';
import type { DeliveryRepository, StoredMessage } from '../../gateway/delivery/types.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';

const prefix = testPrefix('admin-bulk-index');
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
after(async () => {
  await deleteKeys(prefix);
  redis.disconnect();
});

const RETENTION = 3600_000;
const msg = (id: string, targets: string[]): StoredMessage => ({ id, kind: 'event', tenant: 'default', createdAt: 0, eventType: 'a.b', body: '{}', bodyEncoding: 'utf8', targets });

/** Each Redis repository gets keys of its own: `<prefix><tag>:dlv:`. */
const REPOS: { name: string; make: (now: () => number, tag: string) => DeliveryRepository }[] = [
  { name: 'memory', make: (now) => new MemoryRepository(now) },
  { name: 'redis', make: (now, tag) => new RedisRepository(redis, `${prefix}${tag}:`, now) },
];

for (const { name, make } of REPOS) {
  describe(`failed index queries (${name} repository)`, () => {
    it('failedBetween: failed now, within the range (inclusive), per target, oldest first, at most the limit', async () => {
      let t = 1_000;
      const repo = make(() => t, 'range');
      for (const [id, targets] of [['m1', ['x', 'y']], ['m2', ['x']], ['m3', ['x']], ['m4', ['y']]] as const) await repo.saveMessage(msg(id, [...targets]), RETENTION);
      t = 2_000;
      await repo.setStatus('m2', 'x', 'failed', RETENTION);
      t = 3_000;
      await repo.recordAttempt('m1', { target: 'x', attempt: 1, at: t, status: 500, durationMs: 1 }, 'failed', RETENTION);
      await repo.setStatus('m1', 'y', 'failed', RETENTION);
      t = 4_000;
      await repo.setStatus('m3', 'x', 'failed', RETENTION);
      await repo.setStatus('m4', 'y', 'delivered', RETENTION);

      const ids = async (targets: string[], since: number, until: number, limit = 100) => (await repo.failedBetween(targets, since, until, limit)).map((f) => `${f.id}>${f.target}@${f.at}`);
      assert.deepEqual(await ids(['x'], 0, 10_000), ['m2>x@2000', 'm1>x@3000', 'm3>x@4000']);
      assert.deepEqual(await ids(['x'], 2_000, 3_000), ['m2>x@2000', 'm1>x@3000'], 'inclusive at both ends');
      assert.deepEqual(await ids(['x'], 2_001, 2_999), []);
      assert.deepEqual(await ids(['y'], 0, 10_000), ['m1>y@3000'], 'delivered is not failed');
      assert.deepEqual(await ids(['x', 'y', 'z'], 0, 10_000), ['m2>x@2000', 'm1>x@3000', 'm3>x@4000', 'm1>y@3000']);
      assert.deepEqual(await ids(['x', 'y'], 0, 10_000, 2), ['m2>x@2000', 'm1>x@3000'], 'the limit is across targets');
      assert.deepEqual(await ids(['x', 'y'], 0, 10_000, 4), ['m2>x@2000', 'm1>x@3000', 'm3>x@4000', 'm1>y@3000']);

      // A requeue takes the delivery out of the index and remembers the attempts before it.
      await repo.requeue('m1', 'x', 1, RETENTION);
      assert.deepEqual(await ids(['x'], 0, 10_000), ['m2>x@2000', 'm3>x@4000']);
      assert.equal((await repo.getStatuses('m1')).x, 'pending');
      assert.equal(await repo.requeuedAfter('m1', 'x'), 1);
      assert.equal(await repo.requeuedAfter('m1', 'y'), 0);
      assert.deepEqual((await repo.getAttempts('m1')).map((a) => a.attempt), [1], 'the requeue point is not an attempt');
      // A failure after the requeue is back in the index at its new time.
      t = 5_000;
      await repo.recordAttempt('m1', { target: 'x', attempt: 2, at: t, status: 500, durationMs: 1 }, 'failed', RETENTION);
      assert.deepEqual(await ids(['x'], 4_500, 10_000), ['m1>x@5000']);
      // A requeue of a message past its retention writes nothing.
      await repo.requeue('gone', 'x', 3, RETENTION);
      assert.equal(await repo.requeuedAfter('gone', 'x'), 0);
      assert.deepEqual(await repo.getStatuses('gone'), {});
    });

    it('failedBetween leaves out messages past their retention', async () => {
      let t = 1_000;
      const repo = make(() => t, 'stale');
      await repo.saveMessage(msg('old', ['x']), 50);
      await repo.setStatus('old', 'x', 'failed', 50);
      t = 1_500;
      await repo.saveMessage(msg('new', ['x']), RETENTION);
      await repo.setStatus('new', 'x', 'failed', RETENTION);
      if (repo instanceof RedisRepository) {
        // Redis expires the message hash itself; its failed-index entry stays behind until read.
        await redis.del(`${prefix}stale:dlv:m:old`);
        assert.equal(await redis.zscore(`${prefix}stale:dlv:failed:x`, 'old'), '1000');
      } else {
        t = 2_000;
      }
      assert.deepEqual((await repo.failedBetween(['x'], 0, 10_000, 1)).map((f) => f.id), ['new'], 'the stale entry does not count against the limit');
      if (repo instanceof RedisRepository) assert.equal(await redis.zscore(`${prefix}stale:dlv:failed:x`, 'old'), null, 'and is removed from the index');
    });
  });
}

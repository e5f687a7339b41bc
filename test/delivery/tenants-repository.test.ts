/**
 * Tenant storage in the repositories (memory and the real Redis): API tenant records (create is
 * first-wins), the per-tenant message index behind `?tenant=` (pages, no other tenant's ids, its
 * count), and records from before tenants reading as the default tenant's.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryRepository, RedisRepository } from '../../gateway/delivery/repository.js';
import type { DeliveryRepository, StoredMessage } from '../../gateway/delivery/types.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';

const prefix = testPrefix('tenants-repo');
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
after(async () => {
  await deleteKeys(prefix);
  redis.disconnect();
});

const DAY = 24 * 3600 * 1000;
const msg = (id: string, tenant: string, createdAt: number): StoredMessage => ({ id, kind: 'event', tenant, createdAt, eventType: 'a.b', body: '{}', bodyEncoding: 'utf8', targets: ['ep'] });

async function pages(repo: DeliveryRepository, tenant: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 20; guard++) {
    const r = await repo.listMessages({ tenant, limit: 2, cursor });
    ids.push(...r.items);
    if (!r.nextCursor) return ids;
    cursor = r.nextCursor;
  }
  throw new Error('pagination did not end');
}

for (const mode of ['memory', 'redis'] as const) {
  describe(`tenant storage (${mode})`, () => {
    const repo: DeliveryRepository = mode === 'redis' ? new RedisRepository(redis, prefix) : new MemoryRepository();

    test('API tenants: create is first-wins; put, get, list, delete', async () => {
      const t = { id: 'acme', name: 'Acme', quotas: { maxEndpoints: 2 }, createdAt: 1, updatedAt: 1 };
      assert.equal(await repo.createTenant(t), true);
      assert.equal(await repo.createTenant({ ...t, name: 'again' }), false);
      assert.equal((await repo.getTenant('acme'))!.name, 'Acme');
      await repo.putTenant({ ...t, name: 'Acme 2', updatedAt: 2 });
      assert.deepEqual((await repo.listTenants()).map((x) => [x.id, x.name]), [['acme', 'Acme 2']]);
      assert.equal(await repo.deleteTenant('acme'), true);
      assert.equal(await repo.deleteTenant('acme'), false);
      assert.equal(await repo.getTenant('acme'), null);
      assert.deepEqual(await repo.listTenants(), []);
    });

    test("a tenant's messages list newest first, page by page, without the others'; counted within retention", async () => {
      const t0 = Date.now();
      for (let i = 0; i < 5; i++) await repo.saveMessage(msg(`msg_a${i}`, 'acme', t0 + i), DAY);
      for (let i = 0; i < 4; i++) await repo.saveMessage(msg(`msg_g${i}`, 'globex', t0 + 10 + i), DAY);
      await repo.saveMessage(msg('msg_d0', 'default', t0 + 20), DAY);
      assert.deepEqual(await pages(repo, 'acme'), ['msg_a4', 'msg_a3', 'msg_a2', 'msg_a1', 'msg_a0']);
      assert.deepEqual(await pages(repo, 'globex'), ['msg_g3', 'msg_g2', 'msg_g1', 'msg_g0']);
      assert.deepEqual(await pages(repo, 'default'), ['msg_d0']);
      assert.deepEqual(await pages(repo, 'nobody'), []);
      assert.equal(await repo.countTenantMessages('acme', DAY), 5);
      assert.equal(await repo.countTenantMessages('nobody', DAY), 0);
      // Filters combine: acme's failed ones.
      await repo.setStatus('msg_a2', 'ep', 'failed', DAY);
      assert.deepEqual((await repo.listMessages({ tenant: 'acme', status: 'failed', limit: 10 })).items, ['msg_a2']);
      assert.deepEqual((await repo.listMessages({ tenant: 'globex', status: 'failed', limit: 10 })).items, []);
      if (mode === 'redis') {
        // The index is the tenant's own key: listing acme reads no globex id.
        const idx = await redis.zrange(`${prefix}dlv:tidx:acme`, 0, -1);
        assert.deepEqual(idx.sort(), ['msg_a0', 'msg_a1', 'msg_a2', 'msg_a3', 'msg_a4']);
        assert.ok((await redis.pttl(`${prefix}dlv:tidx:acme`)) > 0, 'the index expires with its newest message');
      }
    });

    if (mode === 'redis') {
      test('records written before tenants (no tenant field) read as the default tenant\'s', async () => {
        const old = { id: 'ep-old', url: 'http://127.0.0.1:9/x', events: ['*'], secrets: [], disabled: false, source: 'api', createdAt: 0, updatedAt: 0 };
        await redis.multi().set(`${prefix}dlv:ep:ep-old`, JSON.stringify(old)).sadd(`${prefix}dlv:eps`, 'ep-old').exec();
        assert.equal((await repo.getEndpoint('ep-old'))!.tenant, 'default');
        assert.equal((await repo.listEndpoints()).find((e) => e.id === 'ep-old')!.tenant, 'default');
        const { tenant: _none, ...oldMsg } = msg('msg_old', 'x', Date.now());
        await redis.hset(`${prefix}dlv:m:msg_old`, 'msg', JSON.stringify(oldMsg));
        await redis.pexpire(`${prefix}dlv:m:msg_old`, 60_000);
        assert.equal((await repo.getMessage('msg_old'))!.tenant, 'default');
      });
    }
  });
}

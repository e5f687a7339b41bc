import { after, before, describe, test } from 'node:test';
import { createDeliveryService } from '../gateway/delivery/service.js';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { MemoryStore } from '../gateway/store/memory.js';
import { RedisStore } from '../gateway/store/redis.js';
import { createStore } from '../gateway/store/index.js';
import type { Store } from '../gateway/store/types.js';
import { waitUntil } from './support/http.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { deleteKeys, REDIS_URL, testPrefix } from './support/redis.js';
import { startRedisServer, type PrivateRedis } from './support/redis-server.js';
import { startGatedProxy, type GatedProxy } from './support/gated-proxy.js';

/** One contract, run against every driver. Keys are unique per test so drivers can be shared. */
function contract(driver: string, open: () => Promise<Store>, close: (s: Store) => Promise<void>): void {
  describe(`Store contract: ${driver}`, () => {
    let store: Store;
    let n = 0;
    const key = (name: string) => `${name}:${++n}`;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await close(store);
    });

    test('reports its driver', () => {
      assert.equal(store.driver, driver);
    });

    test('get of a missing key is null; set then get; set overwrites', async () => {
      const k = key('get');
      assert.equal(await store.get(k), null);
      await store.set(k, 'v1');
      assert.equal(await store.get(k), 'v1');
      await store.set(k, 'v2');
      assert.equal(await store.get(k), 'v2');
      await store.set(k, '');
      assert.equal(await store.get(k), '');
    });

    test('values are opaque strings (unicode, JSON, long)', async () => {
      const k = key('opaque');
      const v = JSON.stringify({ a: 'ü∑😀', b: 'x'.repeat(10_000) });
      await store.set(k, v);
      assert.equal(await store.get(k), v);
    });

    test('a key set with a ttl expires; one set without does not', async () => {
      const short = key('ttl');
      const forever = key('forever');
      await store.set(short, 'soon-gone', 50);
      await store.set(forever, 'stays');
      assert.equal(await store.get(short), 'soon-gone');
      await waitUntil(async () => (await store.get(short)) === null, 5000, 'the short-ttl key to expire');
      assert.equal(await store.get(forever), 'stays');
    });

    test('set without ttl clears an earlier ttl', async () => {
      const k = key('clear-ttl');
      const marker = key('marker');
      await store.set(k, 'a', 50);
      await store.set(k, 'b');
      await store.set(marker, 'm', 50);
      await waitUntil(async () => (await store.get(marker)) === null, 5000, 'the marker to expire');
      assert.equal(await store.get(k), 'b');
    });

    test('setIfAbsent sets only when absent, and only the first caller wins', async () => {
      const k = key('nx');
      assert.equal(await store.setIfAbsent(k, 'first', 60_000), true);
      assert.equal(await store.setIfAbsent(k, 'second', 60_000), false);
      assert.equal(await store.get(k), 'first');
      const race = key('race');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.setIfAbsent(race, `c${i}`, 60_000)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('setIfAbsent succeeds again after the key expired or was deleted', async () => {
      const k = key('nx-ttl');
      assert.equal(await store.setIfAbsent(k, 'a', 50), true);
      await waitUntil(async () => (await store.get(k)) === null, 5000, 'the claim to expire');
      assert.equal(await store.setIfAbsent(k, 'b', 60_000), true);
      assert.equal(await store.get(k), 'b');
      await store.del(k);
      assert.equal(await store.setIfAbsent(k, 'c', 60_000), true);
      assert.equal(await store.get(k), 'c');
    });

    test('setIfAbsent does not replace a value written by set', async () => {
      const k = key('nx-over-set');
      await store.set(k, 'plain');
      assert.equal(await store.setIfAbsent(k, 'claim', 60_000), false);
      assert.equal(await store.get(k), 'plain');
    });

    test('del removes a key; deleting a missing key is fine', async () => {
      const k = key('del');
      await store.set(k, 'x');
      await store.del(k);
      assert.equal(await store.get(k), null);
      await store.del(k);
      await store.del(key('never-set'));
    });

    test('incr counts from 1, continues a number set by set, and the counter expires', async () => {
      const k = key('incr');
      assert.equal(await store.incr(k, 60_000), 1);
      assert.equal(await store.incr(k, 60_000), 2);
      assert.equal(await store.incr(k, 60_000), 3);
      assert.equal(await store.get(k), '3');
      const s = key('incr-from-set');
      await store.set(s, '41');
      assert.equal(await store.incr(s, 60_000), 42);
      const t = key('incr-ttl');
      assert.equal(await store.incr(t, 50), 1);
      await waitUntil(async () => (await store.get(t)) === null, 5000, 'the counter to expire');
      assert.equal(await store.incr(t, 60_000), 1);
    });

    test('incr sets the ttl when the key is created, not on every increment (a fixed window)', async () => {
      const k = key('window');
      assert.equal(await store.incr(k, 150), 1);
      // Keep incrementing: if each incr extended the ttl the counter would never reset.
      let reset = false;
      await waitUntil(async () => {
        reset = (await store.incr(k, 150)) === 1;
        return reset;
      }, 5000, 'the fixed window to end while incrementing');
      assert.ok(reset);
    });

    test('concurrent incr loses no update', async () => {
      const k = key('concurrent');
      const got = await Promise.all(Array.from({ length: 50 }, () => store.incr(k, 60_000)));
      assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    });

    test('ping resolves', async () => {
      await store.ping();
    });
  });
}

contract(
  'memory',
  async () => new MemoryStore(),
  (s) => s.close(),
);

const redisPrefix = testPrefix('store');
contract(
  'redis',
  async () => {
    const s = new RedisStore({ url: REDIS_URL, prefix: redisPrefix });
    await s.waitReady(5000);
    return s;
  },
  async (s) => {
    await s.close();
    await deleteKeys(redisPrefix);
  },
);

describe('RedisStore specifics', () => {
  const prefix = testPrefix('store-raw');
  let store: RedisStore;
  let raw: Redis;
  before(async () => {
    store = new RedisStore({ url: REDIS_URL, prefix });
    await store.waitReady(5000);
    raw = new Redis(REDIS_URL);
  });
  after(async () => {
    await store.close();
    raw.disconnect();
    await deleteKeys(prefix);
  });

  test('every key is written under the prefix, and only there', async () => {
    assert.equal(store.prefix, prefix);
    await store.set('a', '1');
    await store.setIfAbsent('b', '2', 60_000);
    await store.incr('c', 60_000);
    assert.equal(await raw.get(`${prefix}a`), '1');
    assert.equal(await raw.get(`${prefix}b`), '2');
    assert.equal(await raw.get(`${prefix}c`), '1');
    assert.equal(await raw.exists('a', 'b', 'c'), 0);
    // Every page of the SCAN: one page holds only part of the matches when the database is large.
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      keys.push(...page);
      cursor = next;
    } while (cursor !== '0');
    assert.deepEqual(keys.sort(), [`${prefix}a`, `${prefix}b`, `${prefix}c`]);
    await store.del('a');
    assert.equal(await raw.exists(`${prefix}a`), 0);
  });

  test('ttls are set in Redis: set/setIfAbsent/incr keys carry a PTTL, a plain set none', async () => {
    await store.set('t1', 'x', 30_000);
    await store.setIfAbsent('t2', 'x', 30_000);
    await store.incr('t3', 30_000);
    await store.set('t4', 'x');
    for (const k of ['t1', 't2', 't3']) {
      const pttl = await raw.pttl(`${prefix}${k}`);
      assert.ok(pttl > 0 && pttl <= 30_000, `${k}: ${pttl}`);
    }
    assert.equal(await raw.pttl(`${prefix}t4`), -1);
    // A second incr keeps the ttl of the first.
    await raw.pexpire(`${prefix}t3`, 5000);
    await store.incr('t3', 30_000);
    const after = await raw.pttl(`${prefix}t3`);
    assert.ok(after > 0 && after <= 5000, String(after));
  });

  test('createStore builds the driver the config names', async () => {
    const m = createStore({ driver: 'memory' });
    assert.ok(m instanceof MemoryStore);
    await m.close();
    const r = createStore({ driver: 'redis', url: REDIS_URL, prefix });
    assert.ok(r instanceof RedisStore);
    assert.equal(r.prefix, prefix);
    await (r as RedisStore).waitReady(5000);
    await r.close();
  });
});

describe('MemoryStore with an injected clock', () => {
  test('expiry follows the clock, to the millisecond', async () => {
    let now = 1_000_000;
    const s = new MemoryStore(() => now);
    try {
      await s.set('k', 'v', 100);
      assert.equal(await s.setIfAbsent('n', 'v', 100), true);
      assert.equal(await s.incr('c', 100), 1);
      now += 99;
      assert.equal(await s.get('k'), 'v');
      assert.equal(await s.setIfAbsent('n', 'w', 100), false);
      assert.equal(await s.incr('c', 100), 2);
      now += 1;
      assert.equal(await s.get('k'), null);
      assert.equal(await s.setIfAbsent('n', 'w', 100), true);
      assert.equal(await s.incr('c', 100), 1);
    } finally {
      await s.close();
    }
  });
});

describe('readiness follows Redis', () => {
  const ROUTES = `
routes:
  - name: hello
    path: /hello
    respond: { status: 200, body: "hello" }
`;
  const readyz = async (g: TestGateway) => g.request({ path: '/readyz', timeoutMs: 5000 });

  test('a Redis outage turns /readyz 503 while /healthz and routes keep answering; recovery needs no restart', async () => {
    let redis: PrivateRedis | undefined;
    let g: TestGateway | undefined;
    try {
      redis = await startRedisServer();
      g = await startGateway(`store: { driver: redis, url: "${redis.url}", prefix: "hgready:" }\n${ROUTES}`);
      const ok = await readyz(g);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json().store, 'redis');

      await redis.stop();
      let down = ok;
      await waitUntil(async () => (down = await readyz(g!)).status === 503, 15000, '/readyz to report the outage');
      assert.equal(down.json().error.code, 'HG_NOT_READY');
      assert.equal((await g.request({ path: '/healthz' })).status, 200);
      const hello = await g.request({ path: '/hello' });
      assert.equal(hello.status, 200);
      assert.equal(hello.text, 'hello');

      await redis.restart();
      await waitUntil(async () => (await readyz(g!)).status === 200, 15000, '/readyz to recover after Redis is back');
      assert.equal((await g.request({ path: '/hello' })).text, 'hello');
    } finally {
      await g?.stop();
      await redis?.stop();
    }
  });

  test('a gateway started while Redis is down starts, reports 503, then 200 once Redis is up', async () => {
    let redis: PrivateRedis | undefined;
    let g: TestGateway | undefined;
    try {
      redis = await startRedisServer();
      await redis.stop();
      g = await startGateway(`store: { driver: redis, url: "${redis.url}" }\n${ROUTES}`);
      const down = await readyz(g);
      assert.equal(down.status, 503);
      assert.equal(down.json().error.code, 'HG_NOT_READY');
      assert.equal((await g.request({ path: '/healthz' })).status, 200);
      assert.equal((await g.request({ path: '/hello' })).text, 'hello');

      await redis.restart();
      await waitUntil(async () => (await readyz(g!)).status === 200, 15000, '/readyz to turn 200 once Redis is up');
    } finally {
      await g?.stop();
      await redis?.stop();
    }
  });

  test('/readyz is 503 while the delivery queue\'s own connection is down, though the store answers', async () => {
    let redis: PrivateRedis | undefined;
    let gate: GatedProxy | undefined;
    let g: TestGateway | undefined;
    try {
      redis = await startRedisServer();
      // The store's connection (the first) passes; the queue's own, opened after it, are held
      // short of ready, as they are while they still connect (on Cluster: loading the slots).
      gate = await startGatedProxy(redis.port, 1);
      g = await startGateway(`store: { driver: redis, url: "${gate.url}", prefix: "hgqready:" }\n${ROUTES}`, { services: createDeliveryService });
      await waitUntil(() => gate!.accepted >= 3, 15000, 'the queue to open its worker and bell connections');
      const down = await readyz(g);
      assert.equal(down.status, 503, down.text);
      assert.equal(down.json().error.code, 'HG_NOT_READY');
      assert.match(down.json().error.message, /delivery queue worker/);
      assert.equal((await g.request({ path: '/hello' })).text, 'hello', 'routes keep answering');
      gate.open();
      await waitUntil(async () => (await readyz(g!)).status === 200, 15000, '/readyz 200 once the queue is connected');
    } finally {
      await g?.stop();
      await gate?.close();
      await redis?.stop();
    }
  });
});

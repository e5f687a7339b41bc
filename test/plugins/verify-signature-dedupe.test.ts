import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { sign as octokitSign } from '@octokit/webhooks-methods';

import type { PluginResponse } from '../../gateway/plugin.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import { RedisStore } from '../../gateway/store/redis.js';
import type { Store } from '../../gateway/store/types.js';
import { expectCode, expectPass, JSON_BODY, makeCtx, makePlugin, run } from '../support/signing.js';

async function waitFor(pred: () => Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('dedupe', () => {
  const secret = 'gh-secret';
  const body = '{"action":"opened"}';
  let sig = '';
  before(async () => {
    sig = await octokitSign(secret, body);
  });
  const req = (delivery: string) => makeCtx({ headers: { 'X-Hub-Signature-256': sig, 'X-GitHub-Delivery': delivery }, body });

  it('a delivered message is answered as a duplicate, not forwarded', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    const first = req('dlv-1');
    await expectPass(p, first);
    first.status = 200;
    p.onLog!(first);
    await waitFor(async () => (await store.get('vs:hooks:github:dlv-1')) === 'done', 'key marked done');
    const r = await run(p, req('dlv-1'));
    assert.deepEqual(r.res, { status: 200, headers: { 'hookgate-duplicate': 'true' }, body: { duplicate: true, id: 'dlv-1' } });
    // A different delivery id is a different message.
    await expectPass(p, req('dlv-2'));
    // The duplicate answer itself releases nothing.
    const dup = req('dlv-1');
    await run(p, dup);
    dup.status = 200;
    p.onLog!(dup);
    assert.equal(await store.get('vs:hooks:github:dlv-1'), 'done');
  });

  it('a queued message (202) counts as delivered', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    const first = req('dlv-q');
    await expectPass(p, first);
    first.status = 202;
    p.onLog!(first);
    await waitFor(async () => (await store.get('vs:hooks:github:dlv-q')) === 'done', 'key marked done');
    assert.equal((await run(p, req('dlv-q'))).res?.status, 200);
  });

  it('after a failed forward (502) the retry is forwarded', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    const first = req('dlv-3');
    await expectPass(p, first);
    first.status = 502;
    p.onLog!(first);
    await waitFor(async () => (await store.get('vs:hooks:github:dlv-3')) === null, 'key released');
    await expectPass(p, req('dlv-3'));
  });

  it('a concurrent copy while the first is in flight gets 409', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    await expectPass(p, req('dlv-4'));
    const err = await expectCode(p, req('dlv-4'), 'HG_DUPLICATE_IN_FLIGHT');
    assert.equal(err.status, 409);
  });

  it('keys are per route; dedupe: false turns it off; window from dedupeWindowSec', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    await expectPass(p, req('dlv-5'));
    await expectPass(p, makeCtx({ headers: { 'X-Hub-Signature-256': sig, 'X-GitHub-Delivery': 'dlv-5' }, body, routeName: 'other' }));
    const off = await makePlugin({ preset: 'github', secrets: [secret], dedupe: false }, { store });
    await expectPass(off, req('dlv-5'));
    await expectPass(off, req('dlv-5'));

    // With a 1 s window on a clock we control, a delivered id expires.
    let now = 1_000_000;
    const clockStore = new MemoryStore(() => now);
    const w = await makePlugin({ preset: 'github', secrets: [secret], dedupeWindowSec: 1 }, { store: clockStore });
    const first = req('dlv-6');
    await expectPass(w, first);
    first.status = 200;
    w.onLog!(first);
    await waitFor(async () => (await clockStore.get('vs:hooks:github:dlv-6')) === 'done', 'key marked done');
    assert.equal((await run(w, req('dlv-6'))).res?.status, 200);
    now += 1001;
    await expectPass(w, req('dlv-6'));
  });

  it('store errors fail open with a warning', async () => {
    const warnings: unknown[] = [];
    const logger = { warn: (...a: unknown[]) => warnings.push(a) } as unknown as Logger;
    const broken: Store = {
      driver: 'memory',
      prefix: '',
      get: async () => { throw new Error('down'); },
      set: async () => { throw new Error('down'); },
      setIfAbsent: async () => { throw new Error('down'); },
      del: async () => { throw new Error('down'); },
      incr: async () => { throw new Error('down'); },
      ping: async () => { throw new Error('down'); },
      close: async () => {},
    };
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store: broken, logger });
    await expectPass(p, req('dlv-7'));
    await expectPass(p, req('dlv-7'));
    assert.equal(warnings.length, 2);
    assert.doesNotMatch(JSON.stringify(warnings), new RegExp(secret));
  });

  it('mark-done errors are logged, not thrown', async () => {
    const warnings: unknown[] = [];
    const logger = { warn: (...a: unknown[]) => warnings.push(a) } as unknown as Logger;
    const mem = new MemoryStore();
    const flaky: Store = Object.assign(Object.create(mem) as Store, { set: async () => { throw new Error('down'); } });
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store: flaky, logger });
    const first = req('dlv-8');
    await expectPass(p, first);
    first.status = 200;
    assert.doesNotThrow(() => p.onLog!(first));
    await waitFor(async () => warnings.length === 1, 'warning logged');
  });
});

describe('dedupe across two gateways sharing Redis', () => {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `hgtest:${process.pid}:${Date.now()}:`;
  let a: RedisStore;
  let b: RedisStore;
  before(async () => {
    a = new RedisStore({ url, prefix });
    b = new RedisStore({ url, prefix });
    await Promise.all([a.waitReady(), b.waitReady()]);
  });
  after(async () => {
    const keys = await a.redis.keys(prefix + '*');
    if (keys.length) await a.redis.del(...keys);
    await Promise.all([a.close(), b.close()]);
  });

  it('a message accepted via instance A is a duplicate on instance B', async () => {
    const secret = 'whsec_' + Buffer.from('shared-redis-secret-for-tests-32').toString('base64');
    const wh = new Webhook(secret);
    const id = `msg_redis_${process.pid}`;
    const at = new Date();
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': wh.sign(id, at, JSON_BODY) };
    const pa = await makePlugin({ preset: 'standard-webhooks', secrets: [secret] }, { store: a });
    const pb = await makePlugin({ preset: 'standard-webhooks', secrets: [secret] }, { store: b });

    const first = makeCtx({ headers, body: JSON_BODY });
    await expectPass(pa, first);
    // While A is forwarding, B sees it in flight.
    await expectCode(pb, makeCtx({ headers, body: JSON_BODY }), 'HG_DUPLICATE_IN_FLIGHT');
    first.status = 200;
    pa.onLog!(first);
    const key = `vs:hooks:standard-webhooks:${id}`;
    await waitFor(async () => (await b.get(key)) === 'done', 'key marked done in redis');
    const ttl = await a.redis.pttl(prefix + key);
    assert.ok(ttl > 500_000 && ttl <= 600_000, `window is 2 x toleranceSec, got ${ttl} ms`);
    const r = await run(pb, makeCtx({ headers, body: JSON_BODY }));
    assert.equal(r.res?.status, 200);
    assert.deepEqual((r.res as PluginResponse).body, { duplicate: true, id });
    assert.equal((r.res as PluginResponse).headers?.['hookgate-duplicate'], 'true');
  });
});

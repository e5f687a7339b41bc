import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import Stripe from 'stripe';
import twilio from 'twilio';

import type { PluginInstance, PluginResponse } from '../../gateway/plugin.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import { RedisStore } from '../../gateway/store/redis.js';
import type { Store } from '../../gateway/store/types.js';
import { expectCode, expectPass, hmacB64, hmacHex, JSON_BODY, makeCtx, makePlugin, nowSec, run } from '../support/signing.js';

const SW_SECRET = 'whsec_' + Buffer.from('a-32-byte-secret-for-dedupe-test').toString('base64');

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
  const ghSig = (b: string) => 'sha256=' + hmacHex(secret, b);
  // GitHub's delivery id is not signed: the key is the digest of the signature bytes.
  const ghKey = (b = body) => `vs:hooks:github:sig:${createHash('sha256').update(Buffer.from(hmacHex(secret, b), 'hex')).digest('base64url')}`;
  const req = (delivery: string, b = body) => makeCtx({ headers: { 'X-Hub-Signature-256': ghSig(b), 'X-GitHub-Delivery': delivery }, body: b });

  it('a delivered message is answered as a duplicate, not forwarded', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    // The oracle and our key agree on what was signed.
    assert.equal(await octokitSign(secret, body), ghSig(body));
    const first = req('dlv-1');
    await expectPass(p, first);
    first.status = 200;
    p.onLog!(first);
    await waitFor(async () => (await store.get(ghKey())) === 'done', 'key marked done');
    const r = await run(p, req('dlv-1'));
    assert.deepEqual(r.res, { status: 200, headers: { 'hookgate-duplicate': 'true' }, body: { duplicate: true, id: 'dlv-1' } });
    // A different body is a different message.
    await expectPass(p, req('dlv-2', '{"action":"closed"}'));
    // The duplicate answer itself releases nothing.
    const dup = req('dlv-1');
    await run(p, dup);
    dup.status = 200;
    p.onLog!(dup);
    assert.equal(await store.get(ghKey()), 'done');
  });

  it('github, shopify, twilio, hmac without {id}: a captured request replayed under a new id is a duplicate', async () => {
    const store = new MemoryStore();
    const deliver = async (p: PluginInstance, ctx: ReturnType<typeof makeCtx>) => {
      await expectPass(p, ctx);
      ctx.status = 200;
      p.onLog!(ctx);
    };
    const replayed = async (p: PluginInstance, ctx: ReturnType<typeof makeCtx>, what: string) => {
      await waitFor(async () => (await run(p, ctx)).res?.status === 200, `${what}: replay answered as a duplicate`);
    };

    const gh = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    await deliver(gh, req('dlv-orig'));
    await replayed(gh, req('dlv-forged'), 'github');
    // Unsigned headers (the event name) and re-spelled hex do not make it a new message either.
    const upper = makeCtx({ headers: { 'X-Hub-Signature-256': 'sha256=' + hmacHex(secret, body).toUpperCase(), 'X-GitHub-Event': 'ping' }, body });
    assert.deepEqual((await run(gh, upper)).res, { status: 200, headers: { 'hookgate-duplicate': 'true' }, body: { duplicate: true } });

    const shop = await makePlugin({ preset: 'shopify', secrets: ['shpss'] }, { store });
    const shopReq = (id: string) => makeCtx({ headers: { 'X-Shopify-Hmac-Sha256': hmacB64('shpss', body), 'X-Shopify-Webhook-Id': id }, body });
    await deliver(shop, shopReq('s-orig'));
    await replayed(shop, shopReq('s-forged'), 'shopify');

    const publicUrl = 'https://hooks.example.test/tw';
    const tw = await makePlugin({ preset: 'twilio', secrets: ['tok'] }, { store, publicUrl });
    const twSig = twilio.getExpectedTwilioSignature('tok', publicUrl, { A: '1', B: '2' });
    const twReq = (token: string, form = 'A=1&B=2') =>
      makeCtx({ headers: { 'X-Twilio-Signature': twSig, 'content-type': 'application/x-www-form-urlencoded', 'I-Twilio-Idempotency-Token': token }, body: form });
    await deliver(tw, twReq('t-orig'));
    await replayed(tw, twReq('t-forged'), 'twilio');
    // Reordered params sign the same: the same message.
    await replayed(tw, twReq('t-forged-2', 'B=2&A=1'), 'twilio reordered');

    // Base64 is compared by value here, so a URL-safe, unpadded spelling is the same signature.
    const hm = await makePlugin({ preset: 'hmac', secrets: ['k'], header: 'x-sig', encoding: 'base64', idHeader: 'x-id' }, { store });
    const hmSig = createHmac('sha256', 'k').update(body).digest();
    const hmReq = (id: string, sig: string) => makeCtx({ headers: { 'x-sig': sig, 'x-id': id }, body });
    await deliver(hm, hmReq('h-orig', hmSig.toString('base64')));
    await replayed(hm, hmReq('h-forged', hmSig.toString('base64url')), 'hmac');
  });

  it('signed ids key on the id: a provider retry with a fresh signature is a duplicate', async () => {
    const store = new MemoryStore();
    const wh = new Webhook(SW_SECRET);
    const headersAt = (id: string, at: Date) => ({ 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': wh.sign(id, at, JSON_BODY) });
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [SW_SECRET] }, { store });
    await expectPass(p, makeCtx({ headers: headersAt('msg_retry', new Date()), body: JSON_BODY }));
    assert.equal(await store.get('vs:hooks:standard-webhooks:msg_retry'), 'inflight');
    await expectCode(p, makeCtx({ headers: headersAt('msg_retry', new Date(Date.now() - 5000)), body: JSON_BODY }), 'HG_DUPLICATE_IN_FLIGHT');

    // Stripe: the event id in the signed body is the key, whatever the timestamp.
    const st = await makePlugin({ preset: 'stripe', secrets: ['whsec_dedupe'] }, { store });
    const payload = '{"id":"evt_retry","type":"invoice.paid"}';
    const stripeAt = (t: number) => makeCtx({ headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_dedupe', timestamp: t }) }, body: payload });
    await expectPass(st, stripeAt(nowSec()));
    assert.equal(await store.get('vs:hooks:stripe:evt_retry'), 'inflight');
    await expectCode(st, stripeAt(nowSec() - 60), 'HG_DUPLICATE_IN_FLIGHT');

    // hmac with {id} in the template signs the id: the id is the key, a forged id fails the signature.
    const hm = await makePlugin({ preset: 'hmac', secrets: ['k'], header: 'x-sig', template: '{id}.{body}', idHeader: 'x-id' }, { store });
    const signedId = (id: string) => makeCtx({ headers: { 'x-sig': hmacHex('k', `${id}.${body}`), 'x-id': id }, body });
    await expectPass(hm, signedId('i-1'));
    assert.equal(await store.get('vs:hooks:hmac:i-1'), 'inflight');
    await expectCode(hm, signedId('i-1'), 'HG_DUPLICATE_IN_FLIGHT');
    await expectCode(hm, makeCtx({ headers: { 'x-sig': hmacHex('k', `i-1.${body}`), 'x-id': 'i-2' }, body }), 'HG_SIGNATURE_INVALID');
  });

  it('slack (no id, signed timestamp) dedupes replays within the tolerance by default; hmac over the body alone only on request', async () => {
    const store = new MemoryStore();
    const slack = await makePlugin({ preset: 'slack', secrets: ['sl'] }, { store });
    const ts = nowSec();
    const slackReq = () => makeCtx({ headers: { 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': 'v0=' + hmacHex('sl', `v0:${ts}:${body}`) }, body });
    const first = slackReq();
    await expectPass(slack, first);
    first.status = 200;
    slack.onLog!(first);
    await waitFor(async () => (await run(slack, slackReq())).res?.status === 200, 'slack replay answered as a duplicate');

    const bodyOnly = { preset: 'hmac', secrets: ['k'], header: 'x-sig' };
    const plain = () => makeCtx({ headers: { 'x-sig': hmacHex('k', body) }, body });
    const off = await makePlugin(bodyOnly, { store });
    await expectPass(off, plain());
    await expectPass(off, plain());
    const on = await makePlugin({ ...bodyOnly, dedupe: true }, { store });
    await expectPass(on, plain());
    await expectCode(on, plain(), 'HG_DUPLICATE_IN_FLIGHT');
  });

  it('a queued message (202) counts as delivered', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    const first = req('dlv-q', '{"q":1}');
    await expectPass(p, first);
    first.status = 202;
    p.onLog!(first);
    await waitFor(async () => (await store.get(ghKey('{"q":1}'))) === 'done', 'key marked done');
    assert.equal((await run(p, req('dlv-q', '{"q":1}'))).res?.status, 200);
  });

  it('after a failed forward (502) the retry is forwarded', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'github', secrets: [secret] }, { store });
    const first = req('dlv-3');
    await expectPass(p, first);
    first.status = 502;
    p.onLog!(first);
    await waitFor(async () => (await store.get(ghKey())) === null, 'key released');
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
    await expectPass(p, makeCtx({ headers: { 'X-Hub-Signature-256': ghSig(body), 'X-GitHub-Delivery': 'dlv-5' }, body, routeName: 'other' }));
    const off = await makePlugin({ preset: 'github', secrets: [secret], dedupe: false }, { store });
    await expectPass(off, req('dlv-5'));
    await expectPass(off, req('dlv-5'));

    // With a 1 s window on a clock we control, a delivered message expires.
    let now = 1_000_000;
    const clockStore = new MemoryStore(() => now);
    const w = await makePlugin({ preset: 'github', secrets: [secret], dedupeWindowSec: 1 }, { store: clockStore });
    const first = req('dlv-6');
    await expectPass(w, first);
    first.status = 200;
    w.onLog!(first);
    await waitFor(async () => (await clockStore.get(ghKey())) === 'done', 'key marked done');
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

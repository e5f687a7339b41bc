import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, sign as edSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import twilio from 'twilio';

import type { Context } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import type { PluginEnv, PluginInstance, PluginResponse } from '../../gateway/plugin.js';
import { safeEqual } from '../../gateway/security/compare.js';
import { parseStripeSignatureHeader, parseVersionedSignatures } from '../../gateway/security/signature-header.js';
import { checkTimestamp } from '../../gateway/security/timestamp.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import { RedisStore } from '../../gateway/store/redis.js';
import type { Store } from '../../gateway/store/types.js';
import { verifySignaturePlugin } from '../../plugins/verify-signature/index.js';
import { verifySignatureSchema } from '../../plugins/verify-signature/schema.js';
import {
  githubVerifier,
  shopifyVerifier,
  slackVerifier,
  standardWebhooksVerifier,
  stripeVerifier,
  svixVerifier,
  twilioVerifier,
  type SignedRequest,
  type VerifySignatureParams,
} from '../../plugins/verify-signature/schemes/index.js';
import { expectRefusal, fakeContext, pluginHarness } from '../support/plugin.js';

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers

// Compiled to dist/test/plugins/; the fixture stays in the source tree.
const here = dirname(fileURLToPath(import.meta.url));
const fixturePath = [join(here, '../fixtures/signatures.json'), join(here, '../../../test/fixtures/signatures.json')].find((p) => {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
})!;
const V = JSON.parse(readFileSync(fixturePath, 'utf8')) as {
  'standard-webhooks': Array<{ secret: string; id: string; timestamp: number; body?: string; bodyRepeat?: { char: string; count: number }; signature: string }>;
  'standard-webhooks-ed25519': Array<{ publicKey: string; id: string; timestamp: number; body: string; signature: string }>;
  github: Array<{ secret: string; body: string; header: string; signature: string }>;
  slack: Array<{ secret: string; timestamp: number; body: string; signature: string }>;
  shopify: Array<{ secret: string; body: string; header: string; signature: string }>;
  twilio: Array<{ authToken: string; url: string; params?: Record<string, string>; body?: string; header: string; signature: string }>;
};

const harness = pluginHarness(verifySignaturePlugin, { routeName: 'hooks' });

/** Validates and applies schema defaults, as the core does before create(). */
const withDefaults = (params: Record<string, unknown>): VerifySignatureParams => harness.params(params);

/** A verify-signature instance on route `hooks`, with a fresh memory store unless `env` names one. */
async function makePlugin(params: Record<string, unknown>, env: Partial<PluginEnv> = {}): Promise<PluginInstance> {
  return harness.create(params, { store: new MemoryStore(), ...env });
}

interface ReqOpts {
  headers?: Record<string, string>;
  body?: string | Buffer;
  search?: string;
  routeName?: string;
}

function makeCtx(o: ReqOpts): Context {
  return fakeContext({ headers: o.headers, search: o.search, routeName: o.routeName ?? 'hooks', body: o.body ?? Buffer.alloc(0) });
}

function signedReq(headers: Record<string, string>, body: string | Buffer, search = ''): SignedRequest {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  return { header: (n) => h[n], body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), search };
}

/** Runs onRequest; returns the response (or undefined) or the thrown GatewayError code. */
async function run(plugin: PluginInstance, ctx: Context): Promise<{ code?: string; status?: number; res?: PluginResponse | void }> {
  try {
    const res = await plugin.onRequest!(ctx);
    return { res };
  } catch (err) {
    if (err instanceof GatewayError) return { code: err.code, status: err.status };
    throw err;
  }
}

const expectCode = (plugin: PluginInstance, ctx: Context, code: string): Promise<GatewayError> =>
  expectRefusal(plugin, ctx, code, code === 'HG_DUPLICATE_IN_FLIGHT' ? 409 : 401);

async function expectPass(plugin: PluginInstance, ctx: Context): Promise<void> {
  const r = await run(plugin, ctx);
  assert.equal(r.code, undefined, `expected pass, got ${r.code}`);
  assert.equal(r.res, undefined);
}

function expectVerifyCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof GatewayError && err.code === code && err.status === 401);
}

async function waitFor(pred: () => Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const nowSec = () => Math.floor(Date.now() / 1000);
const hmacHex = (key: string, data: string) => createHmac('sha256', key).update(data).digest('hex');
const hmacB64 = (key: string, data: string) => createHmac('sha256', key).update(data).digest('base64');
const randomB64Sig = (i: number) => createHash('sha256').update(`decoy-${i}`).digest('base64');
const randomHexSig = (i: number) => createHash('sha256').update(`decoy-${i}`).digest('hex');

/** A JSON body, and the same value re-encoded by a JSON round trip with different whitespace. */
const JSON_BODY = '{"type": "invoice.paid",  "data": {"amount": 1200}}';
const REENCODED = JSON.stringify(JSON.parse(JSON_BODY));

// ---------------------------------------------------------------------------------------------

describe('security helpers', () => {
  it('safeEqual compares without throwing on different lengths', () => {
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('abc', 'abcd'), false);
    assert.equal(safeEqual(Buffer.from('x'), 'x'), true);
    assert.equal(safeEqual('', ''), true);
  });
  it('checkTimestamp checks both directions', () => {
    const now = 1_700_000_000_000;
    assert.equal(checkTimestamp(1_700_000_000, 300, now), 'ok');
    assert.equal(checkTimestamp(1_700_000_000 - 300, 300, now), 'ok');
    assert.equal(checkTimestamp(1_700_000_000 - 301, 300, now), 'stale');
    assert.equal(checkTimestamp(1_700_000_000 + 300, 300, now), 'ok');
    assert.equal(checkTimestamp(1_700_000_000 + 301, 300, now), 'future');
    assert.equal(checkTimestamp(Number.NaN, 300, now), 'stale');
  });
  it('parses multi-signature headers', () => {
    assert.deepEqual(parseVersionedSignatures('v1,abc= v1,def=  v1a,ghi= junk v2,'), [
      { version: 'v1', signature: 'abc=' },
      { version: 'v1', signature: 'def=' },
      { version: 'v1a', signature: 'ghi=' },
    ]);
    assert.deepEqual(parseVersionedSignatures(undefined), []);
    assert.deepEqual(parseStripeSignatureHeader('t=12,v1=aa,v0=zz,v1=bb'), { timestamp: 12, v1: ['aa', 'bb'] });
    assert.equal(parseStripeSignatureHeader('t=12,v0=zz'), undefined);
    assert.equal(parseStripeSignatureHeader('v1=aa'), undefined);
    assert.equal(parseStripeSignatureHeader('t=abc,v1=aa'), undefined);
  });
});

describe('params schema', () => {
  it('applies defaults and rejects unknown params', () => {
    const p = withDefaults({ preset: 'github', secrets: ['s'] });
    assert.equal(p.toleranceSec, 300);
    assert.throws(() => withDefaults({ preset: 'github', secrets: ['s'], secret: 'typo' }), /additional/);
    assert.throws(() => withDefaults({ preset: 'nope', secrets: ['s'] }), /allowed values/);
    assert.throws(() => withDefaults({ secrets: ['s'] }), /preset/);
    assert.equal(verifySignatureSchema.additionalProperties, false);
  });
  it('rejects semantic problems in create()', async () => {
    for (const preset of ['standard-webhooks', 'svix', 'stripe', 'github', 'shopify', 'slack', 'twilio', 'hmac']) {
      await assert.rejects(
        async () => makePlugin({ preset, secrets: [], header: preset === 'hmac' ? 'x-sig' : undefined }, { publicUrl: 'https://e.test/h' }),
        { message: 'verify-signature: secrets must not be empty' },
        preset,
      );
      await assert.rejects(
        async () => makePlugin({ preset, header: preset === 'hmac' ? 'x-sig' : undefined }, { publicUrl: 'https://e.test/h' }),
        { message: 'verify-signature: secrets must not be empty' },
        preset,
      );
    }
    await assert.rejects(async () => makePlugin({ preset: 'standard-webhooks', secrets: ['not base64 !'] }), /whsec_/);
    // The URL-safe alphabet is not what the spec and its reference library decode.
    await assert.rejects(async () => makePlugin({ preset: 'standard-webhooks', secrets: ['whsec_' + Buffer.alloc(24, 0xfb).toString('base64url')] }), /whsec_/);
    await assert.rejects(async () => makePlugin({ preset: 'standard-webhooks', publicKeys: ['whpk_AAAA'] }), /32 raw ed25519/);
    await assert.rejects(async () => makePlugin({ preset: 'twilio', secrets: ['t'] }), /publicUrl/);
    await assert.rejects(async () => makePlugin({ preset: 'hmac', secrets: ['s'] }), /header/);
    await assert.rejects(async () => makePlugin({ preset: 'hmac', secrets: ['s'], header: 'x', template: '{foo}.{body}' }), /\{foo\}/);
    await assert.rejects(async () => makePlugin({ preset: 'hmac', secrets: ['s'], header: 'x', template: '{timestamp}.{body}' }), /timestampHeader/);
    await assert.rejects(async () => makePlugin({ preset: 'hmac', secrets: ['s'], header: 'x', template: '{id}.{body}' }), /idHeader/);
    await assert.rejects(async () => makePlugin({ preset: 'hmac', secrets: ['s'], header: 'x', template: '{url}{body}' }), /publicUrl/);
    await assert.rejects(async () => makePlugin({ preset: 'github', secrets: ['s'], header: 'x' }), /only apply to preset hmac/);
    await assert.rejects(async () => makePlugin({ preset: 'slack', secrets: ['s'], dedupe: true }), /carries none/);
    await assert.rejects(async () => makePlugin({ preset: 'hmac', secrets: ['s'], header: 'x', dedupe: true }), /idHeader/);
  });
  it('accepts publicKeys alone for standard-webhooks and svix', async () => {
    const pk = V['standard-webhooks-ed25519'][0]!.publicKey;
    const p = await makePlugin({ preset: 'standard-webhooks', publicKeys: [pk] });
    assert.equal(p.needsBody, true);
    await makePlugin({ preset: 'svix', publicKeys: [pk] });
  });
});

// ---------------------------------------------------------------------------------------------
// Published vectors, through the scheme verifiers with the vector's own time.

describe('published vectors', () => {
  for (const [i, v] of V['standard-webhooks'].entries()) {
    it(`standard-webhooks #${i}${v.bodyRepeat ? ' (1 MB body)' : ''}`, () => {
      const body = v.body ?? v.bodyRepeat!.char.repeat(v.bodyRepeat!.count);
      const headers = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.signature };
      const ver = standardWebhooksVerifier({ secrets: [v.secret] });
      assert.deepEqual(ver.verify(signedReq(headers, body), v.timestamp * 1000), { id: v.id, timestamp: v.timestamp });
      // The same vector through the svix preset, with svix-* headers and with the webhook-* fallback.
      const svix = svixVerifier({ secrets: [v.secret] });
      svix.verify(signedReq({ 'svix-id': v.id, 'svix-timestamp': String(v.timestamp), 'svix-signature': v.signature }, body), v.timestamp * 1000);
      svix.verify(signedReq(headers, body), v.timestamp * 1000);
      // A bare base64 secret (no whsec_ prefix) is the same key.
      standardWebhooksVerifier({ secrets: [v.secret.slice(6)] }).verify(signedReq(headers, body), v.timestamp * 1000);
      // Our own clock: the vector is years old.
      expectVerifyCode(() => ver.verify(signedReq(headers, body), Date.now()), 'HG_TIMESTAMP_OUT_OF_RANGE');
      expectVerifyCode(() => ver.verify(signedReq(headers, body + ' '), v.timestamp * 1000), 'HG_SIGNATURE_INVALID');
    });
  }

  for (const [i, v] of V['standard-webhooks-ed25519'].entries()) {
    it(`standard-webhooks ed25519 (v1a) #${i}`, () => {
      const headers = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.signature };
      const ver = standardWebhooksVerifier({ publicKeys: [v.publicKey] });
      assert.equal(ver.verify(signedReq(headers, v.body), v.timestamp * 1000).id, v.id);
      // Mixed with decoy v1 entries, and with an HMAC secret configured too.
      const mixed = { ...headers, 'webhook-signature': `v1,${randomB64Sig(1)} ${v.signature}` };
      standardWebhooksVerifier({ secrets: ['whsec_' + Buffer.from('k').toString('base64')], publicKeys: [v.publicKey] }).verify(
        signedReq(mixed, v.body),
        v.timestamp * 1000,
      );
      expectVerifyCode(() => ver.verify(signedReq(headers, v.body.replace('2432', '2433')), v.timestamp * 1000), 'HG_SIGNATURE_INVALID');
      const tampered = { ...headers, 'webhook-timestamp': String(v.timestamp + 1) };
      expectVerifyCode(() => ver.verify(signedReq(tampered, v.body), v.timestamp * 1000), 'HG_SIGNATURE_INVALID');
      // A v1a entry with only HMAC secrets configured cannot be accepted.
      expectVerifyCode(
        () => standardWebhooksVerifier({ secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }).verify(signedReq(headers, v.body), v.timestamp * 1000),
        'HG_SIGNATURE_INVALID',
      );
    });
  }

  for (const [i, v] of V.github.entries()) {
    it(`github #${i}`, async () => {
      assert.equal(await octokitSign(v.secret, v.body), v.signature);
      const ver = githubVerifier({ secrets: ['other', v.secret] });
      assert.deepEqual(ver.verify(signedReq({ [v.header]: v.signature, 'x-github-delivery': 'd-1' }, v.body), 0), { id: 'd-1' });
      expectVerifyCode(() => githubVerifier({ secrets: ['other'] }).verify(signedReq({ [v.header]: v.signature }, v.body), 0), 'HG_SIGNATURE_INVALID');
    });
  }

  for (const [i, v] of V.slack.entries()) {
    it(`slack #${i}`, () => {
      const headers = { 'x-slack-signature': v.signature, 'x-slack-request-timestamp': String(v.timestamp) };
      const ver = slackVerifier({ secrets: [v.secret] });
      assert.deepEqual(ver.verify(signedReq(headers, v.body), v.timestamp * 1000), { timestamp: v.timestamp });
      expectVerifyCode(() => ver.verify(signedReq(headers, v.body), Date.now()), 'HG_TIMESTAMP_OUT_OF_RANGE');
      expectVerifyCode(() => ver.verify(signedReq(headers, v.body + '&x=1'), v.timestamp * 1000), 'HG_SIGNATURE_INVALID');
    });
  }

  for (const [i, v] of V.shopify.entries()) {
    it(`shopify #${i}`, () => {
      const ver = shopifyVerifier({ secrets: [v.secret] });
      assert.deepEqual(ver.verify(signedReq({ [v.header]: v.signature, 'x-shopify-webhook-id': 'w-1' }, v.body), 0), { id: 'w-1' });
      expectVerifyCode(() => ver.verify(signedReq({ [v.header]: v.signature }, REENCODED), 0), 'HG_SIGNATURE_INVALID');
      // Shopify's library compares the base64 text: an unpadded spelling of the right bytes is not it.
      expectVerifyCode(() => ver.verify(signedReq({ [v.header]: v.signature.replace(/=+$/, '') }, v.body), 0), 'HG_SIGNATURE_INVALID');
    });
  }

  it('twilio form body', () => {
    const v = V.twilio[0]!;
    assert.equal(twilio.getExpectedTwilioSignature(v.authToken, v.url, v.params!), v.signature);
    assert.equal(twilio.validateRequest(v.authToken, v.signature, v.url, v.params!), true);
    const u = new URL(v.url);
    const publicUrl = u.origin + u.pathname;
    const ver = twilioVerifier({ secrets: [v.authToken], publicUrl });
    const body = new URLSearchParams(v.params!).toString();
    const headers = { [v.header]: v.signature, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    assert.deepEqual(ver.verify(signedReq(headers, body, u.search), 0), { id: undefined });
    // Parameter order in the body does not matter: Twilio sorts them.
    const reversed = new URLSearchParams(Object.entries(v.params!).reverse()).toString();
    ver.verify(signedReq(headers, reversed, u.search), 0);
    expectVerifyCode(() => ver.verify(signedReq(headers, body.replace('1234', '1235'), u.search), 0), 'HG_SIGNATURE_INVALID');
    expectVerifyCode(() => ver.verify(signedReq(headers, body, '?foo=1&bar=3'), 0), 'HG_SIGNATURE_INVALID');
  });

  it('twilio JSON body (bodySHA256)', () => {
    const v = V.twilio[1]!;
    assert.equal(twilio.validateRequestWithBody(v.authToken, v.signature, v.url, v.body!), true);
    const u = new URL(v.url);
    const ver = twilioVerifier({ secrets: [v.authToken], publicUrl: u.origin + u.pathname });
    const headers = { [v.header]: v.signature, 'content-type': 'application/json' };
    ver.verify(signedReq(headers, v.body!, u.search), 0);
    // The URL is still signed, but the body no longer matches its hash.
    expectVerifyCode(() => ver.verify(signedReq(headers, REENCODED, u.search), 0), 'HG_SIGNATURE_INVALID');
    expectVerifyCode(() => ver.verify(signedReq(headers, JSON.stringify(JSON.parse(v.body!)), u.search), 0), 'HG_SIGNATURE_INVALID');
  });
});

// ---------------------------------------------------------------------------------------------
// End to end through the plugin, with fresh signatures from the providers' own libraries.

describe('standard-webhooks / svix (plugin)', () => {
  const secret = 'whsec_' + Buffer.from('a-32-byte-secret-for-the-tests!!').toString('base64');
  const oldSecret = 'whsec_' + Buffer.from('the previous secret, rotated out').toString('base64');
  const wh = new Webhook(secret);
  const headersFor = (id: string, body: string, at = new Date(), prefix = 'webhook') => ({
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(Math.floor(at.getTime() / 1000)),
    [`${prefix}-signature`]: wh.sign(id, at, body),
  });

  it('accepts a fresh signature, with rotated secrets', async () => {
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [oldSecret, secret] });
    await expectPass(p, makeCtx({ headers: headersFor('msg_1', JSON_BODY), body: JSON_BODY }));
  });

  it('rejects wrong secret, tampered body, tampered timestamp, re-encoded JSON', async () => {
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [secret], dedupe: false });
    const wrong = await makePlugin({ preset: 'standard-webhooks', secrets: [oldSecret] });
    const h = headersFor('msg_2', JSON_BODY);
    await expectCode(wrong, makeCtx({ headers: h, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: h, body: JSON_BODY.replace('1200', '1201') }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: h, body: REENCODED }), 'HG_SIGNATURE_INVALID');
    const ts = { ...h, 'webhook-timestamp': String(Number(h['webhook-timestamp']) + 1) };
    await expectCode(p, makeCtx({ headers: ts, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    const otherId = { ...h, 'webhook-id': 'msg_3' };
    await expectCode(p, makeCtx({ headers: otherId, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    await expectPass(p, makeCtx({ headers: h, body: JSON_BODY }));
  });

  it('rejects stale and future timestamps, honours toleranceSec', async () => {
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [secret] });
    const stale = new Date(Date.now() - 301_000);
    const future = new Date(Date.now() + 301_000);
    await expectCode(p, makeCtx({ headers: headersFor('msg_s', JSON_BODY, stale), body: JSON_BODY }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    await expectCode(p, makeCtx({ headers: headersFor('msg_f', JSON_BODY, future), body: JSON_BODY }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    const wide = await makePlugin({ preset: 'standard-webhooks', secrets: [secret], toleranceSec: 600 });
    await expectPass(wide, makeCtx({ headers: headersFor('msg_w', JSON_BODY, stale), body: JSON_BODY }));
  });

  it('missing or malformed headers are HG_SIGNATURE_MISSING', async () => {
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [secret] });
    const h = headersFor('msg_m', JSON_BODY);
    for (const drop of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const partial = { ...h };
      delete partial[drop];
      await expectCode(p, makeCtx({ headers: partial, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    }
    await expectCode(p, makeCtx({ headers: { ...h, 'webhook-timestamp': 'soon' }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    await expectCode(p, makeCtx({ headers: { ...h, 'webhook-signature': 'garbage' }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    await expectCode(p, makeCtx({ body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
  });

  it('decoy signature lists: many wrong entries fail, one right entry among them passes', async () => {
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [secret], dedupe: false });
    const h = headersFor('msg_d', JSON_BODY);
    const decoys = Array.from({ length: 50 }, (_, i) => `v1,${randomB64Sig(i)}`);
    const v1a = `v1a,${Buffer.alloc(64, 7).toString('base64')}`;
    await expectCode(p, makeCtx({ headers: { ...h, 'webhook-signature': [...decoys, v1a].join(' ') }, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    const mixed = [...decoys.slice(0, 25), h['webhook-signature']!, ...decoys.slice(25)].join(' ');
    await expectPass(p, makeCtx({ headers: { ...h, 'webhook-signature': mixed }, body: JSON_BODY }));
  });

  it('verifies ed25519 (v1a) against publicKeys', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const x = publicKey.export({ format: 'jwk' }).x!;
    const whpk = 'whpk_' + Buffer.from(x, 'base64url').toString('base64');
    const p = await makePlugin({ preset: 'standard-webhooks', publicKeys: [whpk] });
    const id = 'msg_ed';
    const ts = String(nowSec());
    const sig = edSign(null, Buffer.from(`${id}.${ts}.${JSON_BODY}`), privateKey).toString('base64');
    const headers = { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${randomB64Sig(0)} v1a,${sig}` };
    await expectPass(p, makeCtx({ headers, body: JSON_BODY }));
    await expectCode(p, makeCtx({ headers, body: REENCODED }), 'HG_SIGNATURE_INVALID');
  });

  it('svix reads svix-* headers and falls back to webhook-*', async () => {
    const p = await makePlugin({ preset: 'svix', secrets: [secret] });
    await expectPass(p, makeCtx({ headers: headersFor('msg_sv1', JSON_BODY, new Date(), 'svix'), body: JSON_BODY }));
    await expectPass(p, makeCtx({ headers: headersFor('msg_sv2', JSON_BODY), body: JSON_BODY }));
    await expectCode(p, makeCtx({ headers: { ...headersFor('msg_sv3', JSON_BODY, new Date(), 'svix'), 'svix-id': 'msg_other' }, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
  });
});

describe('stripe (plugin)', () => {
  const secret = 'whsec_test_stripe_secret_123';
  const rotated = 'whsec_test_stripe_secret_old';
  const payload = '{\n  "id": "evt_1NG8Du2eZvKYlo2C",\n  "object": "event",\n  "type": "invoice.paid"\n}';
  const header = (opts: { payload?: string; secret?: string; timestamp?: number } = {}) =>
    Stripe.webhooks.generateTestHeaderString({ payload: opts.payload ?? payload, secret: opts.secret ?? secret, timestamp: opts.timestamp ?? nowSec() });

  it('accepts a fresh signature and reads the event id from the body', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'stripe', secrets: [rotated, secret] }, { store });
    const ctx = makeCtx({ headers: { 'Stripe-Signature': header() }, body: payload });
    await expectPass(p, ctx);
    assert.equal((ctx.state['verify-signature'] as { id?: string }).id, 'evt_1NG8Du2eZvKYlo2C');
    assert.equal(await store.get('vs:hooks:stripe:evt_1NG8Du2eZvKYlo2C'), 'inflight');
  });

  it('rejects wrong secret, tampered body/timestamp, re-encoded JSON, stale and future', async () => {
    const p = await makePlugin({ preset: 'stripe', secrets: [secret], dedupe: false });
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': header({ secret: rotated }) }, body: payload }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': header() }, body: payload.replace('paid', 'void') }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': header() }, body: JSON.stringify(JSON.parse(payload)) }), 'HG_SIGNATURE_INVALID');
    const h = header();
    const t = Number(/t=(\d+)/.exec(h)![1]);
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': h.replace(`t=${t}`, `t=${t + 1}`) }, body: payload }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': header({ timestamp: nowSec() - 301 }) }, body: payload }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': header({ timestamp: nowSec() + 301 }) }, body: payload }), 'HG_TIMESTAMP_OUT_OF_RANGE');
  });

  it('missing or malformed header; v0-only is not accepted', async () => {
    const p = await makePlugin({ preset: 'stripe', secrets: [secret] });
    await expectCode(p, makeCtx({ body: payload }), 'HG_SIGNATURE_MISSING');
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': 'nonsense' }, body: payload }), 'HG_SIGNATURE_MISSING');
    const t = nowSec();
    const v0 = hmacHex(secret, `${t}.${payload}`);
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': `t=${t},v0=${v0}` }, body: payload }), 'HG_SIGNATURE_MISSING');
  });

  it('several v1 entries: decoys fail, one right among them passes', async () => {
    const p = await makePlugin({ preset: 'stripe', secrets: [secret], dedupe: false });
    const t = nowSec();
    const decoys = Array.from({ length: 40 }, (_, i) => `v1=${randomHexSig(i)}`);
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': [`t=${t}`, ...decoys].join(',') }, body: payload }), 'HG_SIGNATURE_INVALID');
    const right = /v1=([0-9a-f]+)/.exec(header({ timestamp: t }))![1];
    const list = [`t=${t}`, ...decoys.slice(0, 20), `v1=${right}`, ...decoys.slice(20)].join(',');
    await expectPass(p, makeCtx({ headers: { 'stripe-signature': list }, body: payload }));
  });

  it('a non-JSON body has no id: passes without dedupe', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'stripe', secrets: [secret] }, { store });
    const body = 'not json';
    const ctx = makeCtx({ headers: { 'stripe-signature': header({ payload: body }) }, body });
    await expectPass(p, ctx);
    await expectPass(p, makeCtx({ headers: { 'stripe-signature': header({ payload: body }) }, body }));
  });
});

describe('github (plugin)', () => {
  const secret = 'gh-webhook-secret';
  it('accepts octokit signatures; rejects wrong secret, tampering, re-encoding, missing', async () => {
    const p = await makePlugin({ preset: 'github', secrets: ['old', secret], dedupe: false });
    const sig = await octokitSign(secret, JSON_BODY);
    await expectPass(p, makeCtx({ headers: { 'X-Hub-Signature-256': sig, 'X-GitHub-Delivery': 'g-1' }, body: JSON_BODY }));
    await expectPass(p, makeCtx({ headers: { 'X-Hub-Signature-256': sig.toUpperCase().replace('SHA256=', 'sha256=') }, body: JSON_BODY }));
    await expectCode(p, makeCtx({ headers: { 'X-Hub-Signature-256': await octokitSign('nope', JSON_BODY) }, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'X-Hub-Signature-256': sig }, body: JSON_BODY + '\n' }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'X-Hub-Signature-256': sig }, body: REENCODED }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    await expectCode(p, makeCtx({ headers: { 'X-Hub-Signature-256': sig.slice(7) }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    // The legacy SHA-1 header alone is not enough.
    const sha1 = 'sha1=' + createHmac('sha1', secret).update(JSON_BODY).digest('hex');
    await expectCode(p, makeCtx({ headers: { 'X-Hub-Signature': sha1 }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    await assert.rejects(async () => makePlugin({ preset: 'github', secrets: [] }), /secrets must not be empty/);
  });
});

describe('shopify (plugin)', () => {
  const secret = 'shpss_secret';
  it('accepts a valid HMAC; rejects wrong secret, tampering, re-encoding, missing', async () => {
    const p = await makePlugin({ preset: 'shopify', secrets: [secret], dedupe: false });
    const sig = hmacB64(secret, JSON_BODY);
    await expectPass(p, makeCtx({ headers: { 'X-Shopify-Hmac-Sha256': sig, 'X-Shopify-Webhook-Id': 's-1' }, body: JSON_BODY }));
    await expectCode(p, makeCtx({ headers: { 'X-Shopify-Hmac-Sha256': hmacB64('x', JSON_BODY) }, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'X-Shopify-Hmac-Sha256': sig }, body: JSON_BODY.replace('1200', '12') }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'X-Shopify-Hmac-Sha256': sig }, body: REENCODED }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    await expectCode(p, makeCtx({ headers: { 'X-Shopify-Hmac-Sha256': 'not base64!' }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
  });
});

describe('slack (plugin)', () => {
  const secret = 'slack-signing-secret';
  const headers = (body: string, ts = nowSec(), key = secret) => ({
    'X-Slack-Request-Timestamp': String(ts),
    'X-Slack-Signature': 'v0=' + hmacHex(key, `v0:${ts}:${body}`),
  });
  const body = 'token=abc&team_id=T1&text=hello+world';
  it('accepts a fresh signature; rejects wrong secret, tampered body/timestamp, stale, future, missing', async () => {
    const p = await makePlugin({ preset: 'slack', secrets: [secret] });
    await expectPass(p, makeCtx({ headers: headers(body), body }));
    await expectCode(p, makeCtx({ headers: headers(body, nowSec(), 'other'), body }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: headers(body), body: body + 'x' }), 'HG_SIGNATURE_INVALID');
    const h = headers(body);
    await expectCode(p, makeCtx({ headers: { ...h, 'X-Slack-Request-Timestamp': String(nowSec() - 1) }, body }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: headers(body, nowSec() - 301), body }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    await expectCode(p, makeCtx({ headers: headers(body, nowSec() + 301), body }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    await expectCode(p, makeCtx({ headers: { 'X-Slack-Signature': h['X-Slack-Signature'] }, body }), 'HG_SIGNATURE_MISSING');
    await expectCode(p, makeCtx({ headers: { 'X-Slack-Request-Timestamp': h['X-Slack-Request-Timestamp'] }, body }), 'HG_SIGNATURE_MISSING');
    // No id: the same valid request is not deduplicated (the timestamp bounds replays).
    await expectPass(p, makeCtx({ headers: h, body }));
  });
});

describe('twilio (plugin)', () => {
  const token = 'twilio-auth-token';
  const publicUrl = 'https://hooks.example.test/twilio/sms';
  const params = { From: '+15005550006', To: '+15005550001', Body: 'Hello & welcome', MessageSid: 'SM123' };
  const formBody = new URLSearchParams(params).toString();
  const form = 'application/x-www-form-urlencoded';

  it('form body: signature over URL + sorted params (twilio-node oracle)', async () => {
    const p = await makePlugin({ preset: 'twilio', secrets: [token], dedupe: false }, { publicUrl });
    const search = '?tenant=acme';
    const sig = twilio.getExpectedTwilioSignature(token, publicUrl + search, params);
    assert.equal(twilio.validateRequest(token, sig, publicUrl + search, params), true);
    await expectPass(p, makeCtx({ headers: { 'X-Twilio-Signature': sig, 'content-type': form }, body: formBody, search }));
    await expectCode(p, makeCtx({ headers: { 'X-Twilio-Signature': sig, 'content-type': form }, body: formBody, search: '?tenant=evil' }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'X-Twilio-Signature': sig, 'content-type': form }, body: formBody + '&Extra=1', search }), 'HG_SIGNATURE_INVALID');
    const wrong = twilio.getExpectedTwilioSignature('other', publicUrl + search, params);
    await expectCode(p, makeCtx({ headers: { 'X-Twilio-Signature': wrong, 'content-type': form }, body: formBody, search }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { 'content-type': form }, body: formBody, search }), 'HG_SIGNATURE_MISSING');
    // The same bytes declared as something else are not covered by the signature.
    await expectCode(p, makeCtx({ headers: { 'X-Twilio-Signature': sig, 'content-type': 'text/plain' }, body: formBody, search }), 'HG_SIGNATURE_INVALID');
  });

  it('repeated form keys and the default port variant', async () => {
    const p = await makePlugin({ preset: 'twilio', secrets: [token], dedupe: false }, { publicUrl });
    const multi = { To: '+1', Media: ['b', 'a'] };
    const body = 'To=%2B1&Media=b&Media=a';
    const sig = twilio.getExpectedTwilioSignature(token, 'https://hooks.example.test:443/twilio/sms', multi);
    await expectPass(p, makeCtx({ headers: { 'X-Twilio-Signature': sig, 'content-type': form }, body }));
  });

  it('JSON body: bodySHA256 in the URL; publicUrl param overrides the route', async () => {
    const override = 'https://public.example.test/tw';
    const p = await makePlugin({ preset: 'twilio', secrets: [token], publicUrl: override }, { publicUrl });
    const body = '{"event": "call.completed", "sid": "CA1"}';
    const search = '?bodySHA256=' + createHash('sha256').update(body).digest('hex');
    const sig = twilio.getExpectedTwilioSignature(token, override + search, {});
    assert.equal(twilio.validateRequestWithBody(token, sig, override + search, body), true);
    const headers = { 'X-Twilio-Signature': sig, 'content-type': 'application/json', 'I-Twilio-Idempotency-Token': 'idem-1' };
    const ctx = makeCtx({ headers, body, search });
    await expectPass(p, ctx);
    assert.equal((ctx.state['verify-signature'] as { id?: string }).id, 'idem-1');
    await expectCode(p, makeCtx({ headers: { ...headers, 'I-Twilio-Idempotency-Token': 'idem-2' }, body: REENCODED, search }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers, body: JSON.stringify(JSON.parse(body)), search }), 'HG_SIGNATURE_INVALID');
    // Without bodySHA256 a JSON body is not covered: rejected even if the URL signature is right.
    const urlOnly = twilio.getExpectedTwilioSignature(token, override, {});
    await expectCode(p, makeCtx({ headers: { ...headers, 'X-Twilio-Signature': urlOnly, 'I-Twilio-Idempotency-Token': 'idem-3' }, body }), 'HG_SIGNATURE_INVALID');
  });
});

describe('hmac (generic, plugin)', () => {
  it('header + prefix + template with timestamp and id', async () => {
    const secret = 'generic-secret';
    const p = await makePlugin({
      preset: 'hmac',
      secrets: [secret],
      header: 'X-Acme-Signature',
      prefix: 'sha256=',
      template: '{id}:{timestamp}:{body}',
      timestampHeader: 'X-Acme-Timestamp',
      idHeader: 'X-Acme-Id',
    });
    const mk = (id: string, ts: number, body: string, key = secret) => ({
      'X-Acme-Id': id,
      'X-Acme-Timestamp': String(ts),
      'X-Acme-Signature': 'sha256=' + hmacHex(key, `${id}:${ts}:${body}`),
    });
    await expectPass(p, makeCtx({ headers: mk('a-1', nowSec(), JSON_BODY), body: JSON_BODY }));
    await expectCode(p, makeCtx({ headers: mk('a-2', nowSec(), JSON_BODY, 'x'), body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: mk('a-3', nowSec(), JSON_BODY), body: REENCODED }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: { ...mk('a-4', nowSec(), JSON_BODY), 'X-Acme-Timestamp': String(nowSec() + 1) }, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: mk('a-5', nowSec() - 301, JSON_BODY), body: JSON_BODY }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    await expectCode(p, makeCtx({ headers: mk('a-6', nowSec() + 301, JSON_BODY), body: JSON_BODY }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    const h = mk('a-7', nowSec(), JSON_BODY);
    await expectCode(p, makeCtx({ headers: { ...h, 'X-Acme-Signature': h['X-Acme-Signature']!.slice(7) }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    await expectCode(p, makeCtx({ headers: { 'X-Acme-Signature': h['X-Acme-Signature']!, 'X-Acme-Id': 'a-7' }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
    // The id is part of the signed content and is used for dedupe.
    await expectPass(p, makeCtx({ headers: h, body: JSON_BODY }));
    const second = await run(p, makeCtx({ headers: h, body: JSON_BODY }));
    assert.equal(second.code, 'HG_DUPLICATE_IN_FLIGHT');
  });

  it('sha512 base64 over {url}{body}, and sha1 hex with defaults', async () => {
    const publicUrl = 'https://hooks.example.test/acme';
    const p = await makePlugin({ preset: 'hmac', secrets: ['k'], header: 'x-sig', algorithm: 'sha512', encoding: 'base64', template: '{url}{body}' }, { publicUrl });
    const sig = createHmac('sha512', 'k').update(publicUrl + '?a=1' + JSON_BODY).digest('base64');
    await expectPass(p, makeCtx({ headers: { 'x-sig': sig }, body: JSON_BODY, search: '?a=1' }));
    await expectCode(p, makeCtx({ headers: { 'x-sig': sig }, body: JSON_BODY, search: '?a=2' }), 'HG_SIGNATURE_INVALID');
    const q = await makePlugin({ preset: 'hmac', secrets: ['k'], header: 'x-hub-signature', algorithm: 'sha1', prefix: 'sha1=' });
    const sha1 = 'sha1=' + createHmac('sha1', 'k').update(JSON_BODY).digest('hex');
    await expectPass(q, makeCtx({ headers: { 'x-hub-signature': sha1 }, body: JSON_BODY }));
    await expectCode(q, makeCtx({ headers: { 'x-hub-signature': sha1 + '00' }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
  });
});

// ---------------------------------------------------------------------------------------------
// Dedupe

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

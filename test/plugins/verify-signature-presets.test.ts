// End to end through the plugin, with fresh signatures from the providers' own libraries.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, sign as edSign } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import twilio from 'twilio';

import { MemoryStore } from '../../gateway/store/memory.js';
import {
  expectCode,
  expectPass,
  hmacB64,
  hmacHex,
  JSON_BODY,
  makeCtx,
  makePlugin,
  nowSec,
  randomB64Sig,
  randomHexSig,
  REENCODED,
  run,
} from '../support/signing.js';

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

  it('decoy signature lists: wrong entries fail, one right entry among them passes, more than 16 is malformed', async () => {
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [secret], dedupe: false });
    const h = headersFor('msg_d', JSON_BODY);
    const decoys = Array.from({ length: 14 }, (_, i) => `v1,${randomB64Sig(i)}`);
    const v1a = `v1a,${Buffer.alloc(64, 7).toString('base64')}`;
    await expectCode(p, makeCtx({ headers: { ...h, 'webhook-signature': [...decoys, v1a].join(' ') }, body: JSON_BODY }), 'HG_SIGNATURE_INVALID');
    const mixed = [...decoys.slice(0, 7), h['webhook-signature']!, ...decoys.slice(7), v1a].join(' ');
    await expectPass(p, makeCtx({ headers: { ...h, 'webhook-signature': mixed }, body: JSON_BODY }));
    // 17 entries (unparseable ones count too): refused before any is checked, even with the right one.
    const long = [h['webhook-signature']!, ...decoys, 'junk', v1a].join(' ');
    await expectCode(p, makeCtx({ headers: { ...h, 'webhook-signature': long }, body: JSON_BODY }), 'HG_SIGNATURE_MISSING');
  });

  it('more than 4 v1a (ed25519) entries are refused, even beside a matching v1', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const whpk = 'whpk_' + Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64');
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [secret], publicKeys: [whpk], dedupe: false });
    const h = headersFor('msg_ed_cap', JSON_BODY);
    const good = `v1a,${edSign(null, Buffer.from(`msg_ed_cap.${h['webhook-timestamp']}.${JSON_BODY}`), privateKey).toString('base64')}`;
    const bad = (i: number) => `v1a,${Buffer.alloc(64, i).toString('base64')}`;
    const sig = (...entries: string[]) => ({ headers: { ...h, 'webhook-signature': entries.join(' ') }, body: JSON_BODY });
    await expectPass(p, makeCtx(sig(bad(1), bad(2), bad(3), good)));
    await expectCode(p, makeCtx(sig(bad(1), bad(2), bad(3), bad(4), good)), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx(sig(h['webhook-signature']!, bad(1), bad(2), bad(3), bad(4), bad(5))), 'HG_SIGNATURE_INVALID');
    await expectPass(p, makeCtx(sig(h['webhook-signature']!, bad(1), bad(2), bad(3), bad(4))));
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
    const decoys = Array.from({ length: 14 }, (_, i) => `v1=${randomHexSig(i)}`);
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': [`t=${t}`, ...decoys].join(',') }, body: payload }), 'HG_SIGNATURE_INVALID');
    const right = /v1=([0-9a-f]+)/.exec(header({ timestamp: t }))![1];
    const list = [`t=${t}`, ...decoys.slice(0, 7), `v1=${right}`, ...decoys.slice(7)].join(',');
    await expectPass(p, makeCtx({ headers: { 'stripe-signature': list }, body: payload }));
    // 17 entries: malformed as a whole, the right one among them or not.
    const long = [`t=${t}`, `v1=${right}`, ...decoys, 'v0=00'].join(',');
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': long }, body: payload }), 'HG_SIGNATURE_MISSING');
  });

  it('a non-JSON body has no id: it is deduplicated by its signature', async () => {
    const store = new MemoryStore();
    const p = await makePlugin({ preset: 'stripe', secrets: [secret] }, { store });
    const body = 'not json';
    const t = nowSec();
    await expectPass(p, makeCtx({ headers: { 'stripe-signature': header({ payload: body, timestamp: t }) }, body }));
    await expectCode(p, makeCtx({ headers: { 'stripe-signature': header({ payload: body, timestamp: t }) }, body }), 'HG_DUPLICATE_IN_FLIGHT');
    // Another timestamp is another signature, so another message (there is no id to tie them).
    await expectPass(p, makeCtx({ headers: { 'stripe-signature': header({ payload: body, timestamp: t - 1 }) }, body }));
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
    const p = await makePlugin({ preset: 'slack', secrets: [secret], dedupe: false });
    await expectPass(p, makeCtx({ headers: headers(body), body }));
    await expectCode(p, makeCtx({ headers: headers(body, nowSec(), 'other'), body }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: headers(body), body: body + 'x' }), 'HG_SIGNATURE_INVALID');
    const h = headers(body);
    await expectCode(p, makeCtx({ headers: { ...h, 'X-Slack-Request-Timestamp': String(nowSec() - 1) }, body }), 'HG_SIGNATURE_INVALID');
    await expectCode(p, makeCtx({ headers: headers(body, nowSec() - 301), body }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    await expectCode(p, makeCtx({ headers: headers(body, nowSec() + 301), body }), 'HG_TIMESTAMP_OUT_OF_RANGE');
    await expectCode(p, makeCtx({ headers: { 'X-Slack-Signature': h['X-Slack-Signature'] }, body }), 'HG_SIGNATURE_MISSING');
    await expectCode(p, makeCtx({ headers: { 'X-Slack-Request-Timestamp': h['X-Slack-Request-Timestamp'] }, body }), 'HG_SIGNATURE_MISSING');
    // No id, but by default the same valid request is deduplicated by its signature (more in verify-signature-dedupe).
    const deduped = await makePlugin({ preset: 'slack', secrets: [secret] });
    await expectPass(deduped, makeCtx({ headers: h, body }));
    await expectCode(deduped, makeCtx({ headers: h, body }), 'HG_DUPLICATE_IN_FLIGHT');
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

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import twilio from 'twilio';

import { safeEqual } from '../../gateway/security/compare.js';
import { MAX_SIGNATURE_ENTRIES, parseStripeSignatureHeader, parseVersionedSignatures } from '../../gateway/security/signature-header.js';
import { checkTimestamp } from '../../gateway/security/timestamp.js';
import { verifySignatureSchema } from '../../plugins/verify-signature/schema.js';
import {
  githubVerifier,
  shopifyVerifier,
  slackVerifier,
  standardWebhooksVerifier,
  svixVerifier,
  twilioVerifier,
} from '../../plugins/verify-signature/schemes/index.js';
import { expectVerifyCode, makePlugin, randomB64Sig, REENCODED, signedReq, V, withDefaults } from '../support/signing.js';

// Shared set-up: test/support/signing.ts. The presets end to end and dedupe have files of their own
// (verify-signature-presets.test.ts, verify-signature-dedupe.test.ts).

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
    // Bounded: 16 entries parse, a 17th makes the whole header unusable (empty parts do not count).
    const entries = (n: number) => Array.from({ length: n }, (_, i) => `v1,s${i}=`);
    assert.equal(parseVersionedSignatures(entries(MAX_SIGNATURE_ENTRIES).join('  ')).length, 16);
    assert.deepEqual(parseVersionedSignatures([...entries(16), 'junk'].join(' ')), []);
    const v1s = Array.from({ length: 15 }, (_, i) => `v1=${i}`);
    assert.equal(parseStripeSignatureHeader(['t=1', ...v1s].join(',,'))?.v1.length, 15);
    assert.equal(parseStripeSignatureHeader(['t=1', ...v1s, 'v0=x'].join(',')), undefined);
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
    // A timestamp outside the signed content could be rewritten by a replayer: refused.
    await assert.rejects(
      async () => makePlugin({ preset: 'hmac', secrets: ['s'], header: 'x', timestampHeader: 'x-ts' }),
      { message: 'verify-signature: timestampHeader is set but the template does not sign {timestamp}' },
    );
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
      // The matched signature comes back as bytes (dedupe keys on them where the id is unsigned).
      const signature = Buffer.from(v.signature.slice(3), 'base64');
      assert.deepEqual(ver.verify(signedReq(headers, body), v.timestamp * 1000), { id: v.id, timestamp: v.timestamp, signature });
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
      assert.deepEqual(ver.verify(signedReq({ [v.header]: v.signature, 'x-github-delivery': 'd-1' }, v.body), 0), {
        id: 'd-1',
        signature: Buffer.from(v.signature.slice('sha256='.length), 'hex'),
      });
      expectVerifyCode(() => githubVerifier({ secrets: ['other'] }).verify(signedReq({ [v.header]: v.signature }, v.body), 0), 'HG_SIGNATURE_INVALID');
    });
  }

  for (const [i, v] of V.slack.entries()) {
    it(`slack #${i}`, () => {
      const headers = { 'x-slack-signature': v.signature, 'x-slack-request-timestamp': String(v.timestamp) };
      const ver = slackVerifier({ secrets: [v.secret] });
      assert.deepEqual(ver.verify(signedReq(headers, v.body), v.timestamp * 1000), { timestamp: v.timestamp, signature: Buffer.from(v.signature.slice(3), 'hex') });
      expectVerifyCode(() => ver.verify(signedReq(headers, v.body), Date.now()), 'HG_TIMESTAMP_OUT_OF_RANGE');
      expectVerifyCode(() => ver.verify(signedReq(headers, v.body + '&x=1'), v.timestamp * 1000), 'HG_SIGNATURE_INVALID');
    });
  }

  for (const [i, v] of V.shopify.entries()) {
    it(`shopify #${i}`, () => {
      const ver = shopifyVerifier({ secrets: [v.secret] });
      assert.deepEqual(ver.verify(signedReq({ [v.header]: v.signature, 'x-shopify-webhook-id': 'w-1' }, v.body), 0), {
        id: 'w-1',
        signature: Buffer.from(v.signature, 'base64'),
      });
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
    assert.deepEqual(ver.verify(signedReq(headers, body, u.search), 0), { signature: Buffer.from(v.signature, 'base64') });
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

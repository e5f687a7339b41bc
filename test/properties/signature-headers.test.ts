// Properties of the signature header parsers (gateway/security/signature-header.ts) and of the
// scheme verifiers (plugins/verify-signature/schemes): total on arbitrary input, bounded, and
// faithful to well-formed headers, including ones the providers' own libraries write.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';

import { GatewayError } from '../../gateway/errors.js';
import { MAX_SIGNATURE_ENTRIES, parseStripeSignatureHeader, parseVersionedSignatures } from '../../gateway/security/signature-header.js';
import { dedupeKey } from '../../plugins/verify-signature/index.js';
import { createVerifier, type SignedRequest, type VerifySignatureParams } from '../../plugins/verify-signature/schemes/index.js';

// HG_PROPERTY_RUNS=5000 explores further locally; the suite keeps each file to a few seconds.
const RUNS = { numRuns: Number(process.env.HG_PROPERTY_RUNS) || 300 };

// Header text as it can arrive: printable Latin-1 with the separators the parsers split on.
const headerChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(' ', ',', '=', 'v', '1', 'a', 't', '0') },
  { weight: 3, arbitrary: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) },
);
const headerText = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 200 }),
  // Many short entries, to cross the entry cap.
  fc.array(fc.string({ unit: headerChar, minLength: 1, maxLength: 6 }), { minLength: 10, maxLength: 60 }).map((a) => a.join(' ')),
  fc.array(fc.string({ unit: headerChar, minLength: 1, maxLength: 6 }), { minLength: 10, maxLength: 60 }).map((a) => a.join(',')),
);
const b64 = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'));
const hex = fc.uint8Array({ minLength: 1, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const spaces = fc.integer({ min: 1, max: 3 }).map((n) => ' '.repeat(n));

describe('parseVersionedSignatures', () => {
  it('never throws; returns at most MAX_SIGNATURE_ENTRIES entries, each a non-empty version and signature without a space', () => {
    fc.assert(
      fc.property(fc.option(headerText, { nil: undefined }), (h) => {
        const out = parseVersionedSignatures(h);
        assert.ok(out.length <= MAX_SIGNATURE_ENTRIES);
        for (const e of out) {
          assert.ok(e.version.length > 0 && !/[ ,]/.test(e.version), JSON.stringify(e));
          assert.ok(e.signature.length > 0 && !e.signature.includes(' '), JSON.stringify(e));
        }
      }),
      RUNS,
    );
  });

  it('round-trips well-formed headers of up to 16 entries, whatever the spacing; more is refused whole', () => {
    const entry = fc.record({ version: fc.constantFrom('v1', 'v1a', 'v2'), signature: b64 });
    // Lengths on both sides of the cap (fast-check favours short arrays otherwise).
    const lists = fc.oneof(
      fc.array(fc.tuple(entry, spaces), { minLength: 1, maxLength: MAX_SIGNATURE_ENTRIES }),
      fc.array(fc.tuple(entry, spaces), { minLength: MAX_SIGNATURE_ENTRIES + 1, maxLength: 40 }),
    );
    fc.assert(
      fc.property(lists, spaces, (list, lead) => {
        const header = lead + list.map(([e, sp]) => `${e.version},${e.signature}${sp}`).join('');
        const expected = list.map(([e]) => ({ version: e.version, signature: e.signature }));
        assert.deepEqual(parseVersionedSignatures(header), expected.length <= MAX_SIGNATURE_ENTRIES ? expected : []);
      }),
      RUNS,
    );
  });
});

describe('parseStripeSignatureHeader', () => {
  it('never throws; a result has an integer timestamp and at most MAX_SIGNATURE_ENTRIES - 1 non-empty v1 entries', () => {
    fc.assert(
      fc.property(fc.option(headerText, { nil: undefined }), (h) => {
        const out = parseStripeSignatureHeader(h);
        if (!out) return;
        assert.ok(Number.isSafeInteger(out.timestamp) && out.timestamp >= 0);
        assert.ok(out.v1.length >= 1 && out.v1.length < MAX_SIGNATURE_ENTRIES);
        for (const s of out.v1) assert.ok(s.length > 0 && s === s.trim() && !s.includes(','));
      }),
      RUNS,
    );
  });

  it('round-trips t= plus v1 (and ignored v0) entries in any order', () => {
    const part = fc.oneof(hex.map((v) => ({ k: 'v1', v })), hex.map((v) => ({ k: 'v0', v })));
    const partLists = fc.oneof(fc.array(part, { minLength: 1, maxLength: MAX_SIGNATURE_ENTRIES - 1 }), fc.array(part, { minLength: MAX_SIGNATURE_ENTRIES, maxLength: 30 }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), partLists, fc.nat(), (t, parts, at) => {
        const list = parts.map((p) => `${p.k}=${p.v}`);
        list.splice(at % (list.length + 1), 0, `t=${t}`);
        const v1 = parts.filter((p) => p.k === 'v1').map((p) => p.v);
        const expected = list.length > MAX_SIGNATURE_ENTRIES || v1.length === 0 ? undefined : { timestamp: t, v1 };
        assert.deepEqual(parseStripeSignatureHeader(list.join(',')), expected);
      }),
      RUNS,
    );
  });
});

describe('scheme verifiers', () => {
  const sw = 'whsec_' + Buffer.from('property-test-secret-32-bytes!!!').toString('base64');
  const PARAMS: VerifySignatureParams[] = [
    { preset: 'standard-webhooks', secrets: [sw] },
    { preset: 'svix', secrets: [sw] },
    { preset: 'stripe', secrets: ['whsec_stripe'] },
    { preset: 'github', secrets: ['gh'] },
    { preset: 'shopify', secrets: ['shop'] },
    { preset: 'slack', secrets: ['sl'] },
    { preset: 'twilio', secrets: ['tw'], publicUrl: 'https://hooks.example.test/tw' },
    { preset: 'hmac', secrets: ['k'], header: 'x-sig', encoding: 'base64', template: '{id}.{timestamp}.{body}', idHeader: 'x-id', timestampHeader: 'x-ts' },
  ];
  const HEADERS = [
    'webhook-id', 'webhook-timestamp', 'webhook-signature', 'svix-id', 'svix-timestamp', 'svix-signature', 'stripe-signature',
    'x-hub-signature-256', 'x-github-delivery', 'x-shopify-hmac-sha256', 'x-slack-signature', 'x-slack-request-timestamp',
    'x-twilio-signature', 'content-type', 'x-sig', 'x-id', 'x-ts',
  ];
  const REFUSALS = new Set(['HG_SIGNATURE_MISSING', 'HG_SIGNATURE_INVALID', 'HG_TIMESTAMP_OUT_OF_RANGE']);
  const headerValue = fc.oneof(headerText, b64, hex, fc.constant('application/x-www-form-urlencoded'), fc.nat().map(String));
  const request = fc.record({
    headers: fc.dictionary(fc.constantFrom(...HEADERS), headerValue, { maxKeys: 8 }),
    body: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
    search: fc.oneof(fc.constant(''), fc.string({ maxLength: 30 }).map((s) => '?' + s)),
  });
  const signed = (r: { headers: Record<string, string>; body: Buffer; search: string }): SignedRequest => ({
    header: (n) => r.headers[n],
    body: r.body,
    search: r.search,
  });

  it('refuse arbitrary requests only with a 401 signature code, never another exception', () => {
    const verifiers = PARAMS.map((p) => createVerifier(p));
    fc.assert(
      fc.property(fc.constantFrom(...verifiers), request, fc.integer({ min: 0, max: 2 ** 42 }), (v, r, now) => {
        try {
          v.verify(signed(r), now);
        } catch (err) {
          assert.ok(err instanceof GatewayError && REFUSALS.has(err.code) && err.status === 401, `${v.preset}: ${String(err)}`);
        }
      }),
      RUNS,
    );
  });

  it('accept what the reference libraries sign (standard-webhooks, Stripe), and the id is the dedupe key', () => {
    const wh = new Webhook(sw);
    const swv = createVerifier({ preset: 'standard-webhooks', secrets: [sw] });
    const stv = createVerifier({ preset: 'stripe', secrets: ['whsec_stripe'] });
    const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
    fc.assert(
      fc.property(id, fc.string({ maxLength: 200 }), fc.integer({ min: 1e9, max: 4e9 }), (msgId, body, t) => {
        const at = new Date(t * 1000);
        const headers: Record<string, string> = { 'webhook-id': msgId, 'webhook-timestamp': String(t), 'webhook-signature': wh.sign(msgId, at, body) };
        const got = swv.verify(signed({ headers, body: Buffer.from(body), search: '' }), t * 1000);
        assert.equal(dedupeKey(swv, got), msgId);
        const payload = JSON.stringify({ id: `evt_${msgId}`, body });
        const sh = { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_stripe', timestamp: t }) };
        assert.equal(dedupeKey(stv, stv.verify(signed({ headers: sh, body: Buffer.from(payload), search: '' }), t * 1000)), `evt_${msgId}`);
      }),
      { numRuns: 200 },
    );
  });

  it('github: the dedupe key follows the signed body, never the unsigned delivery id', () => {
    const gh = createVerifier({ preset: 'github', secrets: ['gh'] });
    const ghReq = (body: string, delivery: string) =>
      signed({ headers: { 'x-hub-signature-256': 'sha256=' + createHmac('sha256', 'gh').update(body).digest('hex'), 'x-github-delivery': delivery }, body: Buffer.from(body), search: '' });
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), fc.string({ maxLength: 100 }), fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b, d1, d2) => {
        const ka = dedupeKey(gh, gh.verify(ghReq(a, d1), 0));
        assert.equal(dedupeKey(gh, gh.verify(ghReq(a, d2), 0)), ka);
        assert.ok(ka.startsWith('sig:'));
        if (a !== b) assert.notEqual(dedupeKey(gh, gh.verify(ghReq(b, d1), 0)), ka);
      }),
      { numRuns: 200 },
    );
  });
});

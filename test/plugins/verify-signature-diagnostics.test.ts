// Every refusal reason of verify-signature, with the providers' own libraries signing; then end to
// end: the diagnosis header only with `diagnostics: true`, the counter, and no secret anywhere.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import twilio from 'twilio';

import { GatewayError } from '../../gateway/errors.js';
import type { PluginInstance } from '../../gateway/plugin.js';
import { DIAGNOSIS_HEADER } from '../../plugins/verify-signature/index.js';
import { REENCODE_MAX_BYTES, reencodings, secretFormatWarnings } from '../../plugins/verify-signature/diagnostics.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { JSON_BODY, makeCtx, makePlugin, nowSec, REENCODED, type ReqOpts } from '../support/signing.js';

/** Runs onRequest, expecting a refusal; returns the GatewayError. */
async function refusal(p: PluginInstance, o: ReqOpts): Promise<GatewayError> {
  try {
    await p.onRequest!(makeCtx(o));
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err;
  }
  assert.fail('expected a refusal, the request passed');
}

/** The refusal's reason, checked to be the diagnosis header too (the plugins here set diagnostics: true). */
async function reasonOf(p: PluginInstance, o: ReqOpts): Promise<string | undefined> {
  const err = await refusal(p, o);
  assert.equal(err.headers?.[DIAGNOSIS_HEADER], err.reason, 'the header says what the log says');
  return err.reason;
}

const PRETTY = JSON.stringify(JSON.parse(JSON_BODY), null, 2);

describe('refusal reasons, signed by the providers\' libraries', () => {
  it('standard-webhooks (standardwebhooks): every reason', async () => {
    const secret = 'whsec_' + Buffer.from('a-32-byte-secret-for-diagnostics').toString('base64');
    const wh = new Webhook(secret);
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [secret], diagnostics: true, dedupe: false });
    const headers = (body: string, at = new Date(), signer = wh) => ({
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signer.sign('msg_1', at, body),
    });
    assert.equal(await reasonOf(p, { body: JSON_BODY }), 'no-signature-header');
    assert.equal(await reasonOf(p, { headers: { ...headers(JSON_BODY), 'webhook-signature': 'garbage' }, body: JSON_BODY }), 'malformed-header');
    assert.equal(await reasonOf(p, { headers: { ...headers(JSON_BODY), 'webhook-timestamp': 'soon' }, body: JSON_BODY }), 'malformed-header');
    assert.equal(await reasonOf(p, { headers: headers(JSON_BODY, new Date(Date.now() - 301_000)), body: JSON_BODY }), 'timestamp-too-old');
    assert.equal(await reasonOf(p, { headers: headers(JSON_BODY, new Date(Date.now() + 301_000)), body: JSON_BODY }), 'timestamp-in-future');
    const other = new Webhook('whsec_' + Buffer.from('another secret, not configured!!').toString('base64'));
    assert.equal(await reasonOf(p, { headers: headers(JSON_BODY, new Date(), other), body: JSON_BODY }), 'no-secret-matched');
    // Signed compact, received with other whitespace (and the reverse, pretty-printed): re-encoded on the way.
    assert.equal(await reasonOf(p, { headers: headers(REENCODED), body: JSON_BODY }), 'body-changed-after-signing');
    assert.equal(await reasonOf(p, { headers: headers(PRETTY), body: REENCODED }), 'body-changed-after-signing');
    // A changed value is not a re-encoding.
    assert.equal(await reasonOf(p, { headers: headers(REENCODED), body: REENCODED.replace('1200', '1201') }), 'no-secret-matched');
    // An old signature over a re-encoded body: still the body, whatever the clock says.
    assert.equal(await reasonOf(p, { headers: headers(REENCODED, new Date(Date.now() - 301_000)), body: JSON_BODY }), 'body-changed-after-signing');
  });

  it('standard-webhooks: a secret without whsec_ that the sender used as the key text is secret-format', async () => {
    const raw = 'plainTextSecret0123';
    const sender = new Webhook(raw, { format: 'raw' });
    const p = await makePlugin({ preset: 'standard-webhooks', secrets: [raw], diagnostics: true, dedupe: false });
    const at = new Date();
    const h = { 'webhook-id': 'msg_r', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': sender.sign('msg_r', at, JSON_BODY) };
    assert.equal(await reasonOf(p, { headers: h, body: JSON_BODY }), 'secret-format');
    const svix = await makePlugin({ preset: 'svix', secrets: [raw], diagnostics: true, dedupe: false });
    const sh = { 'svix-id': 'msg_r', 'svix-timestamp': h['webhook-timestamp'], 'svix-signature': h['webhook-signature'] };
    assert.equal(await reasonOf(svix, { headers: sh, body: JSON_BODY }), 'secret-format');
  });

  it('stripe (stripe-node): every reason but secret-format (the whole whsec_ string is its key)', async () => {
    const secret = 'whsec_stripe_diagnostics_secret';
    const p = await makePlugin({ preset: 'stripe', secrets: [secret], diagnostics: true, dedupe: false });
    const sig = (payload: string, timestamp = nowSec(), key = secret) => ({ 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: key, timestamp }) });
    assert.equal(await reasonOf(p, { body: JSON_BODY }), 'no-signature-header');
    assert.equal(await reasonOf(p, { headers: { 'stripe-signature': 't=soon,v0=abc' }, body: JSON_BODY }), 'malformed-header');
    assert.equal(await reasonOf(p, { headers: sig(JSON_BODY, nowSec() - 301), body: JSON_BODY }), 'timestamp-too-old');
    assert.equal(await reasonOf(p, { headers: sig(JSON_BODY, nowSec() + 301), body: JSON_BODY }), 'timestamp-in-future');
    assert.equal(await reasonOf(p, { headers: sig(JSON_BODY, nowSec(), 'whsec_other'), body: JSON_BODY }), 'no-secret-matched');
    assert.equal(await reasonOf(p, { headers: sig(PRETTY), body: JSON_BODY }), 'body-changed-after-signing');
  });

  it('github (@octokit/webhooks-methods): every reason it can have, and a whsec_ secret', async () => {
    const secret = 'github-diagnostics-secret';
    const p = await makePlugin({ preset: 'github', secrets: [secret], diagnostics: true, dedupe: false });
    const h = async (body: string, key = secret) => ({ 'x-hub-signature-256': await octokitSign(key, body), 'x-github-delivery': 'd-1' });
    assert.equal(await reasonOf(p, { body: JSON_BODY }), 'no-signature-header');
    assert.equal(await reasonOf(p, { headers: { 'x-hub-signature-256': 'sha1=abc' }, body: JSON_BODY }), 'malformed-header');
    assert.equal(await reasonOf(p, { headers: await h(JSON_BODY, 'other'), body: JSON_BODY }), 'no-secret-matched');
    assert.equal(await reasonOf(p, { headers: await h(REENCODED), body: JSON_BODY }), 'body-changed-after-signing');
    // The secret pasted with a whsec_ prefix: GitHub signs with the text after it.
    const pasted = await makePlugin({ preset: 'github', secrets: ['whsec_' + secret], diagnostics: true, dedupe: false });
    assert.equal(await reasonOf(pasted, { headers: await h(JSON_BODY), body: JSON_BODY }), 'secret-format');
  });

  it('hmac / shopify / slack: a whsec_ secret whose sender keys with the decoded bytes is secret-format', async () => {
    const key = Buffer.from('decoded key bytes of a whsec secret');
    const secret = 'whsec_' + key.toString('base64');
    const shopify = await makePlugin({ preset: 'shopify', secrets: [secret], diagnostics: true, dedupe: false });
    const b64 = createHmac('sha256', key).update(JSON_BODY).digest('base64');
    assert.equal(await reasonOf(shopify, { headers: { 'x-shopify-hmac-sha256': b64 }, body: JSON_BODY }), 'secret-format');
    const slack = await makePlugin({ preset: 'slack', secrets: [secret], diagnostics: true, dedupe: false });
    const ts = String(nowSec());
    const v0 = 'v0=' + createHmac('sha256', key).update(`v0:${ts}:${JSON_BODY}`).digest('hex');
    assert.equal(await reasonOf(slack, { headers: { 'x-slack-signature': v0, 'x-slack-request-timestamp': ts }, body: JSON_BODY }), 'secret-format');
    assert.equal(await reasonOf(slack, { headers: { 'x-slack-signature': v0 }, body: JSON_BODY }), 'malformed-header');
  });

  it('twilio (twilio-node): every reason it can have', async () => {
    const token = 'twilio-diagnostics-token';
    const publicUrl = 'https://hooks.example.test/tw';
    const p = await makePlugin({ preset: 'twilio', secrets: [token], diagnostics: true, dedupe: false }, { publicUrl });
    const search = '?bodySHA256=' + createHash('sha256').update(REENCODED).digest('hex');
    const sig = twilio.getExpectedTwilioSignature(token, publicUrl + search, {});
    const json = { 'content-type': 'application/json' };
    assert.equal(await reasonOf(p, { headers: json, body: REENCODED, search }), 'no-signature-header');
    assert.equal(await reasonOf(p, { headers: { ...json, 'x-twilio-signature': '%%%' }, body: REENCODED, search }), 'malformed-header');
    // A JSON body with no bodySHA256 to cover it: the request is not in Twilio's signed shape.
    assert.equal(await reasonOf(p, { headers: { ...json, 'x-twilio-signature': sig }, body: REENCODED }), 'malformed-header');
    const wrong = twilio.getExpectedTwilioSignature('other', publicUrl + search, {});
    assert.equal(await reasonOf(p, { headers: { ...json, 'x-twilio-signature': wrong }, body: REENCODED, search }), 'no-secret-matched');
    // The URL (with the body's hash) is signed right, the body is not the hashed one.
    assert.equal(await reasonOf(p, { headers: { ...json, 'x-twilio-signature': sig }, body: JSON_BODY, search }), 'body-changed-after-signing');
    const pasted = await makePlugin({ preset: 'twilio', secrets: ['whsec_' + token], diagnostics: true, dedupe: false }, { publicUrl });
    assert.equal(await reasonOf(pasted, { headers: { ...json, 'x-twilio-signature': sig }, body: REENCODED, search }), 'secret-format');
  });
});

describe('diagnostics helpers', () => {
  it('without diagnostics: true the reason is logged but no header is added', async () => {
    const p = await makePlugin({ preset: 'github', secrets: ['s'], dedupe: false });
    const err = await refusal(p, { body: JSON_BODY });
    assert.equal(err.reason, 'no-signature-header');
    assert.equal(err.headers?.[DIAGNOSIS_HEADER], undefined);
  });

  it('re-encodings: only JSON under the cap, only the forms that differ', () => {
    assert.deepEqual(reencodings(Buffer.from(REENCODED)).map(String), [PRETTY]);
    assert.deepEqual(reencodings(Buffer.from(JSON_BODY)).map(String), [REENCODED, PRETTY]);
    assert.deepEqual(reencodings(Buffer.from('a=1&b=2')), []);
    assert.deepEqual(reencodings(Buffer.from('{not json')), []);
    const big = Buffer.from(JSON.stringify({ pad: 'x'.repeat(REENCODE_MAX_BYTES) }) + ' ');
    assert.deepEqual(reencodings(big), []);
  });

  it('config warnings name the position, never the secret', () => {
    const w = secretFormatWarnings('github', ['fine', 'whsec_c2VjcmV0LXZhbHVl']);
    assert.equal(w.length, 1);
    assert.match(w[0]!, /^secrets\[1\] starts with "whsec_"/);
    assert.ok(!w[0]!.includes('c2VjcmV0LXZhbHVl'));
    assert.equal(secretFormatWarnings('standard-webhooks', ['whsec_c2VjcmV0', 'c2VjcmV0']).length, 1);
    assert.deepEqual(secretFormatWarnings('stripe', ['whsec_x']), []);
  });
});

describe('end to end: header, counter, and no secret anywhere', () => {
  let g: TestGateway;
  const secret = 'e2e-github-secret-5c1f';
  const pastedKey = Buffer.from('e2e decoded key of a pasted whsec');
  const pasted = 'whsec_' + pastedKey.toString('base64');
  const sign = (key: string | Buffer, body: string) => 'sha256=' + createHmac('sha256', key).update(body).digest('hex');

  before(async () => {
    g = await startGateway(`
routes:
  - name: diag
    path: /diag
    plugins:
      - log: { destination: access.log }
      - verify-signature: { preset: github, secrets: ["${secret}"], diagnostics: true, dedupe: false }
    respond: { status: 200 }
  - name: quiet
    path: /quiet
    plugins:
      - log: { destination: access.log }
      - verify-signature: { preset: github, secrets: ["${secret}"], dedupe: false }
    respond: { status: 200 }
  - name: pasted
    path: /pasted
    plugins:
      - log: { destination: access.log }
      - verify-signature: { preset: github, secrets: ["${pasted}"], diagnostics: true, dedupe: false }
    respond: { status: 200 }
`);
  });
  after(() => g?.stop());

  it('refusals carry the header only where asked, are counted, and leak nothing', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      g.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json', 'x-request-id': `req-${path.slice(1)}-${Math.random().toString(36).slice(2)}`, ...headers } });
    const cases: Array<{ path: string; headers: Record<string, string>; body: string; reason: string }> = [
      { path: '/diag', headers: { 'x-hub-signature-256': sign('wrong', JSON_BODY) }, body: JSON_BODY, reason: 'no-secret-matched' },
      { path: '/diag', headers: { 'x-hub-signature-256': sign(secret, REENCODED) }, body: JSON_BODY, reason: 'body-changed-after-signing' },
      { path: '/diag', headers: {}, body: JSON_BODY, reason: 'no-signature-header' },
      { path: '/quiet', headers: { 'x-hub-signature-256': 'sha256=zz' }, body: JSON_BODY, reason: 'malformed-header' },
      { path: '/pasted', headers: { 'x-hub-signature-256': sign(pastedKey, JSON_BODY) }, body: JSON_BODY, reason: 'secret-format' },
    ];
    const ids: string[] = [];
    const answers: string[] = [];
    for (const c of cases) {
      const r = await post(c.path, c.body, c.headers);
      assert.equal(r.status, 401);
      assert.equal(r.headers[DIAGNOSIS_HEADER], c.path === '/quiet' ? undefined : c.reason, c.path);
      ids.push(String(r.headers['x-request-id']));
      answers.push(JSON.stringify(r.headers) + r.text);
    }
    // A valid request passes and is not counted.
    assert.equal((await post('/diag', JSON_BODY, { 'x-hub-signature-256': sign(secret, JSON_BODY) })).status, 200);

    const logFile = join(g.dir, 'access.log');
    const lines = () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitUntil(() => {
      try {
        return ids.every((id) => lines().some((l) => l.requestId === id));
      } catch {
        return false;
      }
    }, 10_000, 'the access lines of the refusals');
    ids.forEach((id, i) => {
      const line = lines().find((l) => l.requestId === id)!;
      assert.equal(line.reason, cases[i]!.reason, `access line of ${cases[i]!.path}`);
      assert.equal(line.status, 401);
    });

    const m = await g.admin('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /^# TYPE hookgate_signature_failures_total counter$/m);
    assert.match(m.text, /^hookgate_signature_failures_total\{route="diag",reason="no-secret-matched"\} 1$/m);
    assert.match(m.text, /^hookgate_signature_failures_total\{route="diag",reason="body-changed-after-signing"\} 1$/m);
    assert.match(m.text, /^hookgate_signature_failures_total\{route="quiet",reason="malformed-header"\} 1$/m);
    assert.match(m.text, /^hookgate_signature_failures_total\{route="pasted",reason="secret-format"\} 1$/m);

    // The config warning for the pasted secret, by position.
    const warning = g.log.lines.find((l) => l.code === 'HG_SIGNATURE_SECRET_FORMAT');
    assert.ok(warning, 'a config warning for the whsec_ secret on github');
    assert.equal(warning.route, 'pasted');

    // Nothing the gateway wrote holds a secret, a decoded key, or a signature it expected.
    const forbidden = [
      secret,
      pasted,
      pasted.slice('whsec_'.length),
      pastedKey.toString('hex'),
      createHmac('sha256', secret).update(JSON_BODY).digest('hex'),
      createHmac('sha256', pasted).update(JSON_BODY).digest('hex'),
      createHmac('sha256', pastedKey).update(JSON_BODY).digest('hex'),
    ];
    const written = [...answers, readFileSync(logFile, 'utf8'), JSON.stringify(g.log.lines), m.text].join('\n');
    for (const f of forbidden) assert.ok(!written.includes(f), 'a secret or expected signature leaked');
  });

  it('the OpenAPI document mentions the header on the routes that send it', async () => {
    const doc = (await g.admin('GET', '/admin/openapi.json')).json() as { paths: Record<string, Record<string, { description?: string }>> };
    const text = (path: string) => JSON.stringify(doc.paths[path]);
    assert.match(text('/diag'), /Hookgate-Signature-Diagnosis/);
    assert.doesNotMatch(text('/quiet'), /Hookgate-Signature-Diagnosis/);
  });
});

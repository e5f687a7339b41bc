import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import type { Context } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import type { PluginInstance } from '../../gateway/plugin.js';
import { jwtAuthPlugin } from '../../plugins/jwt-auth/index.js';
import { expectRefusal, fakeContext, pluginHarness } from '../support/plugin.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256!';
const now = () => Math.floor(Date.now() / 1000);

const configDir = mkdtempSync(join(tmpdir(), 'hg-jwt-'));
test.after(() => rmSync(configDir, { recursive: true, force: true }));

const { validate, create: make } = pluginHarness(jwtAuthPlugin, { configDir });
const ctxOf = fakeContext;

const bearer = (token: string) => ctxOf({ headers: { authorization: `Bearer ${token}` } });

async function rejects(inst: PluginInstance, ctx: Context, message?: RegExp, wwwAuth = /error="invalid_token"/): Promise<GatewayError> {
  const err = await expectRefusal(inst, ctx, 'HG_AUTH_INVALID', 401);
  assert.match(err.headers?.['www-authenticate'] ?? '', /^Bearer realm="hookgate"/);
  assert.match(err.headers?.['www-authenticate'] ?? '', wwwAuth);
  if (message) assert.match(err.message, message);
  assert.equal(ctx.consumer, undefined);
  return err;
}

const hs = (payload: object, opts: jwt.SignOptions = {}, secret = SECRET) =>
  jwt.sign(payload, secret, { algorithm: 'HS256', ...opts });

test('HS256: a valid token passes and sets the consumer from sub', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  const ctx = bearer(hs({ sub: 'alice' }, { expiresIn: 60 }));
  assert.equal(await inst.onRequest!(ctx), undefined);
  assert.equal(ctx.consumer, 'alice');
  // hideCredentials defaults to false for jwt: the header is forwarded.
  assert.ok(ctx.headers.authorization);
});

test('HS256: wrong secret is rejected and the message does not echo the token', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  const token = hs({ sub: 'alice' }, {}, 'another-secret');
  const err = await rejects(inst, bearer(token), /signature/);
  assert.ok(!err.message.includes(token));
});

test('several secrets: each is tried (rotation)', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: ['old-secret-old-secret', SECRET] });
  const ctx = bearer(hs({ sub: 'bob' }));
  await inst.onRequest!(ctx);
  assert.equal(ctx.consumer, 'bob');
});

test('exp in the past (beyond tolerance) is rejected', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  await rejects(inst, bearer(hs({ sub: 'a', exp: now() - 120 })), /expired/);
});

test('nbf in the future (beyond tolerance) is rejected', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  await rejects(inst, bearer(hs({ sub: 'a', nbf: now() + 120 })), /not yet valid/);
});

test('clock tolerance: default 30s accepts slightly expired / early tokens, 0 does not', async () => {
  const lenient = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  const strict = await make({ algorithms: ['HS256'], secrets: [SECRET], clockToleranceSec: 0 });
  const expired = hs({ sub: 'a', exp: now() - 10 });
  const early = hs({ sub: 'a', nbf: now() + 10 });
  await lenient.onRequest!(bearer(expired));
  await lenient.onRequest!(bearer(early));
  await rejects(strict, bearer(expired), /expired/);
  await rejects(strict, bearer(early), /not yet valid/);
});

test('issuer and audience are checked', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET], issuer: 'https://idp', audience: ['api', 'api2'] });
  const ok = bearer(hs({ sub: 'a', iss: 'https://idp', aud: 'api2' }));
  await inst.onRequest!(ok);
  assert.equal(ok.consumer, 'a');
  await rejects(inst, bearer(hs({ sub: 'a', iss: 'https://evil', aud: 'api' })), /issuer/);
  await rejects(inst, bearer(hs({ sub: 'a', iss: 'https://idp', aud: 'other' })), /audience/);
  await rejects(inst, bearer(hs({ sub: 'a', aud: 'api' })), /issuer/);
});

test('alg none is rejected, with or without a signature part', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const payload = b64({ sub: 'admin' });
  for (const alg of ['none', 'None', 'NONE']) {
    await rejects(inst, bearer(`${b64({ alg, typ: 'JWT' })}.${payload}.`), /unsigned/);
  }
  // A "none" header with a bogus signature must not get through either.
  await rejects(inst, bearer(`${b64({ alg: 'none' })}.${payload}.c2ln`), /unsigned/);
});

test('crit: a correctly signed token with any crit header parameter is rejected (RFC 7515 §4.1.11)', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  const withHeader = (header: Record<string, unknown>) =>
    hs({ sub: 'a' }, { header: { alg: 'HS256', ...header } as unknown as jwt.JwtHeader });
  // The same signing path without crit passes, so the refusals below are about crit alone.
  const plain = bearer(withHeader({ typ: 'JWT' }));
  await inst.onRequest!(plain);
  assert.equal(plain.consumer, 'a');
  const unsupported = /does not support \(crit\)/;
  // An extension we do not understand, present as crit requires.
  await rejects(inst, bearer(withHeader({ crit: ['http://example.test/ext'], 'http://example.test/ext': true })), unsupported);
  // b64 (RFC 7797) changes what is signed: not supported, so refused rather than misread.
  await rejects(inst, bearer(withHeader({ crit: ['b64'], b64: false })), unsupported);
  // A listed name that is absent from the header, or that names a registered claim, is refused too.
  await rejects(inst, bearer(withHeader({ crit: ['exp'] })), unsupported);
  const malformed = /malformed crit/;
  for (const crit of [[], 'b64', ['b64', 7], [''], {}, null, 1]) {
    const err = await rejects(inst, bearer(withHeader({ crit })), malformed);
    assert.ok(!err.message.includes('b64'), 'the message does not echo the header');
  }
  // Unsigned tokens stay refused as unsigned, crit or not.
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  await rejects(inst, bearer(`${b64({ alg: 'none', crit: ['x'] })}.${b64({ sub: 'a' })}.`), /unsigned/);
});

test('an algorithm outside the allowlist is rejected even with the right secret', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  await rejects(inst, bearer(hs({ sub: 'a' }, { algorithm: 'HS512' })), /algorithm not allowed/);
  const both = await make({ algorithms: ['HS256', 'HS512'], secrets: [SECRET] });
  const ctx = bearer(hs({ sub: 'a' }, { algorithm: 'HS512' }));
  await both.onRequest!(ctx);
  assert.equal(ctx.consumer, 'a');
});

test('malformed tokens are rejected', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  for (const t of ['abc', 'a.b.c', '!!!.e30.x', 'e30.e30.x']) await rejects(inst, bearer(t));
});

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPub = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;

test('RS256 with an inline PEM public key', async () => {
  const inst = await make({ algorithms: ['RS256'], publicKeys: [rsaPub] });
  const ctx = bearer(jwt.sign({ sub: 'rsa-user' }, rsa.privateKey, { algorithm: 'RS256' }));
  await inst.onRequest!(ctx);
  assert.equal(ctx.consumer, 'rsa-user');
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await rejects(inst, bearer(jwt.sign({ sub: 'x' }, other.privateKey, { algorithm: 'RS256' })), /signature/);
});

test('RS256 with a public key file resolved against configDir', async () => {
  writeFileSync(join(configDir, 'rsa.pub.pem'), rsaPub);
  const inst = await make({ algorithms: ['RS256', 'PS256'], publicKeyFiles: ['rsa.pub.pem'] });
  const ctx = bearer(jwt.sign({ sub: 'file-user' }, rsa.privateKey, { algorithm: 'RS256' }));
  await inst.onRequest!(ctx);
  assert.equal(ctx.consumer, 'file-user');
  const ps = bearer(jwt.sign({ sub: 'ps-user' }, rsa.privateKey, { algorithm: 'PS256' }));
  await inst.onRequest!(ps);
  assert.equal(ps.consumer, 'ps-user');
});

test('HS256 signed with the RSA public key (algorithm confusion) is rejected', async () => {
  const inst = await make({ algorithms: ['RS256'], publicKeys: [rsaPub] });
  await rejects(inst, bearer(jwt.sign({ sub: 'x' }, rsaPub, { algorithm: 'HS256' })), /algorithm not allowed/);
  // Even when HS256 is allowed too, HS tokens are only checked against the secrets.
  const mixed = await make({ algorithms: ['RS256', 'HS256'], publicKeys: [rsaPub], secrets: [SECRET] });
  await rejects(mixed, bearer(jwt.sign({ sub: 'x' }, rsaPub, { algorithm: 'HS256' })), /signature/);
  const ok = bearer(hs({ sub: 'h' }));
  await mixed.onRequest!(ok);
  assert.equal(ok.consumer, 'h');
});

test('ES256 with an EC P-256 key; several public keys are each tried', async () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecPub = ec.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec2Pub = ec2.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const inst = await make({ algorithms: ['ES256', 'RS256'], publicKeys: [rsaPub, ec2Pub, ecPub] });
  const ctx = bearer(jwt.sign({ sub: 'ec-user' }, ec.privateKey, { algorithm: 'ES256' }));
  await inst.onRequest!(ctx);
  assert.equal(ctx.consumer, 'ec-user');
  const rs = bearer(jwt.sign({ sub: 'rs-user' }, rsa.privateKey, { algorithm: 'RS256' }));
  await inst.onRequest!(rs);
  assert.equal(rs.consumer, 'rs-user');
});

test('token from a query parameter; hideCredentials rebuilds the query string', async () => {
  const token = hs({ sub: 'q' });
  const keep = await make({ algorithms: ['HS256'], secrets: [SECRET], queryParam: 'access_token' });
  const c1 = ctxOf({ search: `?a=1&access_token=${token}&b=%20x` });
  await keep.onRequest!(c1);
  assert.equal(c1.consumer, 'q');
  assert.equal(c1.search, `?a=1&access_token=${token}&b=%20x`);

  const hide = await make({ algorithms: ['HS256'], secrets: [SECRET], queryParam: 'access_token', hideCredentials: true });
  const c2 = ctxOf({ search: `?a=1&access_token=${token}&b=%20x` });
  await hide.onRequest!(c2);
  assert.equal(c2.search, '?a=1&b=%20x');
  const c3 = ctxOf({ search: `?access_token=${token}` });
  await hide.onRequest!(c3);
  assert.equal(c3.search, '');
  // The query is not a source unless configured.
  await rejects(await make({ algorithms: ['HS256'], secrets: [SECRET] }), ctxOf({ search: `?access_token=${token}` }), /missing/, /^Bearer realm="hookgate"$/);
});

test('token from a cookie; hideCredentials removes only that cookie', async () => {
  const token = hs({ sub: 'c' });
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET], cookie: 'session', hideCredentials: true });
  const ctx = ctxOf({ headers: { cookie: `theme=dark; session=${token}; lang=en` } });
  await inst.onRequest!(ctx);
  assert.equal(ctx.consumer, 'c');
  assert.equal(ctx.headers.cookie, 'theme=dark; lang=en');
  const only = ctxOf({ headers: { cookie: `session=${token}` } });
  await inst.onRequest!(only);
  assert.equal(only.headers.cookie, undefined);
  await rejects(inst, ctxOf({ headers: { cookie: 'session=junk' } }));
});

test('hideCredentials: true strips the Authorization header', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET], hideCredentials: true });
  const ctx = bearer(hs({ sub: 'a' }));
  await inst.onRequest!(ctx);
  assert.equal(ctx.headers.authorization, undefined);
});

test('forwardClaims: claims become headers, client-sent copies are replaced or dropped', async () => {
  const inst = await make({
    algorithms: ['HS256'],
    secrets: [SECRET],
    forwardClaims: { sub: 'X-User-Id', roles: 'x-user-roles', tenant: 'x-tenant', name: 'x-name' },
  });
  const ctx = ctxOf({
    headers: { authorization: `Bearer ${hs({ sub: 'u1', roles: ['a', 'b'], name: 'Zoë\r\nx' })}`, 'x-user-id': 'spoofed', 'x-tenant': 'spoofed' },
  });
  await inst.onRequest!(ctx);
  assert.equal(ctx.headers['x-user-id'], 'u1');
  assert.equal(ctx.headers['x-user-roles'], '["a","b"]');
  assert.equal(ctx.headers['x-tenant'], undefined);
  // Non-printable / non-ASCII values are JSON-escaped so they are always valid header values.
  assert.equal(ctx.headers['x-name'], '"Zo\\u00eb\\r\\nx"');
});

test('consumerClaim picks another claim for ctx.consumer', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET], consumerClaim: 'client_id' });
  const ctx = bearer(hs({ sub: 'a', client_id: 'svc-7' }));
  await inst.onRequest!(ctx);
  assert.equal(ctx.consumer, 'svc-7');
});

test('missing token: 401 with a challenge without an error code', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET] });
  await rejects(inst, ctxOf(), /missing/, /^Bearer realm="hookgate"$/);
  await rejects(inst, ctxOf({ headers: { authorization: 'Basic dXNlcjpwYXNz' } }), /missing/, /^Bearer realm="hookgate"$/);
});

test('schema: algorithms is required, non-empty, and never "none"; defaults are applied', () => {
  assert.equal(validate({ secrets: [SECRET] }), false);
  assert.equal(validate({ algorithms: [], secrets: [SECRET] }), false);
  assert.equal(validate({ algorithms: ['none'], secrets: [SECRET] }), false);
  assert.equal(validate({ algorithms: ['HS256'], secret: SECRET }), false, 'additionalProperties');
  const p: Record<string, unknown> = { algorithms: ['HS256'] };
  assert.equal(validate(p), true);
  assert.equal(p.clockToleranceSec, 30);
  assert.equal(p.hideCredentials, false);
  assert.equal(p.header, 'authorization');
  assert.equal(p.consumerClaim, 'sub');
  assert.deepEqual(p.secrets, []);
});

test('create() rejects configs that cannot verify anything', async () => {
  await assert.rejects(async () => make({ algorithms: ['HS256'] }), /no "secrets"/);
  await assert.rejects(async () => make({ algorithms: ['RS256'], secrets: [SECRET] }), /no public key/);
  await assert.rejects(async () => make({ algorithms: ['ES256'], publicKeys: [rsaPub] }), /ES256.*no public key/);
  await assert.rejects(async () => make({ algorithms: ['RS256'], publicKeys: ['not a pem'] }), /publicKeys\[0\]/);
  await assert.rejects(async () => make({ algorithms: ['RS256'], publicKeyFiles: ['nope.pem'] }), /cannot read public key file/);
});

test('verified tokens are cached, but a cached token still expires on time', async () => {
  const inst = await make({ algorithms: ['HS256'], secrets: [SECRET], clockToleranceSec: 0 });
  const token = jwt.sign({ sub: 'partner-a', exp: now() + 1 }, SECRET, { algorithm: 'HS256' });
  await inst.onRequest!(bearer(token));
  await inst.onRequest!(bearer(token)); // from the cache
  const deadline = Date.now() + 5000;
  let err: GatewayError | undefined;
  while (!err && Date.now() < deadline) {
    try {
      await inst.onRequest!(bearer(token));
      await new Promise((r) => setTimeout(r, 50));
    } catch (e) {
      err = e as GatewayError;
    }
  }
  assert.ok(err, 'the cached token was accepted after its exp');
  assert.equal(err.code, 'HG_AUTH_INVALID');
  assert.match(err.message, /expired/);
  // A different token with a bad signature is never served from the cache.
  const forged = token.slice(0, token.lastIndexOf('.') + 1) + 'AAAA';
  await rejects(inst, bearer(forged));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Context } from '../../gateway/context.js';
import type { PluginInstance } from '../../gateway/plugin.js';
import { keyAuthPlugin } from '../../plugins/key-auth/index.js';
import { expectRefusal, fakeContext, pluginHarness } from '../support/plugin.js';

const { validate, create: make } = pluginHarness(keyAuthPlugin);
const ctxOf = fakeContext;

async function rejects(inst: PluginInstance, ctx: Context, message: RegExp): Promise<void> {
  const err = await expectRefusal(inst, ctx, 'HG_AUTH_INVALID', 401);
  assert.deepEqual(err.headers, { 'www-authenticate': 'ApiKey realm="hookgate"' });
  assert.match(err.message, message);
  assert.equal(ctx.consumer, undefined);
}

const sha = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');
const KEYS = [
  { key: 'plain-key-1', consumer: 'alice' },
  { key: sha('hashed-key-2'), consumer: 'bob' },
  { key: sha('hashed-key-3').toUpperCase().replace('SHA256:', 'sha256:'), consumer: 'carol' },
];

test('plain and sha256 keys from the default header set the consumer and are hidden', async () => {
  const inst = await make({ keys: KEYS });
  for (const [key, consumer] of [
    ['plain-key-1', 'alice'],
    ['hashed-key-2', 'bob'],
    ['hashed-key-3', 'carol'],
  ] as const) {
    const ctx = ctxOf({ headers: { apikey: key, other: 'kept' } });
    assert.equal(await inst.onRequest!(ctx), undefined);
    assert.equal(ctx.consumer, consumer);
    assert.equal(ctx.headers.apikey, undefined);
    assert.equal(ctx.headers.other, 'kept');
  }
});

test('the stored hash itself is not a valid key', async () => {
  const inst = await make({ keys: KEYS });
  await rejects(inst, ctxOf({ headers: { apikey: sha('hashed-key-2') } }), /invalid/);
});

test('a custom header; hideCredentials: false keeps it', async () => {
  const inst = await make({ keys: KEYS, header: 'X-API-Key', hideCredentials: false });
  const ctx = ctxOf({ headers: { 'x-api-key': 'plain-key-1' } });
  await inst.onRequest!(ctx);
  assert.equal(ctx.consumer, 'alice');
  assert.equal(ctx.headers['x-api-key'], 'plain-key-1');
});

test('key from a query parameter; hidden by rebuilding the query string', async () => {
  const inst = await make({ keys: KEYS, queryParam: 'api_key' });
  const ctx = ctxOf({ search: '?a=1&api_key=hashed-key-2&b=x%26y&api_key=again' });
  await inst.onRequest!(ctx);
  assert.equal(ctx.consumer, 'bob');
  assert.equal(ctx.search, '?a=1&b=x%26y');

  const only = ctxOf({ search: '?api_key=plain-key-1' });
  await inst.onRequest!(only);
  assert.equal(only.consumer, 'alice');
  assert.equal(only.search, '');

  // An encoded parameter name is still recognised and removed.
  const enc = ctxOf({ search: '?api%5Fkey=plain-key-1&z=1' });
  await inst.onRequest!(enc);
  assert.equal(enc.search, '?z=1');
});

test('the query parameter is not a source unless configured', async () => {
  const inst = await make({ keys: KEYS });
  await rejects(inst, ctxOf({ search: '?apikey=plain-key-1' }), /missing/);
});

test('wrong and missing keys are rejected with a challenge', async () => {
  const inst = await make({ keys: KEYS, queryParam: 'api_key' });
  await rejects(inst, ctxOf({ headers: { apikey: 'plain-key-X' } }), /invalid/);
  await rejects(inst, ctxOf({ headers: { apikey: '' } }), /missing/);
  await rejects(inst, ctxOf(), /missing/);
  await rejects(inst, ctxOf({ search: '?api_key=' }), /missing/);
  await rejects(inst, ctxOf({ search: '?api_key=nope' }), /invalid/);
});

test('schema: keys required, additionalProperties false, defaults applied', () => {
  assert.equal(validate({}), false);
  assert.equal(validate({ keys: [] }), false);
  assert.equal(validate({ keys: [{ key: 'k' }] }), false);
  assert.equal(validate({ keys: [{ key: 'k', consumer: 'c', extra: 1 }] }), false);
  assert.equal(validate({ keys: [{ key: 'k', consumer: 'c' }], headers: 'x' }), false);
  const p: Record<string, unknown> = { keys: [{ key: 'k', consumer: 'c' }] };
  assert.equal(validate(p), true);
  assert.equal(p.header, 'apikey');
  assert.equal(p.hideCredentials, true);
});

test('create() rejects bad hashes and duplicate keys', async () => {
  await assert.rejects(async () => make({ keys: [{ key: 'sha256:abc', consumer: 'c' }] }), /64 hex digits/);
  await assert.rejects(
    async () =>
      make({
        keys: [
          { key: 'dup', consumer: 'a' },
          { key: sha('dup'), consumer: 'b' },
        ],
      }),
    /keys\[1\] repeats/,
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeContext } from './support/plugin.js';

test('forwardableHeaders: hop-by-hop and client-named headers go, what a plugin set stays', () => {
  const headers = { connection: 'keep-alive, x-a, x-b, x-c, x-d', 'x-a': 'client', 'x-b': 'client', 'x-c': 'client', 'x-d': 'client', te: 'trailers', 'x-e': 'end-to-end' };
  // Nothing rewritten: the received headers minus the hop-by-hop ones.
  assert.deepEqual(fakeContext({ headers }).forwardableHeaders(), { 'x-e': 'end-to-end' });

  const ctx = fakeContext({ headers });
  // A plugin reads them as the client sent them...
  assert.equal(ctx.headers['x-a'], 'client');
  assert.equal(ctx.header('x-b'), 'client');
  // ...and what it assigns, or deletes and adds again, is its own.
  ctx.headers['x-a'] = 'client';
  delete ctx.headers['x-b'];
  ctx.headers['x-b'] = 'plugin';
  Object.assign(ctx.headers, { 'x-c': 'plugin' });
  ctx.headers.connection = 'x-e';
  assert.deepEqual(ctx.forwardableHeaders(), { 'x-a': 'client', 'x-b': 'plugin', 'x-c': 'plugin', 'x-e': 'end-to-end' });
  // The received headers are never changed.
  assert.equal(ctx.receivedHeaders['x-b'], 'client');
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EndpointSlots } from '../../gateway/delivery/slots.js';

describe('EndpointSlots', () => {
  test('grants up to the cap at once, per key', () => {
    const s = new EndpointSlots();
    assert.equal(s.acquire('a', 2), true);
    assert.equal(s.acquire('a', 2), true);
    assert.equal(s.acquire('b', 2), true, 'another endpoint has its own slots');
    assert.ok(s.acquire('a', 2, 1) instanceof Promise, 'over the cap the caller waits');
  });

  test('a released slot goes to the waiter; a wait that sees none ends false', async () => {
    const s = new EndpointSlots();
    assert.equal(s.acquire('a', 1), true);
    const waiting = s.acquire('a', 1, 10_000);
    s.release('a');
    assert.equal(await waiting, true, 'the waiter got the released slot');
    assert.equal(await s.acquire('a', 1, 5), false, 'the slot is still held: the wait times out');
    s.release('a');
    assert.equal(s.acquire('a', 1), true, 'free again after the last release');
  });

  test('at most cap * 4 waiters; the next is refused at once', async () => {
    const s = new EndpointSlots();
    assert.equal(s.acquire('a', 1), true);
    const waiters = [1, 2, 3, 4].map(() => s.acquire('a', 1, 10_000));
    assert.equal(s.acquire('a', 1, 10_000), false);
    for (let i = 0; i < 5; i++) s.release('a');
    assert.deepEqual(await Promise.all(waiters), [true, true, true, true]);
  });
});

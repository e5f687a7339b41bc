/**
 * The message half of the delivery admin API (/admin/messages, recover, retry) through a real
 * gateway with the delivery service, on the memory store and on Redis: the attempt log, recover,
 * retry and cursor pagination.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closedPort, startUpstream, waitUntil } from '../support/http.js';
import { WAIT_MS, createEndpoint, deleteSetupKeys, deliveryStatus, expectError, listAll, message, publishOk, setup } from './admin-env.js';

after(deleteSetupKeys);

for (const mode of ['memory', 'redis'] as const) {
  describe(`delivery admin API: messages (${mode} store)`, () => {
    it('logs attempts, ends failing deliveries as failed, and recovers, retries and paginates them', async () => {
      const env = await setup(mode);
      try {
        env.rx.status.set('/flaky', 500);
        await createEndpoint(env, { id: 'flaky', url: `${env.rx.up.url}/flaky`, events: ['rec.*'] });
        const deadPort = await closedPort();
        await createEndpoint(env, { id: 'dead', url: `http://127.0.0.1:${deadPort}/dead`, events: ['dead.*'] });

        const since = new Date(Date.now() - 1000).toISOString();
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await env.publish('rec.item', { i });
          assert.equal(r.status, 202, r.text);
          assert.equal(r.json().endpoints, 1);
          ids.push(r.json().id);
        }
        const deadId = await publishOk(env, 'dead.item', { dead: true });

        // Both attempts fail (500), then the delivery is failed.
        await waitUntil(async () => {
          const r = await env.gw.admin('GET', '/admin/messages?status=failed&endpoint=flaky');
          return r.json().messages.length === 5;
        }, WAIT_MS, '5 failed messages');
        assert.equal(env.rx.to('/flaky').length, 10, 'two attempts per message');

        const m0 = await message(env, ids[0]!);
        assert.equal(m0.id, ids[0]);
        assert.equal(m0.status, 'failed');
        assert.equal(m0.eventType, 'rec.item');
        assert.deepEqual(m0.payload.data, { i: 0 });
        const att = m0.deliveries.flaky.attempts as Record<string, any>[];
        assert.equal(m0.deliveries.flaky.status, 'failed');
        assert.equal(att.length, 2);
        assert.deepEqual(att.map((a) => a.attempt), [1, 2]);
        for (const a of att) {
          assert.equal(a.status, 500);
          assert.ok(typeof a.durationMs === 'number' && a.durationMs >= 0, 'duration');
          assert.ok(!Number.isNaN(Date.parse(a.at)), `attempt time is ISO: ${a.at}`);
          assert.equal(a.response.length, 4096, 'response body truncated to 4 KB');
        }

        // A network error is status 0 with an error.
        await waitUntil(async () => (await deliveryStatus(env, deadId, 'dead')) === 'failed', WAIT_MS, 'dead endpoint failed');
        const dm = await message(env, deadId);
        for (const a of dm.deliveries.dead.attempts) {
          assert.equal(a.status, 0);
          assert.ok(typeof a.error === 'string' && a.error.length > 0, 'network error recorded');
        }

        // Pagination: limit 2 over the 5 failed messages — no duplicates, no gaps, newest first.
        const pg = await listAll(env, 'status=failed&endpoint=flaky', 2);
        assert.deepEqual(pg.pages, [2, 2, 1]);
        assert.equal(new Set(pg.ids).size, 5, 'no duplicates');
        assert.deepEqual([...pg.ids].sort(), [...ids].sort(), 'no gaps');
        const all = await listAll(env, 'status=failed', 2);
        assert.deepEqual([...all.ids].sort(), [...ids, deadId].sort());
        const created = await Promise.all(pg.ids.map(async (id) => Date.parse((await message(env, id)).createdAt)));
        for (let i = 1; i < created.length; i++) assert.ok(created[i - 1]! >= created[i]!, 'newest first');
        assert.equal((await env.gw.admin('GET', '/admin/messages?status=delivered&endpoint=flaky')).json().messages.length, 0);

        // Fix the receiver. Retry one message for one endpoint: only it is delivered.
        env.rx.status.set('/flaky', 200);
        await expectError(env.gw.admin('POST', `/admin/messages/${ids[0]}/retry`, { endpoint: 'dead' }), 400, 'HG_ADMIN_BAD_INPUT', 'retry for a non-target');
        await expectError(env.gw.admin('POST', `/admin/messages/${ids[0]}/retry`, { bogus: 1 }), 400, 'HG_ADMIN_BAD_INPUT', 'retry unknown field');
        const retry = await env.gw.admin('POST', `/admin/messages/${ids[0]}/retry`, { endpoint: 'flaky' });
        assert.equal(retry.status, 202, retry.text);
        assert.deepEqual(retry.json(), { id: ids[0], queued: 1, targets: ['flaky'] });
        await waitUntil(async () => (await deliveryStatus(env, ids[0]!, 'flaky')) === 'delivered', WAIT_MS, 'single retry delivered');
        const okAttempt = (await message(env, ids[0]!)).deliveries.flaky.attempts.at(-1);
        assert.equal(okAttempt.status, 200);
        assert.equal(env.rx.to('/flaky').filter((r) => r.headers['webhook-id'] !== ids[0]).length, 8, 'the other messages were not resent');

        // Recover everything that failed since `since`: the other four.
        const rec = await env.gw.admin('POST', '/admin/endpoints/flaky/recover', { since });
        assert.equal(rec.status, 202, rec.text);
        assert.equal(rec.json().queued, 4, 'only deliveries still failed are recovered');
        await waitUntil(async () => {
          const r = await env.gw.admin('GET', '/admin/messages?status=delivered&endpoint=flaky');
          return r.json().messages.length === 5;
        }, WAIT_MS, 'all 5 delivered after recover');
        assert.equal((await env.gw.admin('GET', '/admin/messages?status=failed&endpoint=flaky')).json().messages.length, 0);
        for (const id of ids) {
          const oks = env.rx.to('/flaky').filter((r) => r.headers['webhook-id'] === id);
          assert.equal(oks.length, 3, `message ${id}: 2 failed attempts + 1 successful`);
        }

        // Recover with a `since` after the failures finds nothing.
        const none = await env.gw.admin('POST', '/admin/endpoints/dead/recover', { since: new Date(Date.now() + 60_000).toISOString() });
        assert.equal(none.json().queued, 0);

        // Point the dead endpoint at the receiver, then retry all of the message's failed deliveries.
        const moved = await env.gw.admin('PATCH', '/admin/endpoints/dead', { url: `${env.rx.up.url}/dead` });
        assert.equal(moved.status, 200, moved.text);
        const retryAll = await env.gw.admin('POST', `/admin/messages/${deadId}/retry`);
        assert.equal(retryAll.status, 202, retryAll.text);
        assert.deepEqual(retryAll.json(), { id: deadId, queued: 1, targets: ['dead'] });
        await waitUntil(async () => (await deliveryStatus(env, deadId, 'dead')) === 'delivered', WAIT_MS, 'dead message delivered after retry');
        assert.equal(env.rx.to('/dead').length, 1);

        // Nothing is failed any more; everything is delivered.
        const fin = await listAll(env, 'status=delivered', 4);
        assert.deepEqual([...fin.ids].sort(), [...ids, deadId].sort());
        assert.deepEqual((await listAll(env, 'status=failed', 4)).ids, []);
        assert.deepEqual((await listAll(env, 'status=pending', 4)).ids, []);
      } finally {
        await env.stop();
      }
    });

    it('accepts and shows an event no endpoint subscribes to', async () => {
      const env = await setup(mode);
      try {
        const r = await env.publish('nobody.listens', { x: 1 });
        assert.equal(r.status, 202, r.text);
        assert.equal(r.json().endpoints, 0);
        const m = await message(env, r.json().id);
        assert.deepEqual(m.deliveries, {});
        assert.equal(m.eventType, 'nobody.listens');
        const all = await listAll(env, 'endpoint=cfg-ep', 10);
        assert.deepEqual(all.ids, [], 'not listed under an endpoint it was not sent to');
      } finally {
        await env.stop();
      }
    });

    it('lists pending messages and the message view of a delivery not yet attempted', async () => {
      const env = await setup(mode);
      try {
        // The receiver holds the request: the delivery stays pending until it is released.
        const held: Array<() => void> = [];
        const slow = await startUpstream((_req, res) => {
          held.push(() => res.end('ok'));
        });
        try {
          await createEndpoint(env, { id: 'slow', url: `${slow.url}/slow`, events: ['slow.*'] });
          const id = await publishOk(env, 'slow.one', { a: 1 });
          await waitUntil(() => slow.requests.length === 1, WAIT_MS, 'attempt started');
          const pending = await env.gw.admin('GET', '/admin/messages?status=pending');
          assert.deepEqual(pending.json().messages.map((m: { id: string }) => m.id), [id]);
          const m = await message(env, id);
          assert.equal(m.status, 'pending');
          assert.deepEqual(m.deliveries.slow.attempts, []);
          held.forEach((f) => f());
          await waitUntil(async () => (await deliveryStatus(env, id, 'slow')) === 'delivered', WAIT_MS, 'delivered after release');
          const after = await message(env, id);
          assert.equal(after.deliveries.slow.attempts.length, 1);
          assert.equal(after.deliveries.slow.attempts[0].response, 'ok');
        } finally {
          held.forEach((f) => f());
          await slow.close();
        }
      } finally {
        await env.stop();
      }
    });
  });
}

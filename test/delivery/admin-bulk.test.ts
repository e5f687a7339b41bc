/**
 * Requeues through the admin API (gateway/delivery/admin-bulk.ts, the recover and retry routes),
 * on the memory store and on Redis: attempt numbers continue across retry and recover while the
 * schedule starts afresh, the bulk retry's filters and dry run, `queued` as a number, and the
 * bound on one call.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveryEngine } from '../../gateway/delivery/engine.js';
import { BULK_LIMIT } from '../../gateway/delivery/admin-bulk.js';
import { waitUntil, type HttpResult } from '../support/http.js';
import { WAIT_MS, createEndpoint, deleteSetupKeys, expectError, message, publishOk, setup as gatewaySetup, type Env, type Mode } from './admin-env.js';

after(deleteSetupKeys);

/** A gateway with a publish route and a 3-attempt schedule (no config endpoints). */
const setup = (mode: Mode): Promise<Env> => gatewaySetup(mode, { egress: '  retry: { schedule: ["0ms", "30ms", "30ms"] }\n  lockDurationMs: 2000' });

/** The attempt numbers and statuses of a message's delivery to `target`, once it is `status`. */
async function settled(env: Env, id: string, target: string, status: string, attempts: number): Promise<{ attempt: number; status: number }[]> {
  let last: Record<string, any> | undefined;
  await waitUntil(async () => {
    last = (await message(env, id)).deliveries[target];
    return last?.status === status && last.attempts.length === attempts;
  }, WAIT_MS, `${id} → ${target}: ${status} after ${attempts} attempts (last seen ${JSON.stringify(last?.status)}, ${last?.attempts.length} attempts)`);
  return last!.attempts.map((a: { attempt: number; status: number }) => ({ attempt: a.attempt, status: a.status }));
}

const retryAll = (env: Env, body: Record<string, unknown>): Promise<HttpResult> => env.gw.admin('POST', '/admin/messages/retry', { status: 'failed', ...body });

for (const mode of ['memory', 'redis'] as const) {
  describe(`admin requeues (${mode} store)`, () => {
    it('attempt numbers continue across retry and recover, and each requeue runs a fresh schedule', async () => {
      const env = await setup(mode);
      try {
        env.rx.status.set('/num', 500);
        const events: string[] = [];
        (env.gw.gw.service as unknown as { engine: DeliveryEngine }).engine.events.on('operational', (ev) => events.push(ev.type));
        await createEndpoint(env, { id: 'num', url: `${env.rx.up.url}/num`, events: ['num.*'] });
        const since = Date.now() - 1000;
        const id = await publishOk(env, 'num.one');
        assert.deepEqual((await settled(env, id, 'num', 'failed', 3)).map((a) => a.attempt), [1, 2, 3], 'exhausted after the 3-attempt schedule');

        // A manual retry: attempt 4 follows 3, and the budget starts afresh (3 more attempts).
        const retry = await env.gw.admin('POST', `/admin/messages/${id}/retry`);
        assert.equal(retry.status, 202, retry.text);
        assert.deepEqual(retry.json(), { id, queued: 1, targets: ['num'] });
        assert.deepEqual((await settled(env, id, 'num', 'failed', 6)).map((a) => a.attempt), [1, 2, 3, 4, 5, 6]);
        assert.equal(env.rx.to('/num').length, 6);

        // Recover: a dry run counts and queues nothing; the real run continues at attempt 7.
        env.rx.status.set('/num', 200);
        const dry = await env.gw.admin('POST', '/admin/endpoints/num/recover', { since, dryRun: true });
        assert.equal(dry.status, 200, dry.text);
        assert.deepEqual(dry.json(), { endpoint: 'num', since: new Date(since).toISOString(), until: dry.json().until, messages: 1, dryRun: true, count: 1 });
        assert.ok(Date.parse(dry.json().until) >= since, 'until defaults to now');
        assert.equal((await message(env, id)).deliveries.num.status, 'failed', 'the dry run queued nothing');
        const rec = await env.gw.admin('POST', '/admin/endpoints/num/recover', { since: new Date(since).toISOString() });
        assert.equal(rec.status, 202, rec.text);
        assert.equal(rec.json().queued, 1);
        assert.deepEqual(await settled(env, id, 'num', 'delivered', 7), [...[1, 2, 3, 4, 5, 6].map((attempt) => ({ attempt, status: 500 })), { attempt: 7, status: 200 }]);
        assert.equal(env.rx.to('/num').length, 7, 'no attempt was made twice');
        // Counted from each requeue, no round reached its 4th attempt: never failing, so no recovery.
        assert.deepEqual(events.filter((t) => t.startsWith('message.')), ['message.attempt.exhausted', 'message.attempt.exhausted']);

        // A resend of a delivered message numbers on too.
        const resend = await env.gw.admin('POST', `/admin/messages/${id}/retry`, { endpoint: 'num' });
        assert.deepEqual(resend.json(), { id, queued: 1, targets: ['num'] });
        assert.deepEqual((await settled(env, id, 'num', 'delivered', 8)).at(-1), { attempt: 8, status: 200 });
      } finally {
        await env.stop();
      }
    });

    it('POST /admin/messages/retry: filters, a dry run that counts first, then queues what it counted', async () => {
      const env = await setup(mode);
      try {
        env.rx.status.set('/a', 500);
        env.rx.status.set('/b', 500);
        await createEndpoint(env, { id: 'a', url: `${env.rx.up.url}/a`, events: ['inv.*'] });
        await createEndpoint(env, { id: 'b', url: `${env.rx.up.url}/b`, events: ['inv.paid', 'ord.*'] });
        const since = new Date(Date.now() - 1000).toISOString();
        // inv.paid → a and b; inv.void → a; ord.new → b: 7 deliveries of 5 messages.
        const paid = [await publishOk(env, 'inv.paid'), await publishOk(env, 'inv.paid')];
        const voided = await publishOk(env, 'inv.void');
        const orders = [await publishOk(env, 'ord.new'), await publishOk(env, 'ord.new')];
        for (const id of paid) for (const t of ['a', 'b']) await settled(env, id, t, 'failed', 3);
        await settled(env, voided, 'a', 'failed', 3);
        for (const id of orders) await settled(env, id, 'b', 'failed', 3);

        const count = async (body: Record<string, unknown>) => {
          const r = await retryAll(env, { since, ...body, dryRun: true });
          assert.equal(r.status, 200, `${JSON.stringify(body)}: ${r.text}`);
          assert.equal(r.json().dryRun, true);
          return [r.json().count, r.json().messages];
        };
        assert.deepEqual(await count({}), [7, 5]);
        assert.deepEqual(await count({ eventType: 'inv.paid' }), [4, 2]);
        assert.deepEqual(await count({ eventType: 'inv.*' }), [5, 3]);
        assert.deepEqual(await count({ eventType: '*' }), [7, 5]);
        assert.deepEqual(await count({ endpoint: 'b' }), [4, 4]);
        assert.deepEqual(await count({ endpoint: 'b', eventType: 'ord.*' }), [2, 2]);
        assert.deepEqual(await count({ tenant: 'default' }), [7, 5], 'messages without a tenant are the default tenant\'s');
        assert.deepEqual(await count({ tenant: 'acme' }), [0, 0]);
        assert.deepEqual(await count({ since: Date.now() + 60_000 }), [0, 0], 'epoch ms; nothing failed later');
        assert.deepEqual(await count({ since: Date.parse(since), until: new Date(Date.parse(since) + 1).toISOString() }), [0, 0], 'until bounds the range');
        assert.deepEqual(await count({ since: since.slice(0, 10) }), [7, 5], 'a date alone is midnight UTC');

        // The bad requests: 400 HG_ADMIN_BAD_INPUT (404 for an unknown endpoint), nothing queued.
        const bad = (body: Record<string, unknown>, what: string) => expectError(env.gw.admin('POST', '/admin/messages/retry', body), 400, 'HG_ADMIN_BAD_INPUT', what);
        await bad({ since }, 'no status');
        await bad({ status: 'pending', since }, 'status pending (already queued)');
        await bad({ status: 'failed' }, 'no since');
        await bad({ status: 'failed', since: 'yesterday' }, 'since not ISO 8601');
        await bad({ status: 'failed', since: '2026-11-24T00:00:00' }, 'a time without a zone');
        await bad({ status: 'failed', since: '2026-13-01' }, 'no such month');
        await bad({ status: 'failed', since: 1_700_000_000 }, 'seconds, not epoch ms');
        await bad({ status: 'failed', since: 1.5e12 + 0.5 }, 'fractional ms');
        await bad({ status: 'failed', since, until: '2000-01-01T00:00:00Z' }, 'until before since');
        await bad({ status: 'failed', since, eventType: 'not a type' }, 'bad event type');
        await bad({ status: 'failed', since, tenant: 'has space' }, 'bad tenant id');
        await bad({ status: 'failed', since, dryRun: 'yes' }, 'dryRun not a boolean');
        await bad({ status: 'failed', since, bogus: 1 }, 'unknown field');
        await bad({ status: 'failed', since, endpoint: '' }, 'empty endpoint');
        await expectError(retryAll(env, { since, endpoint: 'nope' }), 404, 'HG_ENDPOINT_NOT_FOUND', 'unknown endpoint');
        await expectError(retryAll(env, { since, endpoint: 'up_nope' }), 404, 'HG_ENDPOINT_NOT_FOUND', 'unknown upstream target');
        assert.equal(env.rx.to('/a').length + env.rx.to('/b').length, 21, 'nothing was sent again');

        // Queue the invoices: exactly what the dry run counted, numbering on from 3.
        env.rx.status.set('/a', 200);
        env.rx.status.set('/b', 200);
        const inv = await retryAll(env, { since, eventType: 'inv.*' });
        assert.equal(inv.status, 202, inv.text);
        assert.deepEqual([inv.json().queued, inv.json().messages], [5, 3]);
        for (const id of paid) for (const t of ['a', 'b']) assert.deepEqual((await settled(env, id, t, 'delivered', 4)).at(-1), { attempt: 4, status: 200 });
        await settled(env, voided, 'a', 'delivered', 4);
        assert.deepEqual(await count({}), [2, 2], 'the orders are still failed');
        const rest = await retryAll(env, { since });
        assert.deepEqual([rest.status, rest.json().queued], [202, 2]);
        for (const id of orders) await settled(env, id, 'b', 'delivered', 4);
        assert.deepEqual(await count({}), [0, 0]);
        const none = await retryAll(env, { since });
        assert.deepEqual([none.status, none.json().queued, none.json().messages], [202, 0, 0]);
      } finally {
        await env.stop();
      }
    });

    it(`one call selects at most ${BULK_LIMIT} deliveries: more is refused whole (422 HG_ADMIN_BULK_TOO_LARGE), dry run too`, async () => {
      const env = await setup(mode);
      try {
        await createEndpoint(env, { id: 'many', url: `${env.rx.up.url}/many`, events: ['many.*'] });
        const engine = (env.gw.gw.service as unknown as { engine: DeliveryEngine }).engine;
        // Failed deliveries written straight to the repository: BULK_LIMIT + 1 of them.
        const since = Date.now() - 1000;
        const ids = Array.from({ length: BULK_LIMIT + 1 }, (_v, i) => `msg_bulk${String(i).padStart(8, '0')}`);
        for (let i = 0; i < ids.length; i += 500) {
          await Promise.all(ids.slice(i, i + 500).map(async (id) => {
            await engine.repo.saveMessage({ id, kind: 'event', tenant: 'default', createdAt: Date.now(), eventType: 'many.x', body: '{}', bodyEncoding: 'utf8', targets: ['many'] }, 3600_000);
            await engine.repo.setStatus(id, 'many', 'failed', 3600_000);
          }));
        }
        const until = Date.now();
        for (const [path, body] of [
          ['/admin/endpoints/many/recover', { since }],
          ['/admin/endpoints/many/recover', { since, dryRun: true }],
          ['/admin/messages/retry', { status: 'failed', since }],
          ['/admin/messages/retry', { status: 'failed', since, dryRun: true, eventType: 'many.*' }],
        ] as const) {
          const r = await expectError(env.gw.admin('POST', path, body), 422, 'HG_ADMIN_BULK_TOO_LARGE', `${path} ${JSON.stringify(body)}`);
          assert.match(r.json().error.message, new RegExp(`more than ${BULK_LIMIT} failed deliveries match; narrow "since"/"until"`));
        }
        assert.equal((await engine.repo.getStatuses(ids[0]!)).many, 'failed', 'nothing was queued');
        assert.equal(env.rx.to('/many').length, 0);
        // A narrower range is fine; until after all of them is not.
        const narrow = await env.gw.admin('POST', '/admin/messages/retry', { status: 'failed', since: since - 60_000, until: since, dryRun: true });
        assert.deepEqual([narrow.status, narrow.json().count], [200, 0], narrow.text);
        await expectError(env.gw.admin('POST', '/admin/messages/retry', { status: 'failed', since, until }), 422, 'HG_ADMIN_BULK_TOO_LARGE', 'until after all');
      } finally {
        await env.stop();
      }
    });
  });
}

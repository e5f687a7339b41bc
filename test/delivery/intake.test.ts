/** Intake: what is stored and queued before a caller gets its 202, idempotency, and the 503 path. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { EventTypeDirectory } from '../../gateway/catalogue/event-types.js';
import { MemoryEventTypeStore } from '../../gateway/catalogue/store.js';
import { EndpointDirectory } from '../../gateway/delivery/endpoints.js';
import { DeliveryPolicies } from '../../gateway/delivery/effective-policy.js';
import { DeliveryIntake } from '../../gateway/delivery/intake.js';
import { OperationalEvents } from '../../gateway/delivery/operational.js';
import { TenantDirectory } from '../../gateway/delivery/tenants.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import type { DeliveryQueue, NewJob } from '../../gateway/delivery/queue.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import { GatewayError } from '../../gateway/errors.js';
import { compileConfig } from '../support/snapshot.js';

const silent = pino({ level: 'silent' });
const disposals: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of disposals) await d();
});

/** A queue that records what was added, and can be made to fail like Redis going away. */
function recordingQueue() {
  const added: NewJob[] = [];
  const q = {
    durable: false,
    failing: false,
    added,
    async add(jobs: NewJob[]) {
      if (q.failing) throw new Error('Connection is closed.');
      added.push(...jobs);
    },
    start() {},
    async stop() {},
    async stats() {
      return { waiting: added.length, delayed: 0, lagSeconds: {} };
    },
    async skipHead() {
      return null;
    },
    async orderingBlocked() {
      return {};
    },
  };
  return q satisfies DeliveryQueue;
}

async function intake(now: () => number = Date.now) {
  const snapshot = await compileConfig({
    upstreams: { orders: { targets: [{ url: 'http://127.0.0.1:9' }] } },
    egress: {
      allowCidrs: ['127.0.0.1/32'],
      endpoints: [
        { id: 'inv', url: 'http://127.0.0.1:9/inv', events: ['invoice.*'] },
        { id: 'all', url: 'http://127.0.0.1:9/all' },
      ],
    },
  });
  disposals.push(() => snapshot.dispose());
  const repo = new MemoryRepository();
  const queue = recordingQueue();
  const endpoints = new EndpointDirectory({ repo, logger: silent, now, snapshot: () => snapshot, events: new OperationalEvents({ logger: silent, now, snapshot: () => snapshot }) });
  await endpoints.sync();
  const eventTypes = new EventTypeDirectory({ store: new MemoryEventTypeStore(), logger: silent, now, snapshot: () => snapshot });
  const tenants = new TenantDirectory({ repo, store: new MemoryStore(), endpoints, now, snapshot: () => snapshot });
  const policies = new DeliveryPolicies({ snapshot: () => snapshot, catalogue: () => eventTypes.catalogue() });
  return { repo, queue, intake: new DeliveryIntake({ repo, queue, endpoints, tenants, eventTypes, policies, logger: silent, now, snapshot: () => snapshot }) };
}

describe('DeliveryIntake', () => {
  test('publish stores the message and queues one job per subscribed endpoint', async () => {
    const { repo, queue, intake: i } = await intake();
    const a = await i.publish({ type: 'invoice.paid', data: { n: 1 } });
    assert.deepEqual({ endpoints: a.endpoints, replayed: a.replayed }, { endpoints: 2, replayed: false });
    const b = await i.publish({ type: 'customer.created', data: {} });
    assert.equal(b.endpoints, 1);
    assert.deepEqual(queue.added, [{ msgId: a.id, target: 'inv', tenant: 'default' }, { msgId: a.id, target: 'all', tenant: 'default' }, { msgId: b.id, target: 'all', tenant: 'default' }]);
    const stored = await repo.getMessage(a.id);
    assert.deepEqual(JSON.parse(stored!.body).data, { n: 1 });
    assert.deepEqual(await repo.getStatuses(a.id), { inv: 'pending', all: 'pending' });
  });

  test('an Idempotency-Key replays the first answer and queues nothing more', async () => {
    const { queue, intake: i } = await intake();
    const first = await i.publish({ type: 'invoice.paid', data: {} }, { idempotencyKey: 'r:k1' });
    const again = await i.publish({ type: 'invoice.paid', data: {} }, { idempotencyKey: 'r:k1' });
    assert.deepEqual(again, { id: first.id, endpoints: 2, replayed: true });
    assert.equal(queue.added.length, 2);
  });

  test('a failed write is a 503 with Retry-After, and releases the Idempotency-Key', async () => {
    const { queue, intake: i } = await intake();
    queue.failing = true;
    await assert.rejects(i.publish({ type: 'invoice.paid', data: {} }, { idempotencyKey: 'r:k2' }), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'HG_QUEUE_UNAVAILABLE');
      assert.equal(err.headers?.['retry-after'], '5');
      return true;
    });
    await assert.rejects(i.enqueueIngress({ method: 'POST', path: '/x', headers: {}, body: Buffer.from('x'), upstream: 'orders' }), { code: 'HG_QUEUE_UNAVAILABLE' });
    queue.failing = false;
    const retried = await i.publish({ type: 'invoice.paid', data: {} }, { idempotencyKey: 'r:k2' });
    assert.equal(retried.replayed, false, 'the key was free again');
  });

  test('an Idempotency-Key claimed but never confirmed (its writes failed and so did the release): 409 while young, then accepted again under its id', async () => {
    let skew = 0;
    const { repo, queue, intake: i } = await intake(() => Date.now() + skew);
    queue.failing = true;
    repo.releaseIdempotency = async () => {
      throw new Error('Connection is closed.');
    };
    await assert.rejects(i.publish({ type: 'invoice.paid', data: { n: 1 } }, { idempotencyKey: 'r:k3' }), { code: 'HG_QUEUE_UNAVAILABLE' });
    queue.failing = false;
    const claimed = JSON.parse((await repo.claimIdempotency('r:k3', 'unused', 1000))!) as { id: string; done: boolean };
    assert.equal(claimed.done, false);
    await assert.rejects(i.publish({ type: 'invoice.paid', data: { n: 1 } }, { idempotencyKey: 'r:k3' }), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.deepEqual([err.status, err.code, err.headers?.['retry-after']], [409, 'HG_IDEMPOTENCY_IN_PROGRESS', '1']);
      return true;
    });
    assert.equal(queue.added.length, 0);
    skew = 11_000;
    const retried = await i.publish({ type: 'invoice.paid', data: { n: 1 } }, { idempotencyKey: 'r:k3' });
    assert.deepEqual(retried, { id: claimed.id, endpoints: 2, replayed: false });
    assert.deepEqual(queue.added.map((j) => [j.msgId, j.target]), [[claimed.id, 'inv'], [claimed.id, 'all']]);
    assert.deepEqual(JSON.parse((await repo.getMessage(claimed.id))!.body).data, { n: 1 });
    const again = await i.publish({ type: 'invoice.paid', data: { n: 1 } }, { idempotencyKey: 'r:k3' });
    assert.deepEqual(again, { id: claimed.id, endpoints: 2, replayed: true }, 'confirmed now: a plain replay');
    assert.equal(queue.added.length, 2);
  });

  test('a confirmed claim, an unconfirmed one older than the retention, and one of an older version are replays', async () => {
    const { repo, queue, intake: i } = await intake();
    await i.publish({ type: 'invoice.paid', data: {} }, { idempotencyKey: 'r:k6' });
    assert.equal((JSON.parse((await repo.claimIdempotency('r:k6', 'unused', 1000))!) as { done: boolean }).done, true);
    await repo.claimIdempotency('r:k4', JSON.stringify({ id: 'msg_expired', endpoints: 2, at: Date.now() - 30 * 86_400_000, done: false }), 86_400_000);
    await repo.claimIdempotency('r:k5', JSON.stringify({ id: 'msg_legacy', endpoints: 1 }), 86_400_000);
    assert.deepEqual(await i.publish({ type: 'invoice.paid', data: {} }, { idempotencyKey: 'r:k4' }), { id: 'msg_expired', endpoints: 2, replayed: true });
    assert.deepEqual(await i.publish({ type: 'invoice.paid', data: {} }, { idempotencyKey: 'r:k5' }), { id: 'msg_legacy', endpoints: 1, replayed: true });
    assert.equal(queue.added.length, 2, 'only the first publish was queued');
  });

  test('async ingress: the exact body, to its upstream; an unknown upstream is refused', async () => {
    const { repo, queue, intake: i } = await intake();
    const body = Buffer.from([0, 1, 2, 255]);
    const id = await i.enqueueIngress({ method: 'PUT', path: '/o?x=1', headers: { 'content-type': 'application/octet-stream' }, body, upstream: 'orders', timeoutMs: 500 });
    assert.deepEqual(queue.added, [{ msgId: id, target: 'up_orders', tenant: 'default' }]);
    const m = (await repo.getMessage(id))!;
    assert.deepEqual(Buffer.from(m.body, 'base64'), body);
    assert.deepEqual([m.method, m.path, m.timeoutMs], ['PUT', '/o?x=1', 500]);
    await assert.rejects(i.enqueueIngress({ method: 'POST', path: '/', headers: {}, body, upstream: 'gone' }), { code: 'HG_UPSTREAM_UNKNOWN' });
  });

  test('requeue marks deliveries pending and queues them with the attempts already made; message() serves what it accepted from memory', async () => {
    const { repo, queue, intake: i } = await intake();
    const { id } = await i.publish({ type: 'invoice.paid', data: {} });
    for (const attempt of [1, 2, 3]) await repo.recordAttempt(id, { target: 'inv', attempt, at: Date.now(), status: 500, durationMs: 1 }, attempt === 3 ? 'failed' : 'pending');
    await repo.recordAttempt(id, { target: 'all', attempt: 1, at: Date.now(), status: 500, durationMs: 1 }, 'failed');
    const msg = (await repo.getMessage(id))!;
    await i.requeue(msg, ['inv']);
    assert.equal((await repo.getStatuses(id)).inv, 'pending');
    assert.equal((await repo.getStatuses(id)).all, 'failed', 'only the named target');
    assert.deepEqual(queue.added.at(-1), { msgId: id, target: 'inv', tenant: 'default', attempts: 3 });
    assert.equal(await repo.requeuedAfter(id, 'inv'), 3, 'the schedule restarts after attempt 3');
    assert.equal(await repo.requeuedAfter(id, 'all'), 0);
    assert.deepEqual(await repo.failedBetween(['inv', 'all'], 0, Date.now(), 10).then((f) => f.map((d) => d.target)), ['all'], 'inv left the failed index');
    await i.requeue(msg, ['all']);
    assert.deepEqual(queue.added.at(-1), { msgId: id, target: 'all', tenant: 'default', attempts: 1 });
    repo.getMessage = async () => assert.fail('read from the store');
    assert.equal((await i.message(id))?.id, id);
  });
});

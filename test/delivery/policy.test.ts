import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EgressConfig } from '../../gateway/config/types.js';
import { AttemptPolicy } from '../../gateway/delivery/policy.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import type { AttemptResult } from '../../gateway/delivery/transport.js';
import type { EndpointRecord } from '../../gateway/delivery/types.js';

const H = 3600_000;
const egress = { disableAfterHours: 120 } as EgressConfig;
/** The delivery's effective schedule (effective-policy.ts picks it; test/delivery/effective-policy.test.ts). */
const SCHEDULE = [0, 10, 20, 30, 40, 50];
const ep: EndpointRecord = { id: 'ep', tenant: 'default', url: 'http://x.test/', events: ['*'], secrets: [], disabled: false, source: 'api', createdAt: 0, updatedAt: 0 };
const result = (status: number, extra: Partial<AttemptResult> = {}): AttemptResult => ({ status, durationMs: 1, timedOut: false, ...extra });

function policy(opts: { now?: () => number; overloadMinDelayMs?: number } = {}) {
  const repo = new MemoryRepository();
  return { repo, p: new AttemptPolicy({ repo, now: opts.now ?? (() => 0), rand: () => 0.5, overloadMinDelayMs: opts.overloadMinDelayMs }) };
}

describe('AttemptPolicy.judge', () => {
  test('2xx is delivered; a recovery once the delivery was failing', () => {
    const { p } = policy();
    assert.deepEqual(p.judge(result(204), 1, ep, SCHEDULE), { kind: 'delivered', recovered: false });
    assert.deepEqual(p.judge(result(200), 5, ep, SCHEDULE), { kind: 'delivered', recovered: true });
    assert.deepEqual(p.judge(result(200), 5, null, SCHEDULE), { kind: 'delivered', recovered: false }, 'ingress has no endpoint to recover');
  });

  test('failures retry on the schedule; the 4th failure to an endpoint is failing; the last is exhausted', () => {
    const { p } = policy();
    assert.deepEqual(p.judge(result(500), 1, ep, SCHEDULE), { kind: 'retry', delayMs: 10, error: undefined, failing: false });
    assert.deepEqual(p.judge(result(500), 4, ep, SCHEDULE), { kind: 'retry', delayMs: 40, error: undefined, failing: true });
    assert.equal((p.judge(result(500), 4, null, SCHEDULE) as { failing: boolean }).failing, false);
    assert.deepEqual(p.judge(result(0, { error: 'ECONNREFUSED' }), 6, ep, SCHEDULE), { kind: 'exhausted', error: 'ECONNREFUSED' });
  });

  test('after a requeue the schedule, the failing attempt and recoveries count from the requeue point', () => {
    const { p } = policy();
    // Exhausted at attempt 6 (a 6-step schedule), then requeued: attempt 7 is the fresh schedule's first.
    assert.equal(p.judge(result(500), 7, ep, SCHEDULE).kind, 'exhausted', 'without the requeue point the budget is spent');
    assert.deepEqual(p.judge(result(500), 7, ep, SCHEDULE, 6), { kind: 'retry', delayMs: 10, error: undefined, failing: false });
    assert.deepEqual(p.judge(result(500), 10, ep, SCHEDULE, 6), { kind: 'retry', delayMs: 40, error: undefined, failing: true });
    assert.equal(p.judge(result(500), 12, ep, SCHEDULE, 6).kind, 'exhausted', 'six more attempts, then exhausted again');
    assert.deepEqual(p.judge(result(200), 7, ep, SCHEDULE, 6), { kind: 'delivered', recovered: false });
    assert.deepEqual(p.judge(result(200), 11, ep, SCHEDULE, 6), { kind: 'delivered', recovered: true });
    // The engine reads the requeue point only when the verdict depends on it.
    assert.equal(p.needsRequeuePoint(result(200), 1), false, 'a first-attempt success');
    assert.equal(p.needsRequeuePoint(result(500), 1), false, 'a first attempt has no earlier requeue');
    assert.equal(p.needsRequeuePoint(result(200), 4), false, 'a success too early to be a recovery');
    assert.equal(p.needsRequeuePoint(result(200), 5), true, 'a possible recovery');
    assert.equal(p.needsRequeuePoint(result(500), 2), true, 'a failure: where in the schedule');
  });

  test('410 disables an endpoint (no retry) but is an ordinary failure for async ingress', () => {
    const { p } = policy();
    assert.equal(p.judge(result(410), 1, ep, SCHEDULE).kind, 'gone');
    assert.equal(p.judge(result(410), 1, null, SCHEDULE).kind, 'retry');
  });

  test('3xx is a failure and says redirects are not followed', () => {
    const { p } = policy();
    const v = p.judge(result(302), 1, ep, SCHEDULE);
    assert.equal(v.kind, 'retry');
    assert.equal((v as { error?: string }).error, 'redirects are not followed');
  });

  test('a 429 and a timeout wait the overload floor: 60 s, or overloadMinDelayMs', () => {
    assert.equal((policy().p.judge(result(429), 1, ep, SCHEDULE) as { delayMs: number }).delayMs, 60_000);
    assert.equal((policy().p.judge(result(0, { timedOut: true }), 1, ep, SCHEDULE) as { delayMs: number }).delayMs, 60_000);
    const { p } = policy({ overloadMinDelayMs: 300 });
    assert.equal((p.judge(result(429), 1, ep, SCHEDULE) as { delayMs: number }).delayMs, 300);
    assert.equal((p.judge(result(0, { timedOut: true }), 1, null, SCHEDULE) as { delayMs: number }).delayMs, 300);
  });

  test('Retry-After stretches the delay up to twice the scheduled one', () => {
    const { p } = policy();
    assert.equal((p.judge(result(503, { retryAfter: '3600' }), 1, ep, SCHEDULE) as { delayMs: number }).delayMs, 20);
  });
});

describe('AttemptPolicy failing streak', () => {
  test('a streak of disableAfterHours gives the reason to disable; a success ends it', async () => {
    let t = 0;
    const { p } = policy({ now: () => t });
    assert.equal(await p.failed('ep', egress), null);
    t = 119 * H;
    assert.equal(await p.failed('ep', egress), null);
    t = 120 * H;
    assert.equal(await p.failed('ep', egress), 'failing without a success for 120 h');
    await p.succeeded('ep', 2);
    assert.equal(await p.failed('ep', egress), null, 'a new streak starts');
  });

  test('first-attempt successes clear the streak at most once a second', async () => {
    let t = 10_000;
    const { repo, p } = policy({ now: () => t });
    let clears = 0;
    const clear = repo.clearFailing.bind(repo);
    repo.clearFailing = async (id) => {
      clears++;
      return clear(id);
    };
    await p.succeeded('ep', 1);
    await p.succeeded('ep', 1);
    assert.equal(clears, 1);
    await p.succeeded('ep', 2);
    assert.equal(clears, 2, 'a success after a failure always clears');
    t += 1000;
    await p.succeeded('ep', 1);
    assert.equal(clears, 3);
  });
});

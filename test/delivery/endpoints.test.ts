/** The endpoint directory: its cache and who invalidates it, config sync, and each change with its event. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { EndpointDirectory, eventMatches, liveSecrets } from '../../gateway/delivery/endpoints.js';
import { OperationalEvents, type OperationalEvent } from '../../gateway/delivery/operational.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import type { EndpointRecord } from '../../gateway/delivery/types.js';
import { compileConfig } from '../support/snapshot.js';

const silent = pino({ level: 'silent' });
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const disposals: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of disposals) await d();
});

async function directory(egress: Record<string, unknown> = {}) {
  let clock = 1_000_000;
  const snapshot = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], ...egress } });
  disposals.push(() => snapshot.dispose());
  const repo = new MemoryRepository(() => clock);
  const now = () => clock;
  const ops = new OperationalEvents({ logger: silent, now, snapshot: () => snapshot });
  const raised: string[] = [];
  ops.emitter.on('operational', (ev: OperationalEvent) => raised.push(`${ev.type} ${String(ev.data.endpointId)}`));
  const dir = new EndpointDirectory({ repo, logger: silent, now, snapshot: () => snapshot, events: ops });
  return { dir, repo, raised, tick: (ms: number) => (clock += ms), now };
}

const ep = (id: string, extra: Partial<EndpointRecord> = {}): EndpointRecord => ({ id, tenant: 'default', url: 'http://127.0.0.1:9/hook', events: ['*'], secrets: [{ secret: SECRET }], disabled: false, source: 'api', createdAt: 0, updatedAt: 0, ...extra });

describe('EndpointDirectory', () => {
  test('lookups are cached for a second; its own changes invalidate at once', async () => {
    const { dir, repo, tick } = await directory();
    await repo.putEndpoint(ep('a'));
    assert.equal((await dir.get('a'))?.url, 'http://127.0.0.1:9/hook');
    assert.equal((await dir.all()).length, 1);
    // Another instance's write shows after the cache second, not before.
    await repo.putEndpoint(ep('a', { url: 'http://127.0.0.1:9/other' }));
    await repo.putEndpoint(ep('b'));
    assert.equal((await dir.get('a'))?.url, 'http://127.0.0.1:9/hook');
    assert.equal((await dir.all()).length, 1);
    tick(1000);
    assert.equal((await dir.get('a'))?.url, 'http://127.0.0.1:9/other');
    assert.equal((await dir.all()).length, 2);
    // A change through the directory is seen at once.
    await dir.update((await dir.find('a'))!, { url: 'http://127.0.0.1:9/third' });
    assert.equal((await dir.get('a'))?.url, 'http://127.0.0.1:9/third');
    await dir.remove((await dir.find('b'))!);
    assert.deepEqual((await dir.all()).map((e) => e.id), ['a']);
  });

  test('config endpoints: written by sync, restored when the store lost them, removed when undeclared', async () => {
    const { dir, repo, tick } = await directory({ endpoints: [{ id: 'cfg', url: 'http://127.0.0.1:9/cfg' }] });
    await dir.sync();
    const first = await repo.getEndpoint('cfg');
    assert.equal(first?.source, 'config');
    assert.equal(first?.secrets.length, 1, 'a generated secret');
    await dir.sync();
    assert.equal((await repo.getEndpoint('cfg'))?.secrets[0]?.secret, first?.secrets[0]?.secret, 'the generated secret is stable');
    await repo.deleteEndpoint('cfg');
    tick(1000);
    assert.deepEqual((await dir.all()).map((e) => e.id), ['cfg'], 'restored for publish');
    await repo.deleteEndpoint('cfg');
    tick(1000);
    assert.equal((await dir.get('cfg'))?.id, 'cfg', 'restored for an attempt');
  });

  test('create, update, remove, rotate-secret and disable each raise their event once', async () => {
    const { dir, raised } = await directory();
    const { endpoint, secret } = await dir.create('a', { url: 'http://127.0.0.1:9/a' });
    assert.match(secret, /^whsec_/);
    assert.equal(endpoint.source, 'api');
    await assert.rejects(dir.create('a', { url: 'http://127.0.0.1:9/a' }), { code: 'HG_ENDPOINT_EXISTS' });
    await dir.update(endpoint, { description: 'x' });
    await dir.rotateSecret((await dir.find('a'))!, 60_000);
    await dir.disable((await dir.find('a'))!, 'the endpoint answered 410 Gone');
    await dir.disable(endpoint, 'again');
    await dir.remove(endpoint);
    assert.deepEqual(raised, ['endpoint.created a', 'endpoint.updated a', 'endpoint.updated a', 'endpoint.disabled a', 'endpoint.deleted a']);
  });

  test('enabling clears the reason and the failing streak; disabling through update records why', async () => {
    const { dir, repo } = await directory();
    await repo.putEndpoint(ep('a', { disabled: true, disabledReason: 'the endpoint answered 410 Gone' }));
    await repo.markFailing('a', 5);
    const on = await dir.update((await dir.find('a'))!, { disabled: false });
    assert.equal(on.disabledReason, undefined);
    assert.equal(await repo.markFailing('a', 99), 99, 'a new streak starts');
    const off = await dir.update(on, { disabled: true });
    assert.equal(off.disabledReason, 'disabled through the admin API');
  });

  test('rotation: every live secret signs until the grace period ends; grace 0 drops them', async () => {
    const { dir, tick, now } = await directory();
    const { endpoint, secret: s1 } = await dir.create('a', { url: 'http://127.0.0.1:9/a' });
    const r2 = await dir.rotateSecret(endpoint, 60_000);
    assert.equal(r2.previousExpireAt, now() + 60_000);
    const rotated = (await dir.find('a'))!;
    assert.deepEqual(dir.signingSecrets(rotated), [r2.secret, s1]);
    tick(60_000);
    assert.deepEqual(dir.signingSecrets(rotated), [r2.secret], 'the old secret expired');
    assert.deepEqual(liveSecrets(rotated, now()).map((s) => s.secret), [r2.secret]);
    const r3 = await dir.rotateSecret(rotated, 0);
    assert.equal(r3.previousExpireAt, null, 'nothing else stays live');
    assert.deepEqual(dir.signingSecrets((await dir.find('a'))!), [r3.secret]);
  });

});

describe('event patterns', () => {
  test('*, exact and dotted prefix', () => {
    assert.equal(eventMatches(['*'], 'a.b'), true);
    assert.equal(eventMatches(['invoice.*'], 'invoice.paid'), true);
    assert.equal(eventMatches(['invoice.*'], 'invoice.paid.late'), true);
    assert.equal(eventMatches(['invoice.*'], 'invoices.paid'), false);
    assert.equal(eventMatches(['invoice.paid'], 'invoice.created'), false);
  });
});

/**
 * Auto-recovery on real loopback receivers: an endpoint whose breaker stays open for
 * `disableAfterHours` is disabled, probed every `probeEvery` with the oldest delivery it missed,
 * enabled again when a probe succeeds, and what it missed is replayed (or only counted). On Redis
 * two instances share the work and recover it once. An operator's disable is left alone.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitUntil } from '../support/http.js';
import { count, deleteHealthKeys, healthGateway, healthPrefix, SECRET, type Driver, type HealthGateway } from './health-env.js';
import { openResources } from './resources.js';

const { onClose, receiver } = openResources();
after(() => deleteHealthKeys());

const CASES: { driver: Driver; replayMissed: boolean; instances: number }[] = [
  { driver: 'memory', replayMissed: true, instances: 1 },
  { driver: 'redis', replayMissed: true, instances: 2 },
  { driver: 'redis', replayMissed: false, instances: 1 },
];

for (const { driver, replayMissed, instances } of CASES) {
  test(`an endpoint disabled for failing is probed back and its missed messages ${replayMissed ? 'replayed' : 'counted'} (${driver}, ${instances} instance${instances > 1 ? 's' : ''})`, async () => {
    let failing = true;
    const rx = await receiver((_q, res) => void res.writeHead(failing ? 500 : 200).end());
    // disableAfterHours 0.0003 h is about a second of failing.
    const egress = `  disableAfterHours: 0.0003
  retry: { schedule: [0${', "20ms"'.repeat(29)}] }
  breaker: { consecutiveFailures: 2, openFor: ["200ms"], probeEvery: "300ms", replayMissed: ${replayMissed} }
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "${SECRET}" }`;
    const prefix = driver === 'redis' ? healthPrefix('auto-recover') : undefined;
    const gws: HealthGateway[] = [];
    for (let i = 0; i < instances; i++) {
      const g = await healthGateway(driver, egress, prefix);
      onClose(() => g.stop());
      gws.push(g);
    }
    const [h] = gws as [HealthGateway];
    const all = (type: Parameters<typeof count>[1]) => gws.reduce((n, g) => n + count(g.events, type), 0);
    const m1 = await h.publish({ n: 1 });
    await waitUntil(() => gws.some((g) => count(g.events, 'endpoint.breaker.opened') > 0), 10_000, 'opened');
    // Held while open; failed when the endpoint is disabled: what it missed.
    const missed = [await h.publish({ n: 2 }), await h.publish({ n: 3 })];
    await waitUntil(() => all('endpoint.disabled') === 1, 15_000, 'disabled after disableAfterHours of failing');
    const disabled = await h.health();
    assert.equal(disabled.state, 'disabled');
    assert.match(disabled.reason ?? '', /failing without a success/);
    assert.ok(disabled.nextProbeAt, 'a recovery probe is scheduled');
    // Published while it is disabled: kept for it, failed at once, to replay.
    missed.push(await h.publish({ n: 5 }));
    await waitUntil(async () => (await Promise.all([m1, ...missed].map((m) => h.status(m)))).every((s) => s === 'failed'), 10_000, 'missed while disabled');
    assert.ok((await h.engine.repo.getAttempts(missed[2]!)).some((a) => a.error === 'endpoint disabled'), 'published while disabled: failed at once, not attempted');
    failing = false;
    await waitUntil(() => all('endpoint.recovered') === 1, 10_000, 'endpoint.recovered');
    const ev = gws.flatMap((g) => g.events).find((e) => e.type === 'endpoint.recovered')!;
    assert.ok([m1, ...missed].includes(ev.data.probeMsgId as string), 'the probe is a missed delivery');
    assert.equal(ev.data.missed, 4);
    assert.equal(ev.data.replayed, replayMissed ? 3 : 0);
    const ep = await h.engine.repo.getEndpoint('ep');
    assert.equal(ep?.disabled, false, 'enabled again');
    assert.equal((await h.health()).state, 'healthy');
    const probe = ev.data.probeMsgId as string;
    assert.equal(await h.status(probe), 'delivered', 'the probe delivered it');
    const rest = [m1, ...missed].filter((m) => m !== probe);
    if (replayMissed) {
      await waitUntil(async () => (await Promise.all(rest.map((m) => h.status(m)))).every((s) => s === 'delivered'), 10_000, 'replayed');
    } else {
      for (const m of rest) assert.equal(await h.status(m), 'failed', 'counted only');
    }
    // A new message goes out as usual.
    const m4 = await h.publish({ n: 4 });
    await waitUntil(async () => (await h.status(m4)) === 'delivered', 10_000, 'delivered after recovery');
    assert.equal(all('endpoint.recovered'), 1, 'recovered once');
  });
}

test('an endpoint an operator disabled is never probed back', async () => {
  const rx = await receiver((_q, res) => void res.writeHead(500).end());
  const h = await healthGateway('memory', `  retry: { schedule: [0] }
  breaker: { probeEvery: "50ms" }
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "${SECRET}" }`);
  onClose(() => h.stop());
  const m = await h.publish();
  await waitUntil(async () => (await h.status(m)) === 'failed', 10_000, 'a failed delivery to probe with');
  assert.equal((await h.g.admin('PATCH', '/admin/endpoints/ep', { disabled: true })).status, 200);
  const health = await h.health();
  assert.equal(health.state, 'disabled');
  assert.equal(health.reason, 'disabled through the admin API');
  assert.equal(health.nextProbeAt, null);
  await (h.engine as unknown as { recovery: { tick(): Promise<void> } }).recovery.tick();
  assert.equal(rx.requests.length, 1, 'no probe');
  assert.equal(count(h.events, 'endpoint.recovered'), 0);
});

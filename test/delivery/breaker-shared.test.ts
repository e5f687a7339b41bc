/**
 * The breaker shared by two gateways on one Redis (one queue, one prefix): exactly one half-open
 * probe goes out across both, and the others wait for its answer.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitUntil } from '../support/http.js';
import { count, deleteHealthKeys, healthGateway, healthPrefix, SECRET } from './health-env.js';
import { openResources } from './resources.js';

const { onClose, receiver } = openResources();
after(() => deleteHealthKeys());

test('two instances sharing Redis send one probe; the rest is held until it answers', async () => {
  let probeAt = Infinity;
  let probeAnsweredAt = Infinity;
  let probes = 0;
  let duringProbe: Promise<string[]> | undefined;
  const times: number[] = [];
  const rx = await receiver((_q, res) => {
    const t = Date.now();
    times.push(t);
    if (t < probeAt) return void res.writeHead(500).end();
    // The first request from the probe time on is the probe: it answers late, so any second probe
    // (a held job another instance let through) would arrive before its answer.
    if (probes++ === 0) {
      // What both instances show while the probe is out.
      duringProbe = Promise.all([a, b].map(async (g) => (await g.health()).state));
      setTimeout(() => {
        probeAnsweredAt = Date.now();
        res.writeHead(200).end();
      }, 400);
      return;
    }
    res.writeHead(200).end();
  });
  const prefix = healthPrefix('breaker-shared');
  const egress = `  retry: { schedule: [0${', "20ms"'.repeat(9)}] }
  breaker: { consecutiveFailures: 2, openFor: ["1500ms"] }
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "${SECRET}" }`;
  const a = await healthGateway('redis', egress, prefix);
  onClose(() => a.stop());
  const b = await healthGateway('redis', egress, prefix);
  onClose(() => b.stop());
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push(await (i % 2 ? b : a).publish({ i }));
  await waitUntil(() => count(a.events, 'endpoint.breaker.opened') + count(b.events, 'endpoint.breaker.opened') > 0, 10_000, 'opened on one instance');
  const opened = [...a.events, ...b.events].find((e) => e.type === 'endpoint.breaker.opened')!;
  probeAt = Date.parse(opened.data.probeAt as string);
  // Both instances see the shared state (the other one through the store).
  assert.equal((await a.health()).state, 'open');
  assert.equal((await b.health()).state, 'open');
  await waitUntil(async () => (await Promise.all(ids.map((id) => a.status(id)))).every((s) => s === 'delivered'), 20_000, 'all delivered after the probe');
  const probing = times.filter((t) => t >= probeAt && t < probeAnsweredAt);
  assert.equal(probing.length, 1, 'exactly one probe across both instances');
  assert.deepEqual(await duringProbe, ['half-open', 'half-open']);
  assert.equal(count(a.events, 'endpoint.breaker.opened') + count(b.events, 'endpoint.breaker.opened'), 1, 'opened once');
  assert.equal(count(a.events, 'endpoint.breaker.closed') + count(b.events, 'endpoint.breaker.closed'), 1, 'closed once');
  for (const id of ids) {
    const att = await a.attempts(id);
    assert.equal(att.at(-1)!.status, 200);
    assert.ok(att.length <= 10, 'no attempt budget burned while held');
  }
});

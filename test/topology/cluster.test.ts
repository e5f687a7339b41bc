/**
 * hookgate on a real Redis Cluster (3 masters, 3 replicas, on loopback): two instances share
 * rate limits and replay windows, one publishes and the other delivers, a killed instance loses
 * nothing, and a master failover under load loses nothing acknowledged with `durability: replicated`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../support/http.js';
import { RedisClusterTopology } from '../support/redis-topology.js';
import { assertOrderedWithRetry, assertSharedIngressState, problems, ingress, lost, publish, report, runLoad, startInstance, startReceiver, writeConfig, type Instance, type Receiver } from '../support/topology-scenario.js';

const tmp = mkdtempSync(join(tmpdir(), 'hookgate-cluster-test-'));
let topo: RedisClusterTopology | undefined;
let rx: Receiver;
const instances = new Set<Instance>();
/** `HG_MEASURE_PRIMARY=1` also measures the failover without WAIT (reported, losses not asserted). */
const DURABILITIES = ['replicated', ...(process.env.HG_MEASURE_PRIMARY ? ['primary'] : [])];

async function instance(name: string, prefix: string, concurrency: number, durability = 'replicated'): Promise<Instance> {
  const store = `{ driver: redis, prefix: "${prefix}", cluster: { nodes: [${topo!.startupNodes.map((n) => `"${n}"`).join(', ')}] }, durability: ${durability}, waitTimeoutMs: 2000 }`;
  const i = await startInstance(writeConfig(tmp, `${name}-${prefix.replace(/\W/g, '')}`, store, rx.rx.url, concurrency));
  instances.add(i);
  return i;
}

describe('Redis Cluster (3 masters, 3 replicas)', { timeout: 240_000 + 50_000 * (DURABILITIES.length - 1) }, () => {
  before(async () => {
    topo = await RedisClusterTopology.start();
    rx = await startReceiver();
  });
  after(async () => {
    for (const i of instances) await i.started.kill();
    await rx?.rx.close();
    await topo?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('shares the rate limit and the replay window; what one instance accepts the other delivers', async () => {
    const a = await instance('a', 'hgc1:', 0);
    const b = await instance('b', 'hgc1:', 8);
    await assertSharedIngressState(a, b);
    await assertOrderedWithRetry(a, rx);
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) {
      const r = await (n % 2 ? ingress(a, n) : publish(a, n));
      assert.equal(r?.status, 202);
      ids.push(r!.id!);
    }
    // a is queue-only (egress.concurrency 0): b delivers everything a accepted.
    await waitUntil(() => lost(ids, rx).length === 0, 20000, 'b to deliver what a accepted');
  });

  it('loses nothing when the delivering instance is killed -9 mid-delivery', async () => {
    rx.delayMs = 40;
    const a = await instance('a', 'hgc2:', 0);
    const b = await instance('b', 'hgc2:', 4);
    const ids: string[] = [];
    for (let n = 0; n < 80; n++) ids.push((await publish(a, n))!.id!);
    const base = rx.seen.length;
    await waitUntil(() => rx.seen.length - base >= 10, 20000, 'some deliveries');
    await b.started.kill();
    assert.ok(lost(ids, rx).length > 0, 'killed mid-delivery');
    const b2 = await instance('b2', 'hgc2:', 4);
    await waitUntil(() => lost(ids, rx).length === 0, 30000, 'every accepted message delivered after the kill').catch((err) => {
      throw new Error(`${(err as Error).message}: ${lost(ids, rx).length} lost; ${problems(b2)}`);
    });
    rx.delayMs = 0;
  });

  for (const durability of DURABILITIES) {
    it(`keeps serving through a master failover; nothing acknowledged is lost${durability === 'replicated' ? '' : ' (measured)'} (durability: ${durability})`, async () => {
      const prefix = `hgc3${durability[0]}:`;
      const a = await instance('a', prefix, 0, durability);
      const b = await instance('b', prefix, 8, durability);
      // The master of the queue's slot (the delivery data shares its hash tag) has a replica.
      const victimPort = await topo!.masterOf(`{hgq:${prefix}}`);
      const victim = topo!.byPort(victimPort);
      let failover: Promise<void> | undefined;
      const t0 = Date.now();
      const load = await runLoad(a, b, 300, 4, (sent) => {
        if (sent !== 60 || failover) return;
        failover = (async () => {
          await victim.kill();
          // Once a replica took over, the old master comes back as its replica (nodes.conf kept).
          await waitUntil(async () => (await topo!.roles()).some((r) => r.port === victimPort && r.fail), 20000, 'the cluster to mark the master failed');
          await waitUntil(async () => (await topo!.masterOf(`{hgq:${prefix}}`).catch(() => victimPort)) !== victimPort, 20000, 'a replica promoted');
          await victim.start();
          await topo!.waitHealthy(30000);
        })();
      });
      await failover;
      // Still serving, without a restart of either instance.
      await waitUntil(async () => (await publish(a, -1))?.status === 202 && (await ingress(b, -2))?.status === 202, 20000, 'both instances to accept again');
      await waitUntil(() => lost(load.accepted, rx).length === 0, 90000, 'every accepted message delivered').catch(() => {});
      const line = report('cluster', durability, load, rx, Date.now() - t0);
      console.log(line);
      assert.equal(load.gaveUp, 0, `every item acknowledged in the end: ${line}`);
      if (durability === 'replicated') assert.deepEqual(lost(load.accepted, rx), [], line);
    });
  }
});

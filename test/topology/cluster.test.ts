/**
 * hookgate on a real Redis Cluster (3 masters, 3 replicas, on loopback): two instances share
 * rate limits and replay windows, one publishes and the other delivers, a killed instance loses
 * nothing, and a master failover under load loses nothing acknowledged with `durability: replicated`.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../support/http.js';
import { RedisClusterTopology } from '../support/redis-topology.js';
import { describeTopology, type TopologySpec, ingress, lost, publish, report, runLoad } from '../support/topology-scenario.js';

let topo: RedisClusterTopology | undefined;
/** `HG_MEASURE_PRIMARY=1` also measures the failover without WAIT (reported, losses not asserted). */
const DURABILITIES = ['replicated', ...(process.env.HG_MEASURE_PRIMARY ? ['primary'] : [])];

const CLUSTER: TopologySpec<RedisClusterTopology> = {
  start: async () => (topo = await RedisClusterTopology.start()),
  store: (t) => `cluster: { nodes: [${t.startupNodes.map((n) => `"${n}"`).join(', ')}] }`,
  prefix: 'hgc',
  timeoutMs: 240_000 + 50_000 * (DURABILITIES.length - 1),
};

describeTopology('Redis Cluster (3 masters, 3 replicas)', CLUSTER, ({ rx, instance }) => {
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

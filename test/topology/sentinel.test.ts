/**
 * hookgate on a real Sentinel setup (a master, one replica, three sentinels, on loopback): two
 * instances share rate limits and replay windows, one publishes and the other delivers, a killed
 * instance loses nothing, and a kill -9 of the master under load loses nothing acknowledged with
 * `durability: replicated`.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../support/http.js';
import { RedisSentinelTopology } from '../support/redis-topology.js';
import { describeTopology, type TopologySpec, ingress, lost, problems, publish, report, runLoad } from '../support/topology-scenario.js';

let topo: RedisSentinelTopology | undefined;
/** `HG_MEASURE_PRIMARY=1` also measures the failover without WAIT (reported, losses not asserted). */
const DURABILITIES = ['replicated', ...(process.env.HG_MEASURE_PRIMARY ? ['primary'] : [])];

const SENTINEL: TopologySpec<RedisSentinelTopology> = {
  start: async () => (topo = await RedisSentinelTopology.start()),
  store: (t) => `sentinel: { name: ${t.name}, sentinels: [${t.sentinelNodes.map((n) => `"${n}"`).join(', ')}] }`,
  prefix: 'hgs',
  timeoutMs: 240_000 + 50_000 * (DURABILITIES.length - 1),
};

describeTopology('Redis Sentinel (master, replica, three sentinels)', SENTINEL, ({ rx, instance }) => {
  for (const durability of DURABILITIES) {
    it(`keeps serving after the master is killed -9 under load; nothing acknowledged is lost${durability === 'replicated' ? '' : ' (measured)'} (durability: ${durability})`, async () => {
      const a = await instance('a', `hgs3${durability[0]}:`, 0, durability);
      const b = await instance('b', `hgs3${durability[0]}:`, 8, durability);
      const oldPort = await topo!.masterPort();
      const old = topo!.byPort(oldPort);
      let failover: Promise<void> | undefined;
      const t0 = Date.now();
      const marks: string[] = [];
      const mark = (what: string) => marks.push(`${Date.now() - t0} ms ${what}`);
      const load = await runLoad(a, b, 300, 4, (sent) => {
        if (sent !== 60 || failover) return;
        failover = (async () => {
          await old.kill();
          mark('master killed');
          await waitUntil(async () => ((await topo!.agreedMasterPort().catch(() => oldPort)) ?? oldPort) !== oldPort, 60000, 'every sentinel to name the promoted replica');
          mark('every sentinel names the promoted replica');
          // The old master comes back empty (no persistence); the sentinels turn it into the new
          // master's replica. Only once all of them have moved on: see agreedMasterPort.
          await old.start();
          mark('old master restarted');
          await waitUntil(async () => (await topo!.cli(oldPort, 'INFO', 'replication')).includes('role:slave'), 60000, 'the old master to rejoin as a replica').then(() => mark('old master is a replica'), () => mark('old master NOT a replica after 60 s'));
        })();
      });
      mark(`load done (${load.sent} items)`);
      await failover;
      let last = '';
      await waitUntil(async () => {
        const p = await publish(a, -1);
        const i = await ingress(b, -2);
        last = `publish ${p?.status}, ingress ${i?.status}`;
        return p?.status === 202 && i?.status === 202;
      }, 30000, 'both instances to accept again').catch(async (err) => {
        throw new Error(`${(err as Error).message}: ${last}; timeline: ${marks.join(', ')}; ${await topo!.describe()}; ${problems(a)} || ${problems(b)}`);
      });
      await waitUntil(() => lost(load.accepted, rx).length === 0, 90000, 'every accepted message delivered').catch(() => {});
      const line = `${report('sentinel', durability, load, rx, Date.now() - t0)}; timeline: ${marks.join(', ')}${load.gaveUp || lost(load.accepted, rx).length ? `; ${await topo!.describe()}` : ''}`;
      console.log(line);
      assert.equal(load.sent, 300, `every item sent within the load's deadline: ${line}`);
      assert.equal(load.gaveUp, 0, `every item acknowledged in the end: ${line}`);
      if (durability === 'replicated') assert.deepEqual(lost(load.accepted, rx), [], `${line}; ${problems(b)}`);
    });
  }
});

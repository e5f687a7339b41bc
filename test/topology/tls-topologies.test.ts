/**
 * TLS and an ACL user on a real Redis Cluster (3 masters) and a real Sentinel setup (a master, a
 * replica, three sentinels), every process TLS-only on loopback with the `default` user off: a
 * `hookgate start` child with `store.cluster` / `store.sentinel`, `tls: { ca }` and
 * `username`/`password` accepts a publish and an ingress request and delivers them, the ingress
 * rate limit and the replay window hold, and a wrong password is a clear error that never shows
 * the password.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli } from '../support/cli.js';
import { waitUntil } from '../support/http.js';
import { cli, RedisClusterTopology, RedisSentinelTopology, type SecureOptions } from '../support/redis-topology.js';
import { assertSharedIngressState, ingress, lost, post, problems, publish, startInstance, startReceiver, writeConfig, type Instance, type Receiver } from '../support/topology-scenario.js';

const SECURE: SecureOptions = { user: 'hgtls', pass: 'tls-acl-pw-5e3c1', sentinelUser: 'hgsentinel', sentinelPass: 'sentinel-pw-77b2a' };
const WRONG = 'wrong-pw-9d41f';
const tmp = mkdtempSync(join(tmpdir(), 'hookgate-tls-topology-test-'));
const instances = new Set<Instance>();
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const i of instances) await i.started.kill().catch(() => {});
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

async function instance(name: string, store: string, rx: Receiver): Promise<Instance> {
  const i = await startInstance(writeConfig(tmp, name, store, rx.rx.url, 4));
  instances.add(i);
  return i;
}

/** Publish and ingress delivered; the rate limit and the replay window hold (on one instance). */
async function assertServes(i: Instance, rx: Receiver): Promise<void> {
  const p = await publish(i, 1);
  assert.equal(p?.status, 202, `publish: ${p?.status} ${p?.code}; ${problems(i)}`);
  const g = await ingress(i, 2);
  assert.equal(g?.status, 202, `ingress: ${g?.status} ${g?.code}`);
  await waitUntil(() => lost([p!.id!, g!.id!], rx).length === 0, 20000, 'both delivered over TLS');
  await assertSharedIngressState(i, i).catch((err: Error) => {
    throw new Error(`${err.message}; ${problems(i)}`);
  });
}

/**
 * A wrong password: hookgate's log says Redis refused the login and what to check (it then exits
 * at start, as the delivery engine cannot write its endpoints; if it still serves, a publish is a
 * 503), and neither password appears in anything it printed.
 */
async function assertWrongPassword(store: string, expect: RegExp): Promise<void> {
  const started = startCli(writeConfig(tmp, `wrong-${Date.now()}`, store, 'http://127.0.0.1:9', 4));
  instances.add({ started, port: 0, adminPort: 0 });
  const all = () => `${started.stderr()}\n${started.stdout()}`;
  await waitUntil(() => expect.test(all()), 20000, 'the refused login in the log').catch((err) => {
    throw new Error(`${(err as Error).message}: ${all().slice(-2000)}`);
  });
  const m = /listening on http:\/\/[^:]+:(\d+)/.exec(started.stderr());
  if (m) {
    const r = await post({ started, port: Number(m[1]), adminPort: 0 }, '/events', JSON.stringify({ type: 'topology.test', data: { n: 0 } }));
    if (r) assert.equal(r.status, 503, `a publish without a store is 503, not ${r.status}`);
  }
  await started.kill();
  assert.doesNotMatch(all(), new RegExp(WRONG), 'the wrong password is never printed');
  assert.doesNotMatch(all(), new RegExp(SECURE.pass), 'nor the right one');
  assert.doesNotMatch(all(), new RegExp(SECURE.sentinelPass!), 'nor the sentinels\' one');
}

describe('TLS + ACL user on Redis Cluster (3 masters)', { timeout: 60_000 }, () => {
  let topo: RedisClusterTopology | undefined;
  let rx: Receiver;
  const store = (pass: string, prefix: string) =>
    `{ driver: redis, prefix: "${prefix}", cluster: { nodes: [${topo!.startupNodes.map((n) => `"${n}"`).join(', ')}] }, username: ${SECURE.user}, password: "${pass}", tls: { ca: "${topo!.sec!.ca}" } }`;
  before(async () => {
    topo = await RedisClusterTopology.start({ secure: SECURE, replicas: 0 });
    cleanups.push(() => topo!.stop());
    rx = await startReceiver();
    cleanups.push(() => rx.rx.close());
  });

  it('the nodes refuse plain connections and the default user', async () => {
    const port = topo!.nodes[0]!.port;
    assert.equal((await topo!.cli(port, 'PING')).trim(), 'PONG', 'TLS as the ACL user answers');
    assert.notEqual((await cli(port, 'PING')).trim(), 'PONG', 'plain TCP does not');
    assert.notEqual((await cli(port, '--tls', '--cacert', topo!.sec!.ca, 'PING')).trim(), 'PONG', 'nor TLS as the default user');
  });

  it('publishes and delivers over TLS as the ACL user; the rate limit and replay window hold', async () => {
    await assertServes(await instance('cluster-ok', store(SECURE.pass, 'hgtc1:'), rx), rx);
  });

  it('a wrong password is a clear error that does not show the password', async () => {
    await assertWrongPassword(store(WRONG, 'hgtc2:'), /WRONGPASS invalid username-password pair.*refused the login: check store\.username and store\.password/);
  });
});

describe('TLS + ACL user on Redis Sentinel (master, replica, three TLS sentinels)', { timeout: 60_000 }, () => {
  let topo: RedisSentinelTopology | undefined;
  let rx: Receiver;
  const store = (pass: string, prefix: string, sentinelPass = SECURE.sentinelPass!) =>
    `{ driver: redis, prefix: "${prefix}", sentinel: { name: ${topo!.name}, sentinels: [${topo!.sentinelNodes.map((n) => `"${n}"`).join(', ')}], username: ${SECURE.sentinelUser}, password: "${sentinelPass}" }, username: ${SECURE.user}, password: "${pass}", tls: { ca: "${topo!.sec!.ca}" } }`;
  before(async () => {
    topo = await RedisSentinelTopology.start({ secure: SECURE });
    cleanups.push(() => topo!.stop());
    rx = await startReceiver();
    cleanups.push(() => rx.rx.close());
  });

  it('the data nodes and the sentinels answer on TLS only; the replica syncs over TLS', async () => {
    const [master, replica] = topo!.data;
    assert.notEqual((await cli(master!.port, 'PING')).trim(), 'PONG', 'no plain TCP to the master');
    assert.match(await topo!.cli(replica!.port, 'INFO', 'replication'), /master_link_status:up/);
    const s = topo!.sentinels[0]!.port;
    assert.notEqual((await cli(s, 'PING')).trim(), 'PONG', 'no plain TCP to a sentinel');
    assert.notEqual((await cli(s, '--tls', '--cacert', topo!.sec!.ca, 'PING')).trim(), 'PONG', 'nor TLS as the default user');
    assert.equal((await cli(s, ...topo!.sentinelCliArgs, 'PING')).trim(), 'PONG', 'TLS as the sentinel ACL user answers');
  });

  it('publishes and delivers over TLS as the ACL user; the rate limit and replay window hold', async () => {
    await assertServes(await instance('sentinel-ok', store(SECURE.pass, 'hgts1:'), rx), rx);
  });

  it('a wrong password is a clear error that does not show the password', async () => {
    await assertWrongPassword(store(WRONG, 'hgts2:'), /"err":"WRONGPASS invalid username-password pair/);
  });

  it('a wrong sentinel password is a clear error that says the sentinels refused it', async () => {
    await assertWrongPassword(store(SECURE.pass, 'hgts3:', WRONG), /All sentinels are unreachable.*Last error: WRONGPASS invalid username-password pair/);
  });
});

/**
 * Real Redis topologies on loopback for the topology tests: a 3-master Cluster with one replica
 * each, and a master + replica watched by three sentinels. Every process is a `redis-server` of
 * the machine on a free port, in a temp dir of its own, stopped by pid.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort, waitUntil } from './http.js';
import { issue, makeCa } from './tls.js';

const exec = promisify(execFile);

/** `redis-cli -p <port> <args>`: its stdout, or '' when the node does not answer. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  try {
    return (await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 })).stdout;
  } catch {
    return '';
  }
}

/** One redis-server process (data node or sentinel). */
export class RedisProcess {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly args: string[],
    /** Extra redis-cli arguments for the readiness PING (e.g. TLS). */
    private readonly cliArgs: string[] = [],
  ) {}

  async start(): Promise<void> {
    const child = spawn('redis-server', this.args, { stdio: 'ignore' });
    this.child = child;
    await waitUntil(async () => (await cli(this.port, ...this.cliArgs, 'PING')).trim() === 'PONG' || child.exitCode !== null, 10000, `redis-server on ${this.port}`);
    if (child.exitCode !== null) throw new Error(`redis-server on ${this.port} exited with ${child.exitCode}`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** kill -9 by pid; resolves once it exited. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    process.kill(c.pid!, 'SIGKILL');
    await exited;
  }
}

/**
 * TLS and an ACL user for every process of a group: a test CA and a server certificate for
 * 127.0.0.1 / localhost (files in the group's dir), TLS-only ports (`--port 0`), no client
 * certificates, TLS between the nodes too, the `default` user off and one user with every right.
 */
export interface SecureOptions {
  user: string;
  pass: string;
  /** Sentinel only: an ACL user of the sentinels themselves (`default` off there too; they use it among themselves). */
  sentinelUser?: string;
  sentinelPass?: string;
}

/** The files and arguments of a secured group. */
export interface Secure extends SecureOptions {
  ca: string;
  cert: string;
  key: string;
  /** `--tls …` arguments for redis-server / sentinel (without the port). */
  tlsArgs: string[];
  /** redis-cli arguments: TLS with the CA, the ACL user. */
  cliArgs: string[];
}

async function secure(dir: string, o: SecureOptions): Promise<Secure> {
  const ca = await makeCa('hookgate-redis-topology-ca');
  const server = await issue(ca, { commonName: 'localhost' }, { dns: ['localhost'], ips: ['127.0.0.1'] });
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem') };
  writeFileSync(files.ca, ca.cert);
  writeFileSync(files.cert, server.cert);
  writeFileSync(files.key, server.key, { mode: 0o600 });
  return {
    ...o,
    ...files,
    tlsArgs: ['--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no', '--tls-replication', 'yes'],
    cliArgs: ['--tls', '--cacert', files.ca, '--user', o.user, '--pass', o.pass, '--no-auth-warning'],
  };
}

/** A group of redis-server processes, stopped together; its temp dir removed. */
export class RedisGroup {
  protected readonly procs: RedisProcess[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'hookgate-topology-'));
  /** TLS files and the ACL user, when the group is secured ({@link secureWith}). */
  sec: Secure | undefined;

  /** Secures every node created after this call: TLS only, and the ACL user. */
  async secureWith(o: SecureOptions): Promise<Secure> {
    this.sec = await secure(this.dir, o);
    return this.sec;
  }

  /** `redis-cli` to one of this group's processes (over TLS, as the ACL user, when secured). */
  cli(port: number, ...args: string[]): Promise<string> {
    return cli(port, ...(this.sec?.cliArgs ?? []), ...args);
  }

  /** The port and auth arguments of a node: plain, or TLS-only with the ACL user. */
  protected portArgs(port: number): string[] {
    const s = this.sec;
    if (!s) return ['--port', String(port)];
    return ['--port', '0', '--tls-port', String(port), ...s.tlsArgs, '--user', 'default', 'off', '--user', s.user, 'on', `>${s.pass}`, '~*', '&*', '+@all', '--masteruser', s.user, '--masterauth', s.pass];
  }

  /** Stops every process by pid (idempotent; safe after a failed start). */
  async stop(): Promise<void> {
    for (const p of this.procs) await p.kill().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A data node on a free port (not started), in a dir of its own. */
  async node(name: string, extra: string[]): Promise<RedisProcess> {
    const port = await closedPort();
    const d = join(this.dir, `${name}-${port}`);
    mkdirSync(d, { recursive: true });
    return this.add(new RedisProcess(port, [...this.portArgs(port), '--bind', '127.0.0.1', '--dir', d, '--save', '', '--appendonly', 'no', ...extra], this.sec?.cliArgs));
  }

  /** Adopts a process, so {@link stop} stops it. */
  add(p: RedisProcess): RedisProcess {
    this.procs.push(p);
    return p;
  }
}

/** Options of a test topology: TLS and an ACL user ({@link SecureOptions}); Cluster: replicas per master (default 1). */
export interface TopologyOptions {
  secure?: SecureOptions;
  replicas?: 0 | 1;
}

/** Redis Cluster: 3 masters, 3 replicas (or none), cluster-node-timeout 1000 ms. */
export class RedisClusterTopology extends RedisGroup {
  nodes: RedisProcess[] = [];
  replicas: 0 | 1 = 1;

  static async start(o: TopologyOptions = {}): Promise<RedisClusterTopology> {
    const t = new RedisClusterTopology();
    t.replicas = o.replicas ?? 1;
    try {
      if (o.secure) await t.secureWith(o.secure);
      const tls = t.sec ? ['--tls-cluster', 'yes'] : [];
      for (let i = 0; i < 3 * (1 + t.replicas); i++) {
        // No diskless-sync delay: with one replica per master nothing is gained by waiting (5 s by
        // default) for more replicas to share a transfer, and WAIT answers 0 until the sync is done.
        // The bus port is chosen free too: the default (port + 10000) can land on a port in use.
        const n = await t.node(`cluster${i}`, ['--cluster-enabled', 'yes', '--cluster-port', String(await t.busPort()), '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0', '--repl-diskless-sync-delay', '0', ...tls]);
        t.nodes.push(n);
      }
      await Promise.all(t.nodes.map((n) => n.start()));
      await exec('redis-cli', [...(t.sec?.cliArgs ?? []), '--cluster', 'create', ...t.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(t.replicas), '--cluster-yes'], { timeout: 30000 });
      await t.waitHealthy();
      return t;
    } catch (err) {
      await t.stop();
      throw err;
    }
  }

  /** A free port for a node's cluster bus, none of the ports this group already took. */
  private async busPort(): Promise<number> {
    const taken = new Set(this.procs.map((p) => p.port));
    for (;;) {
      const port = await closedPort();
      if (!taken.has(port) && !this.buses.has(port)) return this.buses.add(port), port;
    }
  }
  private readonly buses = new Set<number>();

  /** Startup nodes for `store.cluster.nodes`. */
  get startupNodes(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`);
  }

  /** The `cluster nodes` lines of the running nodes' view, as {port, role, masterId, id}. */
  async roles(): Promise<{ port: number; id: string; master: boolean; fail: boolean; masterId: string }[]> {
    const from = this.nodes.find((n) => n.running)!;
    return (await this.cli(from.port, 'CLUSTER', 'NODES'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [id, addr, flags, masterId] = l.split(' ');
        return { id: id!, port: Number(addr!.split(':')[1]!.split('@')[0]), master: flags!.includes('master'), fail: /fail/.test(flags!), masterId: masterId! };
      });
  }

  /**
   * Every running node says cluster_state:ok, and 3 live masters each have a live replica (if any)
   * that finished its sync: a replica still in its first sync is listed as live, but acknowledges
   * nothing, so `durability: replicated` would answer 503 HG_STORE_NOT_REPLICATED until it is done.
   */
  async waitHealthy(timeoutMs = 30000): Promise<void> {
    await waitUntil(
      async () => {
        for (const n of this.nodes.filter((x) => x.running)) if (!(await this.cli(n.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        const r = await this.roles();
        const masters = r.filter((x) => x.master && !x.fail);
        if (masters.length !== 3) return false;
        if (this.replicas === 0) return true;
        if (!masters.every((m) => r.some((x) => !x.master && !x.fail && x.masterId === m.id))) return false;
        for (const m of masters) if (!/^slave\d+:.*state=online/m.test(await this.cli(m.port, 'INFO', 'replication'))) return false;
        return true;
      },
      timeoutMs,
      `a healthy cluster (3 masters${this.replicas ? ', each with a replica in sync' : ''})`,
    );
  }

  /** The port of the master serving `key`'s slot. */
  async masterOf(key: string): Promise<number> {
    const slot = Number((await this.cli(this.nodes.find((n) => n.running)!.port, 'CLUSTER', 'KEYSLOT', key)).trim());
    const lines = (await this.cli(this.nodes.find((n) => n.running)!.port, 'CLUSTER', 'NODES')).trim().split('\n');
    for (const l of lines) {
      const parts = l.split(' ');
      if (!parts[2]!.includes('master') || /fail/.test(parts[2]!)) continue;
      for (const range of parts.slice(8)) {
        const [a, b] = range.split('-').map(Number);
        if (slot >= a! && slot <= (b ?? a!)) return Number(parts[1]!.split(':')[1]!.split('@')[0]);
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  byPort(port: number): RedisProcess {
    return this.nodes.find((n) => n.port === port)!;
  }
}

/**
 * A master, one replica and three sentinels (quorum 2, down-after 1000 ms). Secured: the data
 * nodes and the sentinels listen on TLS only; the sentinels reach the data nodes over TLS as the
 * ACL user (`sentinel auth-user`/`auth-pass`) and each other over TLS; with `sentinelUser` they
 * have an ACL user of their own (`sentinel-user`/`sentinel-pass` among themselves).
 */
export class RedisSentinelTopology extends RedisGroup {
  readonly name = 'hgmaster';
  data: RedisProcess[] = [];
  sentinels: RedisProcess[] = [];

  static async start(o: Pick<TopologyOptions, 'secure'> = {}): Promise<RedisSentinelTopology> {
    const t = new RedisSentinelTopology();
    try {
      if (o.secure) await t.secureWith(o.secure);
      const master = await t.node('master', []);
      await master.start();
      const replica = await t.node('replica', ['--replicaof', '127.0.0.1', String(master.port)]);
      await replica.start();
      t.data = [master, replica];
      await waitUntil(async () => (await t.cli(master.port, 'INFO', 'replication')).includes('state=online'), 10000, 'the replica to sync');
      for (let i = 0; i < 3; i++) {
        const port = await closedPort();
        const file = join(t.dir, `sentinel-${port}.conf`);
        const sec = t.sec;
        const ports = sec ? ['port 0', `tls-port ${port}`, `tls-cert-file ${sec.cert}`, `tls-key-file ${sec.key}`, `tls-ca-cert-file ${sec.ca}`, 'tls-auth-clients no', 'tls-replication yes'] : [`port ${port}`];
        const auth = sec ? [`sentinel auth-user ${t.name} ${sec.user}`, `sentinel auth-pass ${t.name} ${sec.pass}`] : [];
        if (sec?.sentinelUser) auth.push('user default off', `user ${sec.sentinelUser} on >${sec.sentinelPass} ~* &* +@all`, `sentinel sentinel-user ${sec.sentinelUser}`, `sentinel sentinel-pass ${sec.sentinelPass}`);
        writeFileSync(file, [...ports, 'bind 127.0.0.1', `dir ${t.dir}`, `sentinel monitor ${t.name} 127.0.0.1 ${master.port} 2`, ...auth, `sentinel down-after-milliseconds ${t.name} 1000`, `sentinel failover-timeout ${t.name} 2000`, `sentinel parallel-syncs ${t.name} 1`, ''].join('\n'));
        const s = t.add(new RedisProcess(port, [file, '--sentinel'], t.sentinelCliArgs));
        t.sentinels.push(s);
        await s.start();
      }
      await waitUntil(async () => (await t.sentinelsKnown()) >= 2, 15000, 'the sentinels to find each other');
      return t;
    } catch (err) {
      await t.stop();
      throw err;
    }
  }

  /** redis-cli arguments for a sentinel: TLS when secured, and the sentinels' own ACL user if they have one. */
  get sentinelCliArgs(): string[] {
    const s = this.sec;
    if (!s) return [];
    return ['--tls', '--cacert', s.ca, ...(s.sentinelUser ? ['--user', s.sentinelUser, '--pass', s.sentinelPass ?? '', '--no-auth-warning'] : [])];
  }

  private async sentinelsKnown(): Promise<number> {
    const m = /num-other-sentinels\n(\d+)/.exec(await cli(this.sentinels[0]!.port, ...this.sentinelCliArgs, 'SENTINEL', 'MASTER', this.name));
    return m ? Number(m[1]) : 0;
  }

  /** Addresses for `store.sentinel.sentinels`. */
  get sentinelNodes(): string[] {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`);
  }

  /** The port the sentinels currently name as master. */
  async masterPort(): Promise<number> {
    const out = (await cli(this.sentinels.find((s) => s.running)!.port, ...this.sentinelCliArgs, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)).trim().split('\n');
    return Number(out[1]);
  }

  /**
   * The master as every running sentinel sees it, or undefined while they disagree. A master
   * without persistence must not come back before all of them have moved on: one that still
   * names it could make the promoted replica resync from it, empty (Redis' own warning).
   */
  async agreedMasterPort(): Promise<number | undefined> {
    const ports = await Promise.all(
      this.sentinels.filter((s) => s.running).map(async (s) => Number((await cli(s.port, ...this.sentinelCliArgs, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)).trim().split('\n')[1])),
    );
    return ports.every((p) => p === ports[0]) ? ports[0] : undefined;
  }

  byPort(port: number): RedisProcess {
    return this.data.find((n) => n.port === port)!;
  }

  /** Each data node's replication role and link, and the first running sentinel's view: for a failure message. */
  async describe(): Promise<string> {
    const field = (info: string, k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
    const nodes = await Promise.all(
      this.data.map(async (n) => {
        if (!n.running) return `${n.port} down`;
        const info = await this.cli(n.port, 'INFO', 'replication');
        return `${n.port} ${field(info, 'role')} (replicas ${field(info, 'connected_slaves')}, link ${field(info, 'master_link_status')}, offset ${field(info, 'master_repl_offset')})`;
      }),
    );
    const s = this.sentinels.find((x) => x.running);
    const view = s ? (await cli(s.port, ...this.sentinelCliArgs, 'SENTINEL', 'REPLICAS', this.name)).replace(/\s+/g, ' ').slice(0, 600) : 'no sentinel';
    return `nodes: ${nodes.join('; ')}; master by sentinels ${await this.agreedMasterPort().catch(() => undefined)}; replicas seen: ${view}`;
  }
}

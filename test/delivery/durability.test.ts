/**
 * Durability of the delivery engine on Redis: a `hookgate start` child killed with SIGKILL mid-
 * delivery loses nothing (at-least-once), SIGTERM finishes attempts in flight and leaves the rest
 * queued, and a Redis outage answers 503 instead of accepting work it cannot keep.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway.js';
import { httpRequest, startUpstream, waitUntil, type HttpResult, type TestUpstream } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';

// dist/test/delivery/durability.test.js → the package root is three levels up.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(ROOT, 'dist/gateway/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'hookgate-durability-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ID_HEADER = 'hookgate-message-id';

/** A running `hookgate start` child. */
interface Child {
  proc: ChildProcess;
  pid: number;
  port: number;
  adminPort: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL by pid if still running (cleanup). */
  kill(): Promise<void>;
}

const children = new Set<Child>();
after(async () => {
  for (const c of children) await c.kill();
});

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOOKGATE_')) env[k] = v;
  return { ...env, HOOKGATE_LOG_LEVEL: 'info' };
}

/** Starts the CLI on a config and waits for its "listening" line (ports are ephemeral). */
async function startChild(configFile: string): Promise<Child> {
  const proc = spawn(process.execPath, [CLI, 'start', '--config', configFile], { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  // Keep reading both pipes so the child never blocks on a full pipe; keep only a tail of stdout.
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.length > 1_000_000) out = out.slice(-500_000);
  });
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  const child: Child = {
    proc,
    pid: proc.pid!,
    port: 0,
    adminPort: 0,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: async () => {
      if (!done) {
        process.kill(proc.pid!, 'SIGKILL');
        await exited;
      }
      children.delete(child);
    },
  };
  children.add(child);
  const re = /listening on http:\/\/[^:]+:(\d+) \(admin on http:\/\/[^:]+:(\d+)\)/;
  await waitUntil(() => re.test(err) || done, 20000, 'hookgate to listen');
  const m = re.exec(err);
  if (!m) throw new Error(`hookgate did not start: ${err}\n${out.slice(-4000)}`);
  child.port = Number(m[1]);
  child.adminPort = Number(m[2]);
  return child;
}

/** SIGTERM by pid; resolves with the exit. */
async function terminate(c: Child, timeoutMs = 20000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  process.kill(c.pid, 'SIGTERM');
  const t = new Promise<never>((_r, rej) => setTimeout(() => rej(new Error(`pid ${c.pid} did not exit within ${timeoutMs} ms after SIGTERM`)), timeoutMs).unref());
  const res = await Promise.race([c.exited, t]);
  children.delete(c);
  return res;
}

function admin(c: Child, path: string): Promise<HttpResult> {
  return httpRequest({ port: c.adminPort, method: 'GET', path, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
}

/** Posts `n` requests to the deliver route (a few at a time); returns the accepted ids. */
async function acceptMany(port: number, n: number, parallel = 10): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await httpRequest({ port, method: 'POST', path: '/in', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i }) });
      assert.equal(r.status, 202, r.text);
      const id = r.json().id as string;
      assert.equal(r.headers[ID_HEADER], id);
      ids.push(id);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  assert.equal(new Set(ids).size, n, 'every accepted message has its own id');
  return ids;
}

/** A CLI config: redis store under `prefix`, a deliver route to `upstreamUrl`, small lock duration. */
function writeConfig(name: string, prefix: string, upstreamUrl: string): string {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(
    file,
    `
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "${ADMIN_TOKEN}" }
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
upstreams:
  recv: { targets: [ { url: "${upstreamUrl}" } ], timeoutMs: 10000 }
egress:
  lockDurationMs: 2000
  maxInFlightPerEndpoint: 4
routes:
  - name: in
    path: /in
    methods: [POST]
    deliver: { upstream: recv, retry: { schedule: ["0ms", "100ms", "200ms", "500ms", "1s", "1s", "1s"] } }
`,
  );
  return file;
}

function sameSet(a: Iterable<string>, b: Iterable<string>): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

describe('delivery durability (redis)', () => {
  it('loses nothing when the gateway is killed with SIGKILL mid-delivery (at-least-once)', async () => {
    const prefix = testPrefix('dur-kill');
    const seen: string[] = [];
    // A slow receiver: it holds each request ~75 ms before answering 200 (part of the scenario).
    const rx = await startUpstream((req, res) => {
      seen.push(String(req.headers[ID_HEADER]));
      setTimeout(() => res.end('ok'), 75);
    });
    let c1: Child | undefined;
    let c2: Child | undefined;
    try {
      const file = writeConfig('kill', prefix, rx.url);
      c1 = await startChild(file);
      const accepted = await acceptMany(c1.port, 200);
      await waitUntil(() => new Set(seen).size >= 30, 30000, 'some deliveries');
      const seenAtKill = new Set(seen).size;
      process.kill(c1.pid, 'SIGKILL');
      const exit = await c1.exited;
      children.delete(c1);
      assert.equal(exit.signal, 'SIGKILL');
      assert.ok(seenAtKill > 0 && seenAtKill < accepted.length, `killed mid-delivery (${seenAtKill} of ${accepted.length} seen)`);

      c2 = await startChild(file);
      await waitUntil(() => sameSet(seen, accepted), 60000, 'every accepted message delivered after the restart');
      const uniq = new Set(seen);
      assert.ok(sameSet(uniq, accepted), 'exactly the accepted messages were delivered');
      assert.ok(seen.length >= accepted.length, 'duplicates are allowed, losses are not');

      // The restarted gateway's attempt log agrees: the last message is delivered.
      const last = accepted[accepted.length - 1]!;
      await waitUntil(async () => (await admin(c2!, `/admin/messages/${last}`)).json().status === 'delivered', 10000, 'the message recorded as delivered');
      const code = (await terminate(c2)).code;
      assert.equal(code, 0);
    } finally {
      await c1?.kill();
      await c2?.kill();
      await rx.close();
      await deleteKeys(prefix);
    }
  });

  it('SIGTERM finishes attempts in flight, exits 0, and leaves unattempted messages queued', async () => {
    const prefix = testPrefix('dur-term');
    const seen: string[] = [];
    const held: ServerResponse[] = [];
    let holding = true;
    const rx: TestUpstream = await startUpstream((req, res) => {
      seen.push(String(req.headers[ID_HEADER]));
      if (holding) held.push(res);
      else res.end('ok');
    });
    let c1: Child | undefined;
    let c2: Child | undefined;
    try {
      const file = writeConfig('term', prefix, rx.url);
      c1 = await startChild(file);
      const accepted = await acceptMany(c1.port, 20);
      // maxInFlightPerEndpoint is 4: four attempts are in flight, held by the receiver.
      await waitUntil(() => held.length === 4, 15000, '4 attempts in flight');
      const inFlight = seen.slice();

      process.kill(c1.pid, 'SIGTERM');
      await waitUntil(() => c1!.stdout().includes('"draining"'), 10000, 'the draining log line');
      // It stops taking new requests...
      await assert.rejects(
        httpRequest({ port: c1.port, method: 'POST', path: '/in', headers: { 'content-type': 'application/json' }, body: '{}' }),
        (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET',
      );
      // ...stops its delivery workers (no new jobs)...
      await waitUntil(() => c1!.stdout().includes('delivery queue stopping'), 10000, 'the queue-stopping log line');
      // ...and waits for the attempts in flight.
      assert.equal(c1.proc.exitCode, null, 'still running while attempts are in flight');
      holding = false;
      for (const res of held) res.end('ok');
      const exit = await Promise.race([c1.exited, new Promise<never>((_r, rej) => setTimeout(() => rej(new Error('no exit after SIGTERM')), 20000).unref())]);
      children.delete(c1);
      assert.deepEqual(exit, { code: 0, signal: null }, `exit after SIGTERM\n${c1.stderr()}`);
      assert.deepEqual(seen, inFlight, 'no new attempt started while draining');

      // A restarted gateway delivers the rest, and not the four that finished during the drain.
      c2 = await startChild(file);
      await waitUntil(() => sameSet(seen, accepted), 30000, 'the remaining messages delivered after the restart');
      for (const id of inFlight) {
        assert.equal(seen.filter((s) => s === id).length, 1, `message ${id} finished during the drain and was not sent again`);
        const m = (await admin(c2, `/admin/messages/${id}`)).json();
        assert.equal(m.status, 'delivered', JSON.stringify(m));
        const attempts = m.deliveries['up_recv'].attempts as { status: number }[];
        assert.deepEqual(attempts.map((a) => a.status), [200], 'recorded as delivered, once');
      }
      assert.equal((await terminate(c2)).code, 0);
    } finally {
      for (const res of held) res.destroy();
      await c1?.kill();
      await c2?.kill();
      await rx.close();
      await deleteKeys(prefix);
    }
  });

  for (const action of ['deliver', 'publish'] as const) {
    it(`${action}: answers 503 HG_QUEUE_UNAVAILABLE while Redis is down and delivers new messages once it is back`, async () => {
      let rs: PrivateRedis | undefined;
      let gw: TestGateway | undefined;
      const seen: string[] = [];
      const rx = await startUpstream((req, res) => {
        seen.push(String(req.headers['webhook-id'] ?? req.headers[ID_HEADER]));
        res.end('ok');
      });
      try {
        rs = await startRedisServer();
        gw = await startGateway(
          `
store: { driver: redis, url: "${rs.url}", prefix: "hgdrop:" }
upstreams:
  recv: { targets: [ { url: "${rx.url}" } ] }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: ["0ms", "100ms", "200ms", "500ms", "1s", "1s", "1s"] }
  lockDurationMs: 2000
  endpoints:
    - { id: ep, url: "${rx.url}/ep", events: ["*"] }
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
  - name: in
    path: /in
    methods: [POST]
    deliver: { upstream: recv, retry: { schedule: ["0ms", "100ms", "200ms", "500ms", "1s", "1s", "1s"] } }
`,
          { services: createDeliveryService },
        );
        const g = gw;
        const send = (n: number): Promise<HttpResult> =>
          action === 'publish'
            ? g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'drop.test', data: { n } }) })
            : g.request({ method: 'POST', path: '/in', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) });
        const accepted: string[] = [];
        const accept = (r: HttpResult): void => {
          assert.equal(r.status, 202, r.text);
          if (action === 'publish') assert.equal(r.json().endpoints, 1, `the config endpoint is subscribed: ${r.text}`);
          accepted.push(r.json().id);
        };

        // Working before the outage.
        accept(await send(0));
        await waitUntil(() => sameSet(seen, accepted), 15000, 'delivery before the outage');

        // Redis goes away for a while (longer than any in-memory cache), under traffic: nothing is accepted.
        await rs.stop();
        const outageEnds = Date.now() + 2500;
        for (let i = 1; Date.now() < outageEnds || i <= 5; i++) {
          const r = await send(i);
          assert.equal(r.status, 503, `while Redis is down: ${r.status} ${r.text}`);
          assert.equal(r.json().error.code, 'HG_QUEUE_UNAVAILABLE', r.text);
          assert.ok(r.headers['retry-after'], 'a 503 says when to retry');
        }

        // Redis comes back (empty: the private server has no persistence). No gateway restart.
        await rs.restart();
        let r: HttpResult | undefined;
        await waitUntil(
          async () => {
            r = await send(100);
            if (r.status === 202) return true;
            assert.equal(r.status, 503, `while reconnecting: ${r.status} ${r.text}`);
            return false;
          },
          20000,
          `${action} accepted again`,
        );
        accept(r!);
        accept(await send(101));
        await waitUntil(() => sameSet(seen, accepted), 30000, 'new messages delivered after Redis came back');
        assert.ok(sameSet(seen, accepted), 'nothing was delivered that was not accepted');
      } finally {
        await gw?.stop();
        await rx.close();
        await rs?.stop();
      }
    });
  }
});

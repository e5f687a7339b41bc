import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answers, run, startCli, type Started } from '../support/cli.js';
import { closedPort, httpRequest, startUpstream, waitUntil, type TestUpstream } from '../support/http.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/redis.js';
import { alive, killAll, sampleWorkers, startedPids, startWorkers, WORKER_PID_PLUGIN } from '../support/workers.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-workers-'));
/** Every worker pid a test saw: SIGKILLed in `after` if one outlived its test. */
const pids = new Set<number>();
after(() => {
  killAll(pids);
  rmSync(dir, { recursive: true, force: true });
});
writeFileSync(join(dir, 'worker-pid.js'), WORKER_PID_PLUGIN);

const TOKEN = 'workers-admin-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('hookgate start --workers: refusals', () => {
  test('--workers 2 on the memory store exits 1 with HG_WORKERS_NEED_REDIS before any worker starts', async () => {
    const file = join(dir, 'memory.yaml');
    writeFileSync(file, `listen: { host: 127.0.0.1, port: ${await closedPort()} }\nroutes: []\n`);
    const r = await run(['start', '--config', file, '--workers', '2']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /HG_WORKERS_NEED_REDIS: 2 worker processes need store\.driver: redis/);
    assert.doesNotMatch(r.stderr, /listening/);
  });

  test('workers: 2 in the config is refused the same way by start and by validate', async () => {
    const file = join(dir, 'memory-config.yaml');
    writeFileSync(file, `listen: { host: 127.0.0.1, port: ${await closedPort()} }\nworkers: 2\nroutes: []\n`);
    const started = await run(['start', file]);
    assert.equal(started.code, 1, started.stderr);
    assert.match(started.stderr, /HG_WORKERS_NEED_REDIS/);
    const validated = await run(['validate', file]);
    assert.equal(validated.code, 1);
    assert.match(validated.stderr, /HG_WORKERS_NEED_REDIS/);
  });

  test('the --workers flag wins over the config: --workers 1 serves a memory config that says workers: 2', async () => {
    const port = await closedPort();
    const file = join(dir, 'flag-wins.yaml');
    writeFileSync(file, `listen: { host: 127.0.0.1, port: ${port} }\nworkers: 2\nroutes: []\n`);
    const gw = startCli(file, ['--workers', '1']);
    try {
      await waitUntil(async () => (await answers(port, '/healthz'))?.status === 200 || gw.child.exitCode !== null, 20000, '/healthz');
      assert.equal(gw.child.exitCode, null, gw.stderr());
      assert.doesNotMatch(gw.stderr(), /worker 1/, 'a single process, no primary');
      assert.ok(gw.child.kill('SIGTERM'));
      assert.deepEqual(await gw.exited, { code: 0, signal: null });
    } finally {
      await gw.kill();
    }
  });

  test('a worker that cannot start (its port is taken) stops the others; start exits 1 saying why, once', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const prefix = testPrefix('workers-taken');
    try {
      const file = join(dir, 'taken.yaml');
      writeFileSync(file, `listen: { host: 127.0.0.1, port: ${(taken.address() as AddressInfo).port} }\nstore: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }\nroutes: []\n`);
      const r = await run(['start', file, '--workers', '2'], { timeoutMs: 60000 });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.match(/EADDRINUSE/g)?.length, 1, r.stderr);
    } finally {
      taken.close();
      await deleteKeys(prefix);
    }
  });

  test('--workers takes a positive integer or auto (usage error, exit 2)', async () => {
    const r = await run(['start', join(dir, 'memory.yaml'), '--workers', '0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--workers expects a positive integer or auto/);
  });
});

describe('hookgate start --workers 2 on the redis store', () => {
  const prefix = testPrefix('workers');
  let gw: Started | undefined;
  let slow: TestUpstream | undefined;
  let release: () => void = () => {};
  let arrived = 0;
  const ports = { main: 0, admin: 0, metrics: 0 };
  const file = join(dir, 'redis.yaml');
  const config = (tag: string, extra = '') => `listen: { host: 127.0.0.1, port: ${ports.main} }
admin: { host: 127.0.0.1, port: ${ports.admin}, token: ${TOKEN} }
metrics: { host: 127.0.0.1, port: ${ports.metrics} }
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
limits: { drainTimeoutMs: 20000 }
customPlugins: [./worker-pid.js]
upstreams:
  slow: { targets: [ { url: "${slow!.url}" } ], timeoutMs: 60000 }
routes:
  - { name: who, path: /who, plugins: [ { worker-pid: { tag: ${tag} } } ], respond: { status: 200, body: { ok: true } } }
  - { name: limited, path: /limited, plugins: [ { worker-pid: { tag: ${tag} } }, { rate-limit: { by: ip, points: 5, durationSec: 300 } } ], respond: { status: 200 } }
  - { name: slow, path: /slow, upstream: slow }
${extra}`;
  let workers: number[] = [];
  let generation = 0;

  after(async () => {
    await gw?.kill();
    killAll(pids);
    release();
    await slow?.close();
    await deleteKeys(prefix);
  });

  test('starts: a primary and two workers that both serve the shared listener', async () => {
    slow = await startUpstream(async (_req, res) => {
      arrived++;
      await new Promise<void>((r) => (release = r));
      res.end('slow but fine');
    });
    Object.assign(ports, { main: await closedPort(), admin: await closedPort(), metrics: await closedPort() });
    writeFileSync(file, config('v1'));
    gw = await startWorkers(file, 2);
    assert.equal(gw.child.exitCode, null, gw.stderr());
    workers = startedPids(gw);
    workers.forEach((p) => pids.add(p));
    assert.equal(workers.length, 2, gw.stderr());
    assert.ok(!workers.includes(gw.child.pid!), 'the primary is not one of the workers');
    const seen = await sampleWorkers(ports.main, '/who', (s) => s.size === 2, 'both workers to answer');
    assert.deepEqual([...seen.keys()].sort(), [...workers].sort());
  });

  test('a rate limit of 5 per window holds across the workers: 5 allowed in total, not 5 each', async () => {
    const results = [];
    for (let i = 0; i < 16; i++) results.push(await httpRequest({ port: ports.main, path: '/limited' }));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 5, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 11);
    const answeredBy = new Set(results.map((r) => Number(r.headers['x-worker-pid'])));
    assert.equal(answeredBy.size, 2, 'both workers took part');
  });

  test('/metrics is every worker\'s, aggregated: the request count is the total on each scrape', async () => {
    const count = async () => Number(/^hookgate_requests_total\{route="limited",status="200"\} (\d+)$/m.exec((await httpRequest({ port: ports.metrics, path: '/metrics' })).text)?.[1]);
    // Several scrapes land on different workers; each says the same total.
    for (let i = 0; i < 4; i++) assert.equal(await count(), 5);
    const admin = await httpRequest({ port: ports.admin, path: '/metrics', headers: auth });
    assert.match(admin.text, /^hookgate_requests_total\{route="limited",status="429"\} 11$/m);
  });

  test('a changed file reloads every worker (the primary watches it)', async () => {
    writeFileSync(file, config('v2'));
    await sampleWorkers(ports.main, '/who', (s) => s.size === 2 && [...s.values()].every((r) => r.headers['x-config-tag'] === 'v2'), 'both workers to serve v2');
    assert.ok(gw!.logLines().some((l) => l.msg === 'config reloaded on every worker' && l.trigger === 'file change'), gw!.stdout());
  });

  test('POST /admin/reload at one worker reloads both, and the answer has each worker\'s generation', async () => {
    const r = await httpRequest({ port: ports.admin, method: 'POST', path: '/admin/reload', headers: auth });
    assert.equal(r.status, 200, r.text);
    const body = r.json();
    assert.equal(body.reloaded, true);
    assert.deepEqual(body.workers.map((w: { pid: number }) => w.pid).sort(), [...workers].sort());
    assert.ok(body.workers.every((w: { ok: boolean; generation: number }) => w.ok && w.generation === body.generation), r.text);
    assert.ok(body.generation >= 3, `generation ${body.generation}: the start (1) and the file change (2) came before`);
    generation = body.generation;
  });

  test('a config every worker refuses is refused whole: 400 HG_CONFIG_INVALID naming each worker; v2 keeps serving', async () => {
    writeFileSync(file, config('v3', '  - { name: broken, path: /broken, upstream: nowhere }\n'));
    const r = await httpRequest({ port: ports.admin, method: 'POST', path: '/admin/reload', headers: auth });
    assert.equal(r.status, 400, r.text);
    const err = r.json().error;
    assert.equal(err.code, 'HG_CONFIG_INVALID');
    assert.match(err.message, /nowhere/);
    assert.equal(err.details.length, 2);
    for (const pid of workers) assert.ok(err.details.some((d: { message: string }) => d.message.includes(`pid ${pid}`) && d.message.includes('HG_CONFIG_INVALID')), r.text);
    const seen = await sampleWorkers(ports.main, '/who', (s) => s.size === 2, 'both workers to answer');
    for (const res of seen.values()) assert.equal(res.headers['x-config-tag'], 'v2');
    writeFileSync(file, config('v3'));
    await sampleWorkers(ports.main, '/who', (s) => s.size === 2 && [...s.values()].every((x) => x.headers['x-config-tag'] === 'v3'), 'both workers to serve v3');
  });

  test('a config that only some workers apply is 500 HG_RELOAD_PARTIAL, saying which worker is on which generation', async () => {
    // worker-pid refuses its params in worker slot 2 only: compile succeeds in worker 1 alone.
    writeFileSync(file, config('v4').replace('tag: v4 } } ], respond: { status: 200, body', 'tag: v4, failInSlot: "2" } } ], respond: { status: 200, body'));
    const r = await httpRequest({ port: ports.admin, method: 'POST', path: '/admin/reload', headers: auth });
    assert.equal(r.status, 500, r.text);
    const err = r.json().error;
    assert.equal(err.code, 'HG_RELOAD_PARTIAL');
    assert.match(err.message, /applied by worker\(s\) 1 and not by 2/);
    assert.ok(err.details.some((d: { message: string }) => /^worker 1 \(pid \d+\): applied generation \d+$/.test(d.message)), r.text);
    assert.ok(err.details.some((d: { message: string }) => /^worker 2 \(pid \d+\): HG_CONFIG_INVALID: .*refused in worker 2/.test(d.message)), r.text);
    writeFileSync(file, config('v3'));
    await sampleWorkers(ports.main, '/who', (s) => s.size === 2 && [...s.values()].every((x) => x.headers['x-config-tag'] === 'v3'), 'both workers back on one config');
  });

  test('SIGHUP to the primary reloads every worker', async () => {
    assert.ok(gw!.child.kill('SIGHUP'));
    await waitUntil(() => gw!.logLines().some((l) => l.msg === 'config reloaded on every worker' && l.trigger === 'SIGHUP' && l.workers === 2), 20000, 'the SIGHUP reload');
  });

  test('a worker killed with SIGKILL is replaced (logged HG_WORKER_EXITED) and the new one serves the current config', async () => {
    const victim = workers[0]!;
    process.kill(victim, 'SIGKILL');
    await waitUntil(() => gw!.logLines().some((l) => l.code === 'HG_WORKER_EXITED' && l.pid === victim), 10000, 'the primary to log the exit');
    assert.ok(gw!.logLines().some((l) => l.code === 'HG_WORKER_EXITED' && l.signal === 'SIGKILL' && typeof l.restartInMs === 'number'));
    await waitUntil(() => gw!.logLines().some((l) => l.msg === 'worker restarted and serving'), 30000, 'the replacement to serve');
    const replacement = gw!.logLines().find((l) => l.msg === 'worker restarted and serving')!.pid as number;
    pids.add(replacement);
    assert.notEqual(replacement, victim);
    workers = [replacement, workers[1]!];
    const seen = await sampleWorkers(ports.main, '/who', (s) => s.has(replacement) && s.has(workers[1]!), 'the replacement and the survivor to answer');
    for (const pid of workers) assert.equal(seen.get(pid)!.headers['x-config-tag'], 'v3');
    const r = await httpRequest({ port: ports.admin, method: 'POST', path: '/admin/reload', headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json().workers.map((w: { pid: number }) => w.pid).sort(), [...workers].sort());
    assert.ok(r.json().generation > generation);
  });

  test('SIGTERM to the primary drains every worker: a slow request in flight completes, then the primary exits 0', async () => {
    const inflight = httpRequest({ port: ports.main, path: '/slow', timeoutMs: 60000 });
    await waitUntil(() => arrived === 1, 10000, 'the slow request to reach the upstream');
    assert.ok(gw!.child.kill('SIGTERM'));
    await waitUntil(() => gw!.logLines().some((l) => l.msg === 'draining the workers'), 10000, 'the drain to start');
    await waitUntil(() => gw!.logLines().filter((l) => l.msg === 'draining').length === 2, 10000, 'both workers to drain');
    assert.equal(gw!.child.exitCode, null, 'still draining: a request is in flight');
    release();
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.text, 'slow but fine');
    assert.deepEqual(await gw!.exited, { code: 0, signal: null }, gw!.stderr());
    await waitUntil(() => workers.every((p) => !alive(p)), 10000, 'every worker to have exited');
    assert.equal(gw!.logLines().filter((l) => l.msg === 'worker stopped' && l.exitCode === 0).length, 2);
  });
});

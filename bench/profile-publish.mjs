#!/usr/bin/env node
// CPU cost of publish + deliver, per event: the gateway runs in this process (dist/, built with
// tsc) on a private redis-server (started here on a free loopback port, stopped by pid), delivers
// to bench/peers/upstream.mjs (a child, signature-checking), and reports
//   - gateway CPU µs per event (process.cpuUsage over the run: publish, queue, deliver, record),
//   - Redis CPU µs per event (the private server's INFO cpu delta), and Redis calls per event,
//   - the deliveries seen (all verified, none duplicated) and the wall-clock rate (noisy here).
//
//   node bench/profile-publish.mjs                     engine.publish() in-process, 32 in flight
//   PROFILE_MODE=http node bench/profile-publish.mjs   POST /events from a child publisher (its CPU not counted)
//   PROFILE_COUNT=20000 PROFILE_INFLIGHT=32 PROFILE_WARMUP=2000 PROFILE_ROUNDS=3
//   node --cpu-prof --cpu-prof-dir=bench/.out bench/profile-publish.mjs   (then bench/lib/cpuprofile.mjs)
//
// Wall-clock rates on a shared machine swing; the CPU figures are what to compare before/after.
import { spawn } from 'node:child_process';
import { request, Agent } from 'node:http';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// PROFILE_ROOT: another build to measure (a directory with dist/, config/ and node_modules/).
const BUILD = process.env.PROFILE_ROOT ?? ROOT;
const SECRET = 'whsec_aG9va2dhdGUtYmVuY2gtc3RhbmRhcmQtd2ViaG9va3Mh';
const MODE = process.env.PROFILE_MODE ?? 'engine';
const COUNT = Number(process.env.PROFILE_COUNT ?? 20000);
const INFLIGHT = Number(process.env.PROFILE_INFLIGHT ?? 32);
const WARMUP = Number(process.env.PROFILE_WARMUP ?? 2000);
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 3);

const BYTES = Number(process.env.PROFILE_BYTES ?? 1024);
function body(seq) {
  const base = JSON.stringify({ type: 'invoice.paid', data: { seq, customer: 'cus_bench', amount: 4200, pad: '' } });
  return { type: 'invoice.paid', data: { seq, customer: 'cus_bench', amount: 4200, pad: 'x'.repeat(Math.max(0, BYTES - base.length)) } };
}

// The child publisher (PROFILE_MODE=http): `node profile-publish.mjs --publisher port from count inflight`.
if (process.argv[2] === '--publisher') {
  const [port, from, count, inflight] = process.argv.slice(3).map(Number);
  const agent = new Agent({ keepAlive: true, maxSockets: inflight });
  let next = from;
  let failed = 0;
  const one = (seq) =>
    new Promise((resolve) => {
      const b = JSON.stringify(body(seq));
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/events', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) } }, (res) => {
        if (res.statusCode !== 202) failed++;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => (failed++, resolve()));
      req.end(b);
    });
  await Promise.all(Array.from({ length: inflight }, async () => { while (next < from + count) await one(next++); }));
  process.stdout.write(JSON.stringify({ failed }) + '\n');
  agent.destroy();
  process.exit(0);
}

const children = [];
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

function get(port, path, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let t = '';
      res.on('data', (c) => (t += c));
      res.on('end', () => resolve(t ? JSON.parse(t) : {}));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(f, ms, what) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const { Redis } = await import(join(ROOT, 'node_modules/ioredis/built/index.js'));
const redisPort = await freePort();
const redisProc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
children.push(redisProc);
const ctl = new Redis(`redis://127.0.0.1:${redisPort}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
ctl.on('error', () => {});
await waitFor(async () => (await ctl.connect().catch(() => ctl.ping()), (await ctl.ping()) === 'PONG'), 10000, 'redis-server');

const upPort = await freePort();
const up = spawn(process.execPath, [join(ROOT, 'bench/peers/upstream.mjs'), String(upPort)], { env: { ...process.env, RECEIVER_SECRET: SECRET }, stdio: ['ignore', 'ignore', 'inherit'] });
children.push(up);
await waitFor(() => get(upPort, '/__stats'), 10000, 'receiver');

const yaml = `
listen: { host: 127.0.0.1, port: 0 }
store: { driver: redis, url: "redis://127.0.0.1:${redisPort}", prefix: "hgprof:" }
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: ep1, url: "http://127.0.0.1:${upPort}/hook/ep1", events: ["*"], secret: "${SECRET}" }
routes:
  - name: publish
    path: /events
    methods: [POST]
    publish: {}
`;
const { Gateway } = await import(join(BUILD, 'dist/gateway/runtime.js'));
const { createDeliveryService } = await import(join(BUILD, 'dist/gateway/delivery/service.js'));
const { pino } = await import(join(ROOT, 'node_modules/pino/pino.js'));
const logger = pino({ level: 'warn' }, new Writable({ write: (c, _e, cb) => (process.stderr.write(c), cb()) }));
const gw = await Gateway.start({ configText: yaml, configDir: BUILD, logger, watch: false, services: createDeliveryService });
const engine = gw.service.engine;
const gwPort = gw.address().port;

async function redisCpu() {
  const info = await ctl.info('cpu');
  const f = (k) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)[1]);
  const calls = (await ctl.info('stats')).match(/total_commands_processed:(\d+)/)[1];
  const cmds = {};
  for (const m of (await ctl.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) cmds[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
  return { cpu: (f('used_cpu_user') + f('used_cpu_sys')) * 1e6, calls: Number(calls), cmds };
}

async function publishInProcess(from, count) {
  let next = from;
  let failed = 0;
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (next < from + count) {
      const seq = next++;
      await engine.publish(body(seq), { bodyBytes: 1024 }).catch(() => failed++);
    }
  }));
  return failed;
}

function publishOverHttp(from, count) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--publisher', gwPort, from, count, INFLIGHT], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(p);
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out).failed) : reject(new Error(`publisher exit ${code}`))));
  });
}

let seq = 0;
async function run(count) {
  await get(upPort, '/__reset', 'POST');
  const r0 = await redisCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const failed = await (MODE === 'http' ? publishOverHttp(seq, count) : publishInProcess(seq, count));
  seq += count;
  const published = performance.now();
  const st = await waitFor(async () => { const s = await get(upPort, '/__stats'); return s.deliveries >= count - failed ? s : undefined; }, 120000, 'deliveries');
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  const r1 = await redisCpu();
  const commands = Object.entries(r1.cmds)
    .map(([k, v]) => [k, (v.calls - (r0.cmds[k]?.calls ?? 0)) / count, (v.usec - (r0.cmds[k]?.usec ?? 0)) / count])
    .filter(([, c]) => c > 0.01)
    .sort((a, b) => b[2] - a[2]);
  if (process.env.PROFILE_CMDSTATS) console.log(commands.map(([k, c, u]) => `${k} ${c.toFixed(2)}/ev ${u.toFixed(1)}µs`).join(', '));
  return {
    count,
    failed,
    gwUsPerEvent: (c.user + c.system) / count,
    gwSysUsPerEvent: c.system / count,
    redisUsPerEvent: (r1.cpu - r0.cpu) / count,
    redisCallsPerEvent: (r1.calls - r0.calls - 2) / count,
    ratePerSec: count / ((t1 - t0) / 1000),
    publishPerSec: count / ((published - t0) / 1000),
    verified: st.verified,
    badSignature: st.badSignature,
    duplicates: st.duplicates,
  };
}

try {
  if (WARMUP) await run(WARMUP);
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await run(COUNT));
  const med = (k) => rounds.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rounds.length / 2)];
  const min = (k) => Math.min(...rounds.map((r) => r[k]));
  const f = (n) => n.toFixed(1);
  for (const r of rounds) console.log(JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 10) / 10]))));
  console.log(`${BUILD === ROOT ? 'this build' : BUILD}: mode ${MODE}, ${COUNT} events × ${ROUNDS} rounds, ${INFLIGHT} in flight: gateway ${f(med('gwUsPerEvent'))} µs CPU/event (min ${f(min('gwUsPerEvent'))}), redis ${f(med('redisUsPerEvent'))} µs CPU/event, ${f(med('redisCallsPerEvent'))} redis calls/event, ${Math.round(med('ratePerSec'))} events/s wall (publish ${Math.round(med('publishPerSec'))}/s), bad ${rounds.reduce((a, r) => a + r.badSignature + r.duplicates + r.failed, 0)}`);
} finally {
  await gw.stop(2000);
  ctl.disconnect();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}

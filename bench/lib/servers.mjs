// Starting and stopping the contenders (hookgate and its peers) and the local upstream.
// Contenders run on GW_CORE, the upstream on LOAD_CORE. Each returns
//   { name, port, pid, rss(), cpu(), stop() }
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GW_CORE, LOAD_CORE, OUT, PEERS, PORTS, ROOT, BENCH } from './env.mjs';
import { httpReq } from './http.mjs';
import { cpuSeconds, rssKb, run, start, stop, waitFor } from './proc.mjs';

function tail(file, n = 1500) {
  try {
    const t = readFileSync(file, 'utf8');
    return t.slice(-n);
  } catch {
    return '';
  }
}

async function ready(p, logFile, probe, what, timeoutMs = 30_000) {
  let dead = false;
  p.exited.then(() => (dead = true));
  await waitFor(
    async () => {
      if (dead) throw Object.assign(new Error(`${what} exited during start-up:\n${tail(logFile)}`), { fatal: true });
      return probe();
    },
    timeoutMs,
    what,
    100,
  ).catch(async (err) => {
    await stop(p, { signal: 'SIGKILL', graceMs: 1000 });
    throw err;
  });
}

function contender(name, port, p) {
  return {
    name,
    port,
    pid: p.pid,
    proc: p,
    rss: () => rssKb(p.pid),
    cpu: () => cpuSeconds(p.pid),
    stop: (o) => stop(p, o),
  };
}

const okStatus = (port, path = '/', method = 'GET') => async () => (await httpReq({ port, path, method, timeoutMs: 1000 })).status === 200;

let buildRoot = ROOT;
/** Runs every later hookgate start from `root` (BENCH_BUILD) instead of this checkout. */
export function useBuild(root) {
  buildRoot = root;
}

/**
 * hookgate: `node dist/gateway/cli.js start --config <file>` on GW_CORE. `env` adds HGBENCH_*
 * substitutions; `cpuProf` runs it under --cpu-prof into bench/.out; `root` is the build to run
 * (default this checkout or BENCH_BUILD's; the baseline engine of scenario 6 passes its own);
 * `args` are added to the command line (`--workers 2`); `core` null runs it unpinned (scenario 11).
 */
export async function startGateway(name, configFile, { port = PORTS.gateway, adminPort = PORTS.admin, env = {}, cpuProf = false, root = buildRoot, args = [], core = GW_CORE } = {}) {
  const logFile = join(OUT, `${name}.log`);
  const nodeArgs = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', OUT] : [];
  const p = start(name, process.execPath, [...nodeArgs, join(root, 'dist/gateway/cli.js'), 'start', '--config', configFile, ...args], {
    core,
    logFile,
    cwd: root,
    env: { HGBENCH_PORT: String(port), HGBENCH_ADMIN_PORT: String(adminPort), HGBENCH_UPSTREAM_PORT: String(PORTS.upstream), HGBENCH_DEAD_PORT: String(PORTS.dead), HGBENCH_OUT: OUT, HGBENCH_NAME: name, ...env },
  });
  await ready(p, logFile, okStatus(port, '/healthz'), `${name} /healthz`);
  const c = contender(name, port, p);
  c.adminPort = adminPort;
  c.logFile = logFile;
  return c;
}

/** The local upstream / delivery receiver on LOAD_CORE. */
export async function startUpstream({ port = PORTS.upstream, secret } = {}) {
  const logFile = join(OUT, 'upstream.log');
  const p = start('upstream', process.execPath, [join(BENCH, 'peers/upstream.mjs'), String(port)], {
    core: LOAD_CORE,
    logFile,
    env: secret ? { RECEIVER_SECRET: secret } : {},
  });
  await ready(p, logFile, okStatus(port, '/__stats'), 'upstream');
  const c = contender('upstream', port, p);
  c.stats = async (arrivals = false) => (await httpReq({ port, path: `/__stats${arrivals ? '?arrivals=1' : ''}`, timeoutMs: 30_000 })).json;
  c.reset = async () => httpReq({ port, method: 'POST', path: '/__reset' });
  return c;
}

/** Peer: bench/peers/bare-proxy.mjs (node:http + http-proxy, keep-alive agent). */
export async function startBare({ port = PORTS.bare } = {}) {
  const logFile = join(OUT, 'bare-proxy.log');
  const p = start('bare-proxy', process.execPath, [join(BENCH, 'peers/bare-proxy.mjs'), String(port), `http://127.0.0.1:${PORTS.upstream}`], { core: GW_CORE, logFile, cwd: ROOT });
  await ready(p, logFile, okStatus(port, '/webhook/v1/orders'), 'bare-proxy');
  return contender('bare-proxy', port, p);
}

/** Peer: bench/peers/bare-undici.mjs (node:http + one undici Pool, pool.dispatch with a handler object). */
export async function startBareUndici({ port = PORTS.bareUndici } = {}) {
  const logFile = join(OUT, 'bare-undici.log');
  const p = start('bare-undici', process.execPath, [join(BENCH, 'peers/bare-undici.mjs'), String(port), `http://127.0.0.1:${PORTS.upstream}`], { core: GW_CORE, logFile, cwd: ROOT });
  await ready(p, logFile, okStatus(port, '/webhook/v1/orders'), 'bare-undici');
  return contender('bare-undici', port, p);
}

const EG_VERSION = '1.16.11';
const EG_DIR = join(PEERS, 'express-gateway');

/**
 * Installs express-gateway into bench/.peers/express-gateway (skipped when already there).
 * Resolves { ok: true } or { ok: false, note }.
 */
export async function ensureExpressGateway(log = () => {}) {
  const pkg = join(EG_DIR, 'node_modules/express-gateway/package.json');
  const installed = () => existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).version === EG_VERSION;
  if (!installed()) {
    log(`installing express-gateway@${EG_VERSION} into ${EG_DIR} (one-off, cached)…`);
    mkdirSync(EG_DIR, { recursive: true });
    if (!existsSync(join(EG_DIR, 'package.json'))) writeFileSync(join(EG_DIR, 'package.json'), JSON.stringify({ name: 'eg-peer', private: true }, null, 2));
    const r = await run('npm', ['install', '--no-audit', '--no-fund', '--no-save', `express-gateway@${EG_VERSION}`], { cwd: EG_DIR, timeoutMs: 900_000 });
    if (r.code !== 0 || !installed()) return { ok: false, note: `npm install express-gateway@${EG_VERSION} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}` };
  }
  return { ok: true };
}

/**
 * Peer: express-gateway 1.16.11 with a proxy-only pipeline, from its recipe in bench/peers/express-gateway
 * (its *.yml copied and adjusted into bench/.peers, never edited in place).
 */
export async function startExpressGateway({ port = PORTS.expressGateway, recipeDir } = {}) {
  const cfg = join(EG_DIR, 'config');
  mkdirSync(cfg, { recursive: true });
  cpSync(join(EG_DIR, 'node_modules/express-gateway/lib/config/models'), join(cfg, 'models'), { recursive: true });
  const gw = readFileSync(join(recipeDir, 'gateway.config.yml'), 'utf8')
    .replace(/^(\s*port:\s*)\d+/m, `$1${port}`)
    .replace(/url:\s*'http:\/\/127\.0\.0\.1:\d+'/, `url: 'http://127.0.0.1:${PORTS.upstream}'`);
  if (!gw.includes(`${port}`) || !gw.includes(`:${PORTS.upstream}'`)) throw new Error('express-gateway recipe did not take the port/upstream adjustments');
  writeFileSync(join(cfg, 'gateway.config.yml'), gw);
  cpSync(join(recipeDir, 'system.config.yml'), join(cfg, 'system.config.yml'));
  const logFile = join(OUT, 'express-gateway.log');
  const p = start('express-gateway', process.execPath, ['-e', "require('express-gateway')().load(require('path').resolve('config')).run()"], {
    core: GW_CORE,
    logFile,
    cwd: EG_DIR,
    env: { EG_DISABLE_CONFIG_WATCH: 'true', NODE_ENV: 'production', LOG_LEVEL: 'warn' },
  });
  await ready(p, logFile, okStatus(port, '/webhook/v1/orders'), 'express-gateway', 60_000);
  return contender('express-gateway', port, p);
}

/** nginx version string, or undefined when nginx is not on PATH. */
export function nginxVersion() {
  const r = spawnSync('sh', ['-c', 'command -v nginx >/dev/null && nginx -v 2>&1'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().replace(/^nginx version:\s*/, '') : undefined;
}

/** Peer: nginx, one process (master_process off = one worker), upstream keep-alive, generated conf in bench/.out. */
export async function startNginx({ port = PORTS.nginx } = {}) {
  const prefix = join(OUT, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `# Generated by bench/lib/servers.mjs
daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 100000;
  upstream up {
    server 127.0.0.1:${PORTS.upstream};
    keepalive 128;
    keepalive_requests 100000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`,
  );
  const logFile = join(OUT, 'nginx.log');
  const p = start('nginx', 'nginx', ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs/error.log')], { core: GW_CORE, logFile });
  await ready(p, logFile, okStatus(port, '/webhook/v1/orders'), 'nginx');
  return contender('nginx', port, p);
}

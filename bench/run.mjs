#!/usr/bin/env node
// hookgate benchmark harness: `npm run bench` (tsc, then this file).
//
//   BENCH_QUICK=1        3 rounds × 3 s runs (fast iteration; results go to bench/.out/RESULTS.partial.md)
//   BENCH_ONLY=1,2       run only these scenarios (1–11; partial results as above); BENCH_ONLY=11: the workers row
//   BENCH_RESULTS=path   where to write the results (default bench/RESULTS.md for a full run)
//   BENCH_LOADGEN=autocannon   force the autocannon fallback even when wrk is installed
//   BENCH_PROFILE=0|1    profile one scenario-2 run with --cpu-prof: 1 always, 0 never, default when a bar fails
//   BENCH_BASELINE=rev   scenario 6's baseline engine (default: the newest first-parent ancestor of HEAD
//                        whose gateway/delivery/queue.ts imports bullmq; 0 = none), built once into
//                        bench/.out/baseline/<key> (bench/lib/baseline.mjs)
//   BENCH_PORT_OFFSET=n  move every port by n (default auto: the first multiple of 100 at which all are free)
//   BENCH_BUILD=rev      run the hookgate rows on that commit (built the same way) instead of this checkout
//   BENCH_DELIVERY_COUNT, BENCH_PACED_RATE, BENCH_NOISY_COUNT, BENCH_QUEUE_COUNT, BENCH_ROUNDS,
//   BENCH_DURATION, BENCH_CONNECTIONS   override sizes (see bench/lib/env.mjs)
//
// The gateway and its peers run on core 0 (taskset -c 0), the load generator, the upstream /
// receiver and this harness on core 1. Every child is tracked by pid and killed on exit.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { BENCH, CONNECTIONS, DURATION, GW_CORE, LOAD_CORE, OUT, QUICK, RELOAD_RUN, ROOT, ROUNDS, WARMUP, WH_SECRET, PACED_SECONDS, RSS_RUN, QUEUE_COUNT, DELIVERY_COUNT, PACED_RATE, NOISY_A, NOISY_B, PORTS } from './lib/env.mjs';
import { loadTool } from './lib/load.mjs';
import { choosePorts, installExitHooks, killAll, onInterrupt, tasksetAvailable } from './lib/proc.mjs';
import { deleteKeys, redisInfo, REDIS_URL } from './lib/redis.mjs';
import { fmt, Report, table } from './lib/report.mjs';
import { scenario1, scenario2, scenario3, scenario4, scenario5 } from './lib/scenarios-ingress.mjs';
import { scenario7, scenario8, profileScenario2 } from './lib/scenarios-egress.mjs';
import { scenario6 } from './lib/scenario-delivery-rate.mjs';
import { scenario9 } from './lib/scenario-fairness.mjs';
import { scenario10 } from './lib/scenario-breaker.mjs';
import { scenario11 } from './lib/scenario-workers.mjs';
import { ensureBaseline, ensureCurrent } from './lib/baseline.mjs';
import { ensureExpressGateway, nginxVersion, startUpstream, useBuild } from './lib/servers.mjs';

const SCENARIOS = { 1: scenario1, 2: scenario2, 3: scenario3, 4: scenario4, 5: scenario5, 6: scenario6, 7: scenario7, 8: scenario8, 9: scenario9, 10: scenario10, 11: scenario11 };
// The recipe is kept in the repo (copied from the shared peer recipes) so the bench needs nothing outside it.
const EG_RECIPE = process.env.BENCH_EG_RECIPE ?? join(ROOT, 'bench/peers/express-gateway');

/** HEAD's short sha, "+ changes" when the work tree differs under gateway/. */
function gitDescribe() {
  const head = spawnSync('git', ['rev-parse', '--short=7', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (head.status !== 0) return 'not a git checkout';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'gateway', 'plugins'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? ' + uncommitted changes' : ''}`;
}

function log(msg) {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function selected() {
  const only = process.env.BENCH_ONLY;
  if (!only) return Object.keys(SCENARIOS).map(Number);
  const ids = only.split(',').map((s) => Number(s.trim())).filter((n) => SCENARIOS[n]);
  if (!ids.length) throw new Error(`BENCH_ONLY=${only} selects no scenario (use 1–11)`);
  return ids;
}

function commandLine() {
  const env = ['BENCH_QUICK', 'BENCH_ONLY', 'BENCH_ROUNDS', 'BENCH_DURATION', 'BENCH_CONNECTIONS', 'BENCH_LOADGEN', 'BENCH_PROFILE', 'BENCH_QUEUE_COUNT', 'BENCH_BASELINE', 'BENCH_BUILD', 'BENCH_PORT_OFFSET', 'BENCH_DELIVERY_COUNT', 'BENCH_PACED_RATE', 'BENCH_NOISY_COUNT']
    .filter((k) => process.env[k] !== undefined)
    .map((k) => `${k}=${process.env[k]}`);
  const cmd = process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node bench/run.mjs';
  return [...env, cmd].join(' ');
}

async function main() {
  installExitHooks();
  mkdirSync(OUT, { recursive: true });
  // The harness itself publishes in scenarios 6–8: keep it off the gateway's core.
  if (tasksetAvailable()) spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
  if (!existsSync(join(ROOT, 'dist/gateway/cli.js'))) throw new Error('dist/gateway/cli.js is missing: build first (npx tsc -p tsconfig.json)');
  const ids = selected();
  const portOffset = await choosePorts();
  if (portOffset) log(`ports moved by ${portOffset} (BENCH_PORT_OFFSET${process.env.BENCH_PORT_OFFSET ? '' : '=auto: the default ports are in use'}): gateway ${PORTS.gateway}, receiver ${PORTS.upstream}`);
  const build = await ensureCurrent(log);
  if (!build.ok) throw new Error(build.note);
  useBuild(build.root);
  const sizes = ['BENCH_BUILD', 'BENCH_ROUNDS', 'BENCH_DURATION', 'BENCH_DELIVERY_COUNT', 'BENCH_PACED_RATE', 'BENCH_NOISY_COUNT', 'BENCH_QUEUE_COUNT'];
  const full = ids.length === Object.keys(SCENARIOS).length && !QUICK && sizes.every((k) => !process.env[k]);
  const resultsFile = process.env.BENCH_RESULTS ?? (full ? join(BENCH, 'RESULTS.md') : join(OUT, 'RESULTS.partial.md'));
  const startedAt = new Date();
  const report = new Report();
  const tool = loadTool(ROOT);
  const rssLog = [];
  const prefixes = new Set();
  onInterrupt(() => Promise.allSettled([...prefixes].map((p) => deleteKeys(p))));
  const loadBefore = loadavg();
  const ctx = {
    report,
    log,
    redisUrl: REDIS_URL,
    egRecipe: EG_RECIPE,
    nginx: nginxVersion(),
    eg: { ok: false, note: 'not needed' },
    redis: await redisInfo(),
    /** A Redis key prefix owned by this run (cleaned at the end). */
    prefix(name) {
      const p = `hgbench:${process.pid}:${name}:`;
      prefixes.add(p);
      return p;
    },
    recordRss(scenario, name, kb) {
      if (kb) rssLog.push({ scenario, name, kb });
    },
    rssLog,
    baseline: { ok: false, note: 'not needed' },
    build,
  };
  log(`hookgate bench: scenarios ${ids.join(',')}, ${ROUNDS} rounds × ${DURATION}s, load by ${tool.name}${QUICK ? ' (quick)' : ''}`);
  if (ids.includes(1) || ids.includes(2)) {
    if (!existsSync(join(EG_RECIPE, 'gateway.config.yml'))) ctx.eg = { ok: false, note: `express-gateway recipe not found at ${EG_RECIPE}` };
    else ctx.eg = await ensureExpressGateway(log);
    if (!ctx.eg.ok) log(`express-gateway skipped: ${ctx.eg.note}`);
  }
  if (!ctx.nginx && (ids.includes(1) || ids.includes(2))) log('nginx is not on PATH: skipped');
  if (ids.includes(6) || ids.includes(8)) {
    ctx.baseline = await ensureBaseline(log, build.rev).catch((err) => ({ ok: false, note: `baseline build failed: ${err.message}` }));
    log(ctx.baseline.ok ? `baseline engine ${ctx.baseline.short} (${ctx.baseline.how})${ctx.baseline.sameAsCurrent ? ': same gateway/ code as the current build' : ''}` : `baseline skipped: ${ctx.baseline.note}`);
  }

  let upstream;
  const errors = [];
  const timings = [];
  try {
    upstream = await startUpstream({ secret: WH_SECRET });
    ctx.upstream = upstream;
    for (const id of ids) {
      const t0 = Date.now();
      log(`scenario ${id}`);
      try {
        await SCENARIOS[id](ctx);
      } catch (err) {
        errors.push(id);
        log(`scenario ${id} failed: ${err.stack}`);
        report.section(id, `Scenario ${id} — not completed`, `The run failed: \`${String(err.message).split('\n')[0]}\``);
        report.note(`Scenario ${id} did not complete: ${String(err.message).split('\n')[0]}`);
      } finally {
        // Request logs of the pipeline runs grow by ~100 MB per scenario: drop them.
        for (const f of readdirSync(OUT)) if (f.endsWith('.access.log')) rmSync(join(OUT, f), { force: true });
      }
      timings.push([id, (Date.now() - t0) / 1000]);
    }
    const wantProfile = process.env.BENCH_PROFILE === '1' || (process.env.BENCH_PROFILE !== '0' && report.failedBars().length > 0);
    if (wantProfile) {
      log('profiling one scenario-2 run (--cpu-prof)');
      try {
        await profileScenario2(ctx);
      } catch (err) {
        report.note(`CPU profile not taken: ${err.message}`);
      }
    }
  } finally {
    await upstream?.stop();
    for (const p of prefixes) {
      const n = await deleteKeys(p).catch(() => 0);
      if (n) log(`removed ${n} Redis keys under ${p}`);
    }
    killAll();
  }

  // RSS of the gateway after each scenario.
  if (rssLog.length) {
    const sec = report.sections.find((s) => s.id === 8);
    const t = table(
      ['scenario', 'gateway', 'RSS after (MiB)'],
      rssLog.map((r) => [r.scenario, r.name, fmt(r.kb / 1024, 1)]),
    );
    const body = `### Gateway RSS after each scenario\n\nVmRSS from /proc/<pid>/status just before the gateway was stopped.\n\n${t}`;
    if (sec) sec.body.unshift(body);
    else report.section(8, 'Scenario 8 — memory', body);
  }
  report.sections.sort((a, b) => a.id - b.id);

  const cpuModel = cpus()[0]?.model ?? 'unknown';
  const la = (l) => l.map((x) => x.toFixed(2)).join(' / ');
  const took = (Date.now() - startedAt.getTime()) / 1000;
  const head = [
    '# hookgate benchmark results',
    '',
    `Produced by \`${commandLine()}\` on ${startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC; the run took ${fmt(took / 60, 1)} min.`,
    full ? '' : `**Partial run** (scenarios ${ids.join(', ')}${QUICK ? ', BENCH_QUICK' : ''}): not the reference results.`,
    '',
    table(
      ['setting', 'value'],
      [
        ['machine', `${cpus().length} × ${cpuModel}, ${fmt(totalmem() / 2 ** 30, 0)} GiB`],
        ['CPU pinning', tasksetAvailable() ? `gateway and peers: \`taskset -c ${GW_CORE}\`; load generator, upstream/receiver and harness: \`taskset -c ${LOAD_CORE}\`` : 'none (taskset missing): figures are not per-core'],
        ['load generator', `${tool.name} (${tool.version}), closed loop, ${CONNECTIONS} connections${tool.name === 'wrk' ? ', 1 thread, Lua script for POST body + headers' : ''}`],
        ['rounds', `${ROUNDS} alternating rounds (ABC, CBA, …) per scenario; ${WARMUP} s warm-up per contender; medians over rounds, ratios taken inside a round`],
        ['durations', `${DURATION} s per run; reload runs ${RELOAD_RUN} s; RSS run ${RSS_RUN} s`],
        ['delivery sizes', `${fmt(DELIVERY_COUNT)} deliveries per sustained run; paced latency ${fmt(PACED_RATE)} events/s for ${PACED_SECONDS} s; noisy tenant ${fmt(NOISY_A)} + ${NOISY_B} events; ${fmt(QUEUE_COUNT)} queued messages`],
        ['node', process.version],
        ['nginx', ctx.nginx ?? 'not installed (skipped)'],
        ['express-gateway', ctx.eg.ok ? '1.16.11 (bench/.peers/express-gateway)' : `skipped: ${ctx.eg.note}`],
        ['redis', ctx.redis.ok ? `${ctx.redis.version} at ${REDIS_URL}` : `unreachable: ${ctx.redis.error}`],
        ['ports', `gateway ${PORTS.gateway}+, receiver/upstream ${PORTS.upstream}${portOffset ? ` (defaults moved by ${portOffset})` : ''}`],
        ['current build', build.rev ? build.label : `${gitDescribe()} (this checkout's dist/)`],
        ['baseline engine (scenarios 6, 8)', ctx.baseline.ok ? `${ctx.baseline.short} — ${ctx.baseline.how}${ctx.baseline.sameAsCurrent ? '; same gateway/ code as the current build' : ''}` : ctx.baseline.note],
        ['request', '1 KB JSON POST, keep-alive; upstream answers 200 `{"ok":true}` (bench/peers/upstream.mjs)'],
        ['scenario wall time', timings.map(([id, s]) => `${id}: ${fmt(s)} s`).join(', ')],
        ['load average (1/5/15 min)', `before ${la(loadBefore)}; after ${la(loadavg())} — other work on the machine shows up here`],
      ],
    ),
    '',
    'Each figure is what one core does for the gateway; the other core is shared by the load generator and the upstream, so a very fast contender (nginx) may be capped by them — see the CPU % column (100 % = the contender saturated its core). ' +
      'Other processes on the machine were not stopped: when they steal the gateway core, a contender\'s CPU % drops below 100 % and its req/s with it. "req per CPU-second" (req/s ÷ the contender process\'s CPU share) is the figure least moved by that; the bars use req/s as specified.',
  ].join('\n');
  // The hand-written analysis (what the profiles show, what was tried) travels with every run.
  const analysisFile = join(BENCH, 'ANALYSIS.md');
  const analysis = existsSync(analysisFile) ? '\n' + readFileSync(analysisFile, 'utf8') : '';
  writeFileSync(resultsFile, report.render(head) + '\n' + analysis);
  log(`wrote ${relative(ROOT, resultsFile)}`);
  const failedBars = report.failedBars();
  for (const b of report.bars) log(`  [${b.verdict}] scenario ${b.scenario}: ${b.what}: ${b.value} (want ${b.want})`);
  if (errors.length) log(`scenarios that did not complete: ${errors.join(', ')}`);
  return errors.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err.stack}\n`);
    killAll();
    process.exit(1);
  },
);

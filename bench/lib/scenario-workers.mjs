// Scenario 11: `hookgate start --workers 2` against `--workers 1`, proxy only and the full
// pipeline, in the same run. Both contenders may use every core (taskset -c 0-<n-1>): the point is
// what a second worker gains on this machine. The load generator and the upstream still run on
// LOAD_CORE, so on a 2-core machine the second worker shares its core with them.
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { pipeline, proxyOnlyRedis, writeConfig } from './configs.mjs';
import { PORTS } from './env.mjs';
import { cpuSeconds, rssKb } from './proc.mjs';
import { fmt, fmtX } from './report.mjs';
import { loadTable, ratio, ratioLine, runRounds } from './rounds.mjs';
import { withContenders } from './scenarios-ingress.mjs';
import { startGateway } from './servers.mjs';
import { jsonBody, pipelineRequest } from './signing.mjs';

const PATH = '/webhook/v1/orders';

/** The pids of a process's children (the primary's workers), from /proc. */
function children(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A hookgate with `n` workers on every core; its CPU and RSS are the primary's plus its workers'. */
async function startWorkers(name, file, n, slot, prefix) {
  const allCores = `0-${cpus().length - 1}`;
  const c = await startGateway(name, file, { port: PORTS.gateway + slot, adminPort: PORTS.admin + slot, env: { HGBENCH_PREFIX: prefix }, args: ['--workers', String(n)], core: allCores });
  const tree = () => [c.pid, ...children(c.pid)];
  c.cpu = () => tree().reduce((a, p) => a + (cpuSeconds(p) ?? 0), 0);
  c.rss = () => tree().reduce((a, p) => a + (rssKb(p) ?? 0), 0);
  // /healthz answers once one worker serves; wait for the primary's count of them all
  // (`--workers 1` is the single process: no primary).
  const end = Date.now() + 30_000;
  while (n > 1 && !/every worker serves/.test(readFileSync(c.logFile, 'utf8'))) {
    if (Date.now() > end) throw new Error(`${name}: the workers did not all start within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return c;
}

export async function scenario11(ctx) {
  const title = 'Scenario 11 — worker processes: `--workers 2` against `--workers 1`';
  if (!ctx.redis.ok) {
    ctx.report.section(11, title, `Not run: more than one worker needs the redis store, and Redis at ${ctx.redisUrl} is unreachable (${ctx.redis.error}).`);
    return;
  }
  const body = jsonBody(1024);
  const kinds = [
    { key: 'proxy', file: writeConfig('s11-proxy-redis', proxyOnlyRedis()), request: () => ({ headers: { 'Content-Type': 'application/json' }, body }) },
    { key: 'pipeline', file: writeConfig('s3-pipeline-redis', pipeline('redis')), request: () => pipelineRequest() },
  ];
  const sec = ctx.report.section(
    11,
    title,
    `${cpus().length} cores. Both contenders run unpinned (every core) on the redis store (\`bench/configs/s11-proxy-redis.yaml\`, \`bench/configs/s3-pipeline-redis.yaml\`; prefix \`hgbench:<pid>:s11-*\`, removed afterwards); ` +
      'the load generator and the upstream stay on their core, so a second worker competes with them for it. CPU % and RSS are the primary\'s plus its workers\'.',
  );
  for (const k of kinds) {
    const prefix = ctx.prefix(`s11-${k.key}`);
    await withContenders(
      ctx,
      11,
      [
        { name: `${k.key}, 1 worker`, hookgate: true, start: () => startWorkers(`hookgate-s11-${k.key}-1`, k.file, 1, 2, prefix) },
        { name: `${k.key}, 2 workers`, hookgate: true, start: () => startWorkers(`hookgate-s11-${k.key}-2`, k.file, 2, 4, prefix) },
      ],
      async (cs) => {
        const res = await runRounds(ctx, cs.map((c) => ({ name: c.label, c, path: PATH })), k.request, { label: `s11-${k.key}` });
        const one = res[`${k.key}, 1 worker`];
        const two = res[`${k.key}, 2 workers`];
        const failed = [...one, ...two].reduce((a, r) => a + r.failed, 0);
        sec.body.push(`**${k.key}**\n\n${loadTable(res)}\n\n- 2 workers / 1 worker: ${ratioLine(two, one)}; failed requests ${fmt(failed)}`);
        ctx.report.info(11, `${k.key} throughput, 2 workers vs 1`, ratio(two, one), fmtX);
        ctx.report.bar(11, `failed requests (${k.key}, both contenders, all rounds)`, failed, '==', 0, (n) => fmt(n));
      },
    );
  }
}

// Scenarios 1–5: synchronous ingress through hookgate, side by side with the peers.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manyRoutes, pipeline, proxyOnly, writeConfig } from './configs.mjs';
import { ADMIN_TOKEN, OUT, PORTS, RELOAD_RUN, RELOADS } from './env.mjs';
import { httpReq } from './http.mjs';
import { fmt, fmtMs, fmtX, table } from './report.mjs';
import { loadTable, ratio, ratioLine, runRounds } from './rounds.mjs';
import { startBare, startBareUndici, startExpressGateway, startGateway, startNginx } from './servers.mjs';
import { jsonBody, pipelineRequest } from './signing.mjs';
import { deleteKeys } from './redis.mjs';

const PATH = '/webhook/v1/orders';

/**
 * Starts the contenders (skipping, with a note, any peer that is unavailable or fails to start),
 * runs `fn(list)`, records the hookgate RSS for scenario 8, and stops them all by pid.
 */
export async function withContenders(ctx, scenario, starters, fn) {
  const started = [];
  const skipped = [];
  try {
    for (const s of starters) {
      if (!s.start) {
        skipped.push(`${s.name}: ${s.why}`);
        continue;
      }
      const t0 = Date.now();
      try {
        const c = await s.start();
        c.label = s.name;
        c.startMs = Date.now() - t0;
        c.hookgate = !!s.hookgate;
        started.push(c);
        ctx.log(`  started ${s.name} (pid ${c.pid}, ${c.startMs} ms)`);
      } catch (err) {
        if (s.hookgate) throw err;
        skipped.push(`${s.name}: failed to start (${err.message.split('\n')[0]})`);
      }
    }
    for (const w of skipped) ctx.report.note(`Scenario ${scenario}: peer skipped — ${w}`);
    return await fn(started, skipped);
  } finally {
    for (const c of started) {
      if (c.hookgate) ctx.recordRss(scenario, c.label, c.rss());
    }
    for (const c of started.reverse()) await c.stop();
  }
}

/** Starters for the peers of scenarios 1 and 2. */
function peerStarters(ctx) {
  return [
    { name: 'bare http-proxy', start: () => startBare() },
    { name: 'bare undici', start: () => startBareUndici() },
    {
      name: 'express-gateway 1.16.11',
      start: ctx.eg.ok ? () => startExpressGateway({ recipeDir: ctx.egRecipe }) : undefined,
      why: ctx.eg.note,
    },
    { name: `nginx ${ctx.nginx ?? ''}`.trim(), start: ctx.nginx ? () => startNginx() : undefined, why: 'nginx is not on PATH (apt-get install nginx-light)' },
  ];
}

const entriesOf = (cs) => cs.map((c) => ({ name: c.label, c, path: PATH }));

/** Scenario 1: proxy only, 1 KB JSON POST, no plugins. Bars ≥ 1.4× bare http-proxy and ≥ 0.8× bare undici. */
export async function scenario1(ctx) {
  const file = writeConfig('s1-proxy', proxyOnly());
  const body = jsonBody(1024);
  const request = () => ({ headers: { 'Content-Type': 'application/json' }, body });
  await withContenders(ctx, 1, [{ name: 'hookgate', hookgate: true, start: () => startGateway('hookgate-s1', file) }, ...peerStarters(ctx)], async (cs) => {
    const res = await runRounds(ctx, entriesOf(cs), request, { label: 's1' });
    const sec = ctx.report.section(1, 'Scenario 1 — proxy only (1 KB JSON POST, no plugins)', `Config: \`bench/configs/s1-proxy.yaml\`. Every contender forwards to the same local upstream.\n\n${loadTable(res)}`);
    const lines = [];
    const hg = res.hookgate;
    for (const [name, runs] of Object.entries(res)) if (name !== 'hookgate') lines.push(`- hookgate / ${name}: ${ratioLine(hg, runs)}`);
    sec.body.push(lines.join('\n'));
    const bare = res['bare http-proxy'];
    const undici = res['bare undici'];
    ctx.report.bar(1, 'proxy-only throughput vs bare http-proxy', bare ? ratio(hg, bare) : undefined, '>=', 1.4);
    ctx.report.bar(1, 'proxy-only throughput vs bare undici', undici ? ratio(hg, undici) : undefined, '>=', 0.8);
  });
}

/** Scenario 2: the full ingress pipeline (memory store) vs the peers' proxy-only setups. */
export async function scenario2(ctx) {
  const file = writeConfig('s2-pipeline', pipeline('memory'));
  await withContenders(ctx, 2, [{ name: 'hookgate pipeline', hookgate: true, start: () => startGateway('hookgate-s2', file) }, ...peerStarters(ctx)], async (cs) => {
    const res = await runRounds(ctx, entriesOf(cs), () => pipelineRequest(), { label: 's2' });
    ctx.s2 = res['hookgate pipeline'];
    const sec = ctx.report.section(
      2,
      'Scenario 2 — full ingress pipeline',
      'hookgate runs request-id → jwt-auth (HS256) → rate-limit (memory, never blocking) → verify-signature (standard-webhooks, dedupe off) → log (JSON lines to a file in bench/.out); ' +
        'the peers proxy the same signed request with no plugins (their proxy-only setups). Requests are signed at the start of each run.\n\n' +
        'Config: `bench/configs/s2-pipeline.yaml`.\n\n' +
        loadTable(res),
    );
    const hg = res['hookgate pipeline'];
    const lines = [];
    for (const [name, runs] of Object.entries(res)) if (runs !== hg) lines.push(`- hookgate pipeline / ${name}: ${ratioLine(hg, runs)}`);
    sec.body.push(lines.join('\n'));
    const bare = res['bare http-proxy'];
    const undici = res['bare undici'];
    const eg = Object.entries(res).find(([n]) => n.startsWith('express-gateway'))?.[1];
    ctx.report.bar(2, 'pipeline throughput vs bare http-proxy', bare ? ratio(hg, bare) : undefined, '>=', 1.0);
    ctx.report.bar(2, 'pipeline throughput vs express-gateway proxy-only', eg ? ratio(hg, eg) : undefined, '>=', 3);
    ctx.report.bar(2, 'pipeline p99 vs bare http-proxy p99', bare ? ratio(hg, bare, 'p99') : undefined, '<=', 1.5);
    ctx.report.info(2, 'pipeline throughput vs bare undici', undici ? ratio(hg, undici) : undefined);
    ctx.report.bar(2, 'failed requests (pipeline, all rounds)', hg.reduce((a, r) => a + r.failed, 0), '==', 0, (n) => fmt(n));
  });
}

/** Scenario 3: the same pipeline with rate-limit on Redis, alternating with the memory one. Bar ≥ 0.85×. */
export async function scenario3(ctx) {
  if (!ctx.redis.ok) {
    ctx.report.section(3, 'Scenario 3 — pipeline with the Redis store', `Not run: Redis at ${ctx.redisUrl} is unreachable (${ctx.redis.error}).`);
    return;
  }
  const mem = writeConfig('s2-pipeline', pipeline('memory'));
  const red = writeConfig('s3-pipeline-redis', pipeline('redis'));
  const prefix = ctx.prefix('s3');
  try {
    await withContenders(
      ctx,
      3,
      [
        { name: 'pipeline, redis store', hookgate: true, start: () => startGateway('hookgate-s3', red, { port: PORTS.gateway + 2, adminPort: PORTS.admin + 2, env: { HGBENCH_PREFIX: prefix } }) },
        { name: 'pipeline, memory store', hookgate: true, start: () => startGateway('hookgate-s3-mem', mem) },
      ],
      async (cs) => {
        const res = await runRounds(ctx, entriesOf(cs), () => pipelineRequest(), { label: 's3' });
        const r = ratio(res['pipeline, redis store'], res['pipeline, memory store']);
        ctx.report.section(
          3,
          'Scenario 3 — pipeline with rate-limit on Redis',
          `Same pipeline; the store is \`{driver: redis, url: ${ctx.redisUrl}, prefix: "hgbench:<pid>:s3:"}\` (keys removed afterwards). Config: \`bench/configs/s3-pipeline-redis.yaml\`.\n\n${loadTable(res)}\n\n- redis / memory: ${ratioLine(res['pipeline, redis store'], res['pipeline, memory store'])}`,
        );
        ctx.report.bar(3, 'pipeline with Redis rate-limit vs memory (scenario 2)', r, '>=', 0.85);
      },
    );
  } finally {
    await deleteKeys(prefix).catch(() => {});
  }
}

/** Scenario 4: 10 routes vs 10,000 routes (mixed exact and prefix). Bar ≥ 0.95×. */
export async function scenario4(ctx) {
  const dir = join(OUT, 'configs');
  const small = writeConfig('s4-routes-10', manyRoutes(10), dir);
  const big = writeConfig('s4-routes-10000', manyRoutes(10_000), dir);
  const body = jsonBody(1024);
  await withContenders(
    ctx,
    4,
    [
      { name: '10 routes', hookgate: true, start: () => startGateway('hookgate-s4-10', small) },
      { name: '10,000 routes', hookgate: true, start: () => startGateway('hookgate-s4-10000', big, { port: PORTS.gateway + 2, adminPort: PORTS.admin + 2 }) },
    ],
    async (cs) => {
      const res = await runRounds(ctx, entriesOf(cs), () => ({ headers: { 'Content-Type': 'application/json' }, body }), { label: 's4' });
      const r = ratio(res['10,000 routes'], res['10 routes']);
      const starts = table(
        ['routes', 'start-up to /healthz 200 (ms)', 'RSS after (MiB)'],
        cs.map((c) => [c.label, fmt(c.startMs), fmt((c.rss() ?? 0) / 1024, 1)]),
      );
      ctx.report.section(
        4,
        'Scenario 4 — route-table scale',
        `Proxy-only request to an exact route declared last, among half exact / half prefix routes (a quarter of the prefixes on the same \`/webhook/v1/\` branch). Configs are generated into \`bench/.out/configs/\` (\`manyRoutes()\` in bench/lib/configs.mjs).\n\n${loadTable(res)}\n\n${starts}\n\n- 10,000 / 10 routes: ${ratioLine(res['10,000 routes'], res['10 routes'])}`,
      );
      ctx.report.bar(4, '10,000 routes vs 10 routes throughput', r, '>=', 0.95);
    },
  );
}

/** Scenario 5: 20 admin reloads during a run of scenario 2, vs the same run without reloads. */
export async function scenario5(ctx) {
  const dir = join(OUT, 's5');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'gateway.yaml');
  const variants = [pipeline('memory', false), pipeline('memory', true)];
  writeFileSync(file, variants[0]);
  const reloadStats = [];
  await withContenders(ctx, 5, [{ name: 'hookgate', hookgate: true, start: () => startGateway('hookgate-s5', file) }], async ([gw]) => {
    /** Spreads RELOADS reloads over the run, alternating the two config files; checks each took effect. */
    const reloader = (e, seconds, tag) => {
      if (e.name !== 'with reloads' || tag === 'warmup') return undefined;
      const st = { ok: 0, failed: 0, wrongGeneration: 0, ms: [], errors: [] };
      const every = (seconds * 1000) / (RELOADS + 1);
      const t0 = Date.now();
      const done = (async () => {
        for (let i = 1; i <= RELOADS; i++) {
          const wait = t0 + i * every - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const v = i % 2;
          writeFileSync(file, variants[v]);
          const s = performance.now();
          try {
            const r = await httpReq({ port: gw.adminPort, method: 'POST', path: '/admin/reload', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, timeoutMs: 10_000 });
            st.ms.push(performance.now() - s);
            if (r.status === 200) st.ok++;
            else {
              st.failed++;
              st.errors.push(`${r.status} ${r.body.slice(0, 200)}`);
            }
            const m = await httpReq({ port: gw.port, path: '/webhook/v1/marker', timeoutMs: 5000 });
            if ((m.status === 200) !== (v === 1)) st.wrongGeneration++;
          } catch (err) {
            st.failed++;
            st.errors.push(err.message);
          }
        }
      })();
      return async () => {
        await done;
        reloadStats.push(st);
        return st;
      };
    };
    const entries = [
      { name: 'with reloads', c: gw, path: PATH },
      { name: 'no reloads', c: gw, path: PATH },
    ];
    const res = await runRounds(ctx, entries, () => pipelineRequest(), { label: 's5', duration: RELOAD_RUN, during: reloader });
    // Leave the file as variant 0 for the next run.
    writeFileSync(file, variants[0]);
    const withR = res['with reloads'];
    const failed = withR.reduce((a, r) => a + r.failed, 0);
    const reloadsOk = reloadStats.reduce((a, s) => a + s.ok, 0);
    const reloadsFailed = reloadStats.reduce((a, s) => a + s.failed, 0);
    const wrong = reloadStats.reduce((a, s) => a + s.wrongGeneration, 0);
    const allMs = reloadStats.flatMap((s) => s.ms).sort((a, b) => a - b);
    const rr = ratio(withR, res['no reloads']);
    const errs = [...new Set(reloadStats.flatMap((s) => s.errors))].slice(0, 3);
    const err = withR.map((r) => r.errors);
    ctx.report.section(
      5,
      'Scenario 5 — hot reload under load',
      `${RELOADS} \`POST /admin/reload\` calls (bearer token) spread over each ${RELOAD_RUN} s run of scenario 2, alternating two config files (the second adds a route; each reload is checked by probing that route). ` +
        `Rounds alternate with the same run without reloads.\n\n${loadTable(res)}\n\n` +
        table(
          ['reloads', 'answered 200', 'failed', 'took effect wrongly', 'reload call ms (median / max)', 'socket errors connect/read/write/timeout', 'non-2xx'],
          [
            [
              fmt(reloadStats.length * RELOADS),
              fmt(reloadsOk),
              fmt(reloadsFailed),
              fmt(wrong),
              `${fmtMs(allMs[allMs.length >> 1])} / ${fmtMs(allMs[allMs.length - 1])}`,
              ['connect', 'read', 'write', 'timeout'].map((k) => fmt(err.reduce((a, e) => a + e[k], 0))).join('/'),
              fmt(err.reduce((a, e) => a + e.non2xx, 0)),
            ],
          ],
        ) +
        (errs.length ? `\n\nReload errors: ${errs.map((e) => `\`${e}\``).join(', ')}` : '') +
        `\n\n- with / without reloads: ${ratioLine(withR, res['no reloads'])}`,
    );
    ctx.report.bar(5, 'failed or reset requests during reloads (all rounds)', failed, '==', 0, (n) => fmt(n));
    ctx.report.bar(5, `reloads that failed (of ${reloadStats.length * RELOADS})`, reloadsFailed + wrong, '==', 0, (n) => fmt(n));
    ctx.report.bar(5, 'throughput with reloads vs without', rr, '>=', 0.9);
  });
}

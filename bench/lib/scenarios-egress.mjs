// Scenarios 7–8 (async ingress, memory) and the --cpu-prof profile of scenario 2; scenario 6 is in
// scenario-delivery-rate.mjs, scenario 9 in scenario-fairness.mjs.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { asyncIngress, egress, pipeline, writeConfig } from './configs.mjs';
import { cpuProfileTop } from './cpuprofile.mjs';
import { needRedis, sleep, waitDeliveries } from './egress-runs.mjs';
import { DURATION, LOAD_CORE, OUT, QUEUE_COUNT, ROOT, ROUNDS, RSS_EVERY, RSS_RUN, CONNECTIONS, WARMUP } from './env.mjs';
import { load } from './load.mjs';
import { eventBody, now, publishCount } from './publish.mjs';
import { connect, deleteKeys, keyStats, usedMemory } from './redis.mjs';
import { fmt, fmtMs, fmtX, median, table } from './report.mjs';
import { withContenders } from './scenarios-ingress.mjs';
import { startGateway } from './servers.mjs';
import { pipelineRequest, jsonBody } from './signing.mjs';

/** Scenario 7: async ingress (`deliver`): 202s per second, and how fast the queue drains to the upstream. */
export async function scenario7(ctx) {
  const title = 'Scenario 7 — async ingress (`deliver`, redis store)';
  if (!needRedis(ctx, 7, title)) return;
  const file = writeConfig('s7-async-ingress', asyncIngress());
  const prefix = ctx.prefix('s7');
  const body = jsonBody(1024);
  await withContenders(ctx, 7, [{ name: 'hookgate', hookgate: true, start: () => startGateway('hookgate-s7', file, { env: { HGBENCH_PREFIX: prefix } }) }], async ([gw]) => {
    const up = ctx.upstream;
    const round = async (seconds, tag) => {
      await up.reset();
      const cpu0 = gw.cpu();
      const r = await load({ url: `http://127.0.0.1:${gw.port}/webhook/v1/async`, method: 'POST', headers: { 'Content-Type': 'application/json' }, body, durationSec: seconds, connections: CONNECTIONS, core: LOAD_CORE, root: ROOT, scratch: OUT, label: `s7-${tag}` });
      const tEnd = now();
      const cpuPct = ((gw.cpu() - cpu0) / r.durationSec) * 100;
      const atEnd = await up.stats();
      const accepted = r.requests - r.errors.non2xx;
      const s = await waitDeliveries(up, (st) => st.requests >= accepted, { maxMs: 180_000, idleMs: 20_000 });
      const drained = s.requests - atEnd.requests;
      const drainSec = Math.max(0, (s.lastAt - tEnd) / 1000);
      const out = {
        ingest: r.rps,
        p99: r.p99,
        failed: r.failed,
        accepted,
        duringIngest: atEnd.requests / r.durationSec,
        backlog: accepted - atEnd.requests,
        drainRate: drained > 0 && drainSec > 0 ? drained / drainSec : undefined,
        drainSec,
        overall: s.requests / ((s.lastAt - s.firstAt) / 1000),
        lost: Math.max(0, accepted - s.requests),
        cpuPct,
      };
      ctx.log(`  ${tag}: ingest ${fmt(out.ingest)} 202/s, delivered ${fmt(out.duringIngest)}/s meanwhile, backlog ${fmt(out.backlog)}, drain ${fmt(out.drainRate)}/s, lost ${out.lost}`);
      return out;
    };
    await round(WARMUP, 'warm-up');
    const rs = [];
    for (let i = 0; i < ROUNDS; i++) rs.push(await round(DURATION, `round ${i + 1}`));
    const m = (k) => median(rs.map((r) => r[k]));
    ctx.report.section(
      7,
      title,
      `${DURATION} s closed-loop load (${CONNECTIONS} connections) of 1 KB JSON POSTs on a \`deliver: { upstream: up }\` route (no plugins), then the harness waits for the queue to drain to the local upstream. ` +
        `Drain rate = deliveries after the load stopped ÷ time from the end of the load to the last delivery. Config: \`bench/configs/s7-async-ingress.yaml\`.\n\n` +
        table(
          ['round', 'ingest 202/s', 'ingest p99 ms', 'failed', 'delivered/s during ingest', 'backlog at end', 'drain rate /s', 'drain time s', 'overall deliveries/s', 'lost', 'gateway CPU % (ingest)'],
          [
            ...rs.map((r, i) => [i + 1, fmt(r.ingest), fmtMs(r.p99), fmt(r.failed), fmt(r.duringIngest), fmt(r.backlog), fmt(r.drainRate), fmt(r.drainSec, 1), fmt(r.overall), fmt(r.lost), fmt(r.cpuPct)]),
            ['**median**', fmt(m('ingest')), fmtMs(m('p99')), '', fmt(m('duringIngest')), fmt(m('backlog')), fmt(m('drainRate')), fmt(m('drainSec'), 1), fmt(m('overall')), '', fmt(m('cpuPct'))],
          ],
        ),
    );
    ctx.report.bar(7, 'accepted (202) messages not delivered', rs.reduce((a, r) => a + r.lost, 0), '==', 0, (n) => fmt(n));
  });
}

/** Scenario 8: steady-state RSS under scenario-2 load, and Redis memory per queued message. */
export async function scenario8(ctx) {
  const title = 'Scenario 8 — memory';
  const sec = ctx.report.section(8, title);
  // (a) RSS over a steady scenario-2 run.
  const file = writeConfig('s2-pipeline', pipeline('memory'));
  await withContenders(ctx, 8, [{ name: 'hookgate (steady run)', hookgate: true, start: () => startGateway('hookgate-s8-rss', file) }], async ([gw]) => {
    const url = `http://127.0.0.1:${gw.port}/webhook/v1/orders`;
    const base = { url, method: 'POST', connections: CONNECTIONS, core: LOAD_CORE, root: ROOT, scratch: OUT };
    await load({ ...base, ...pipelineRequest(), durationSec: WARMUP, label: 's8-warmup' });
    const samples = [];
    const t0 = Date.now();
    const sampler = setInterval(() => samples.push({ t: Math.round((Date.now() - t0) / 1000), kb: gw.rss() }), RSS_EVERY * 1000);
    let r;
    try {
      r = await load({ ...base, ...pipelineRequest(), durationSec: RSS_RUN, label: 's8-rss' });
    } finally {
      clearInterval(sampler);
    }
    const first = samples[0]?.kb;
    const last = samples[samples.length - 1]?.kb;
    sec.body.push(
      `### RSS during a steady ${RSS_RUN} s scenario-2 run\n\nSampled every ${RSS_EVERY} s (after a ${WARMUP} s warm-up); ${fmt(r.rps)} req/s, ${fmt(r.failed)} failed.\n\n` +
        table(['t (s)', ...samples.map((s) => s.t)], [['RSS (MiB)', ...samples.map((s) => fmt(s.kb / 1024, 1))]]) +
        `\n\n- first ${fmt(first / 1024, 1)} MiB → last ${fmt(last / 1024, 1)} MiB (${fmtX(last / first)}); max ${fmt(Math.max(...samples.map((s) => s.kb)) / 1024, 1)} MiB`,
    );
    ctx.report.bar(8, `RSS growth over a ${RSS_RUN} s steady run (last / first sample)`, first && last ? last / first : undefined, '<=', 1.1);
  });
  // (b) Redis memory per queued message, for a dead endpoint.
  if (!ctx.redis.ok) {
    sec.body.push(`Redis memory per queued message: not run, Redis at ${ctx.redisUrl} is unreachable (${ctx.redis.error}).`);
    return;
  }
  const dead = writeConfig('s8-egress-dead', egress(1, { dead: true }));
  const base = ctx.baseline;
  const builds = [{ key: 'new', label: 'current build', root: undefined }];
  if (base?.ok && !base.sameAsCurrent) builds.push({ key: 'base', label: `baseline ${base.short}`, root: base.root });
  const r = await connect();
  const res = [];
  try {
    for (const b of builds) {
      try {
        res.push(await queuedMemory(ctx, r, b, dead));
      } catch (err) {
        if (b.key === 'new') throw err;
        ctx.report.note(`Scenario 8: Redis memory per queued message not measured on the ${b.label}: ${String(err.message).split('\n')[0]}`);
      }
    }
  } finally {
    r.disconnect();
  }
  const [cur] = res;
  const col = (f) => res.map(f);
  sec.body.push(
    `### Redis memory per queued message

${fmt(QUEUE_COUNT)} ~1 KB events published (64 in flight) to one endpoint on a closed port (retry schedule 1 h, so every message stays queued)${res.length > 1 ? ', once on each build (the baseline engine of scenario 6 too)' : ''}. Config: \`bench/configs/s8-egress-dead.yaml\`.\n\n` +
      table(
        ['measure', ...col((x) => x.label)],
        [
          ['published (failed) at events/s', ...col((x) => `${fmt(x.accepted)} (${fmt(x.failed)}) at ${fmt(x.publishRate)}/s`)],
          ['INFO used_memory delta', ...col((x) => `${fmt(x.delta / 2 ** 20, 1)} MiB`)],
          ['per message (used_memory delta ÷ count)', ...col((x) => `${fmt(x.perMsg)} B`)],
          ['keys under the prefix', ...col((x) => fmt(x.keys))],
          ['per message (Σ MEMORY USAGE of the prefix’s keys ÷ count)', ...col((x) => `${fmt(x.perMsgKeys)} B`)],
          ['gateway RSS after publishing', ...col((x) => `${fmt((x.rss ?? 0) / 1024, 1)} MiB`)],
        ],
      ) +
      '\n\nThe used_memory delta is taken on the shared Redis; other clients writing at the same time would show up in it, the MEMORY USAGE sum counts only this run’s keys.',
  );
  ctx.report.bar(8, 'Redis memory per queued 1 KB message (bytes)', cur?.perMsg, '<', 3072, (n) => fmt(n));
  if (res[1]) ctx.report.info(8, `baseline ${base.short}: Redis memory per queued 1 KB message (bytes)`, res[1].perMsg, (n) => fmt(n));
}

/** QUEUE_COUNT events queued to a dead endpoint on `build`; Redis memory before and after. */
async function queuedMemory(ctx, r, build, configFile) {
  const prefix = ctx.prefix(`s8-${build.key}`);
  try {
    let out;
    const name = build.key === 'new' ? 'hookgate (dead endpoint)' : `${build.label} (dead endpoint)`;
    await withContenders(ctx, 8, [{ name, hookgate: true, start: () => startGateway(`${build.key === 'new' ? 'hookgate' : 'baseline'}-s8-queue`, configFile, { root: build.root, env: { HGBENCH_PREFIX: prefix } }) }], async ([gw]) => {
      await sleep(1000);
      const before = await usedMemory(r);
      const keysBefore = await keyStats(r, prefix);
      const pub = await publishCount({ port: gw.port, path: '/events', count: QUEUE_COUNT, concurrency: 64, bodyOf: (i) => eventBody(i), deadlineMs: 300_000 });
      ctx.log(`  ${build.label}: published ${fmt(pub.accepted)} events (${fmt(pub.failed)} failed) in ${fmt(pub.elapsedSec, 1)} s`);
      // Let the first (failing) attempts settle: wait until used_memory is stable.
      let after = await usedMemory(r);
      for (let i = 0; i < 30; i++) {
        await sleep(2000);
        const m = await usedMemory(r);
        const stable = Math.abs(m - after) / Math.max(1, after) < 0.005;
        after = m;
        if (stable) break;
      }
      const keys = await keyStats(r, prefix);
      out = {
        label: build.label,
        accepted: pub.accepted,
        failed: pub.failed,
        publishRate: pub.accepted / pub.elapsedSec,
        delta: after - before,
        perMsg: (after - before) / pub.accepted,
        keys: keys.keys,
        perMsgKeys: (keys.bytes - keysBefore.bytes) / pub.accepted,
        rss: gw.rss(),
      };
      ctx.log(`  ${build.label}: ${fmt(out.perMsg)} B of Redis per queued message (MEMORY USAGE: ${fmt(out.perMsgKeys)} B)`);
    });
    return out;
  } finally {
    await deleteKeys(prefix).catch(() => {});
  }
}

/** One scenario-2 run under `node --cpu-prof`; the top self-time functions go into the report. */
export async function profileScenario2(ctx) {
  const file = writeConfig('s2-pipeline', pipeline('memory'));
  const before = new Set(readdirSync(OUT).filter((f) => f.endsWith('.cpuprofile')));
  let rps;
  await withContenders(ctx, 'profile', [{ name: 'hookgate --cpu-prof', hookgate: true, start: () => startGateway('hookgate-s2-prof', file, { cpuProf: true }) }], async ([gw]) => {
    const base = { url: `http://127.0.0.1:${gw.port}/webhook/v1/orders`, method: 'POST', connections: CONNECTIONS, core: LOAD_CORE, root: ROOT, scratch: OUT };
    await load({ ...base, ...pipelineRequest(), durationSec: WARMUP, label: 'prof-warmup' });
    rps = (await load({ ...base, ...pipelineRequest(), durationSec: DURATION, label: 'prof' })).rps;
  });
  const fresh = readdirSync(OUT)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .map((f) => join(OUT, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!fresh.length) throw new Error('the gateway wrote no .cpuprofile (did it exit cleanly on SIGTERM?)');
  ctx.report.section(99, 'CPU profile — one scenario-2 run', `\`node --cpu-prof\` on the gateway for a ${WARMUP} s warm-up plus a ${DURATION} s run (${fmt(rps)} req/s under the profiler). Profile: \`${fresh[0].slice(ROOT.length + 1)}\`.\n\n${cpuProfileTop(fresh[0])}`);
}

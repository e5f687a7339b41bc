// Scenarios 6–8 (delivery engine, Redis store, memory) and the --cpu-prof profile of scenario 2.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { asyncIngress, egress, pipeline, writeConfig } from './configs.mjs';
import { cpuProfileTop } from './cpuprofile.mjs';
import { DELIVERY_COUNT, DURATION, LOAD_CORE, OUT, PACED_RATE, PACED_SECONDS, PORTS, QUEUE_COUNT, ROOT, ROUNDS, RSS_EVERY, RSS_RUN, CONNECTIONS, WARMUP } from './env.mjs';
import { load } from './load.mjs';
import { eventBody, now, publishCount, publishPaced } from './publish.mjs';
import { connect, deleteKeys, keyStats, usedMemory } from './redis.mjs';
import { fmt, fmtMs, fmtX, median, percentile, table } from './report.mjs';
import { withContenders } from './scenarios-ingress.mjs';
import { startGateway } from './servers.mjs';
import { pipelineRequest, jsonBody } from './signing.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function needRedis(ctx, id, title) {
  if (ctx.redis.ok) return true;
  ctx.report.section(id, title, `Not run: Redis at ${ctx.redisUrl} is unreachable (${ctx.redis.error}).`);
  return false;
}

/**
 * Polls the receiver until `done(stats)` or until nothing arrived for `idleMs` (or `maxMs` passed).
 * Resolves the last stats.
 */
async function waitDeliveries(upstream, done, { maxMs = 120_000, idleMs = 15_000 } = {}) {
  const t0 = Date.now();
  let last = -1;
  let lastChange = Date.now();
  let s;
  for (;;) {
    s = await upstream.stats();
    if (done(s)) return s;
    const n = s.requests;
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange > idleMs || Date.now() - t0 > maxMs) return s;
    await sleep(200);
  }
}

/** One publish smoke check: 202 with `endpoints` = n, and a verified delivery arrives. */
async function smoke(ctx, gw, endpoints) {
  await ctx.upstream.reset();
  const pub = await publishCount({ port: gw.port, path: '/events', count: 1, concurrency: 1, bodyOf: (i) => eventBody(-1 - i), keepIds: true });
  if (pub.accepted !== 1) throw new Error(`publish to ${gw.label} was not accepted: ${pub.firstError}`);
  const s = await waitDeliveries(ctx.upstream, (st) => st.deliveries >= endpoints, { maxMs: 30_000, idleMs: 10_000 });
  if (s.deliveries < endpoints) throw new Error(`publish smoke: ${s.deliveries}/${endpoints} deliveries arrived at the receiver within 30 s`);
}

/** Scenario 6: egress delivery rate (1 and 100 endpoints) and publish→delivery latency at 500/s. */
export async function scenario6(ctx) {
  const title = 'Scenario 6 — egress delivery (redis store)';
  if (!needRedis(ctx, 6, title)) return;
  const f1 = writeConfig('s6-egress-1', egress(1));
  const f100 = writeConfig('s6-egress-100', egress(100));
  const f64 = writeConfig('s6-egress-1-inflight64', egress(1, { maxInFlightPerEndpoint: 64 }));
  const p1 = ctx.prefix('s6-1');
  const p100 = ctx.prefix('s6-100');
  const p64 = ctx.prefix('s6-64');
  const ALT = '1 endpoint, maxInFlightPerEndpoint 64';
  await withContenders(
    ctx,
    6,
    [
      { name: '1 endpoint', hookgate: true, start: () => startGateway('hookgate-s6-1', f1, { env: { HGBENCH_PREFIX: p1 } }) },
      { name: '100 endpoints', hookgate: true, start: () => startGateway('hookgate-s6-100', f100, { port: PORTS.gateway + 2, adminPort: PORTS.admin + 2, env: { HGBENCH_PREFIX: p100 } }) },
      { name: ALT, hookgate: true, start: () => startGateway('hookgate-s6-64', f64, { port: PORTS.gateway + 4, adminPort: PORTS.admin + 4, env: { HGBENCH_PREFIX: p64 } }) },
    ],
    async ([g1, g100, g64]) => {
      const up = ctx.upstream;
      await smoke(ctx, g1, 1);
      await smoke(ctx, g100, 100);
      await smoke(ctx, g64, 1);
      const runs = { '1 endpoint': [], '100 endpoints': [], [ALT]: [] };
      const sustained = async (gw, endpoints, events, tag) => {
        await up.reset();
        const cpu0 = gw.cpu();
        const t0 = now();
        const pub = await publishCount({ port: gw.port, path: '/events', count: events, concurrency: 32, bodyOf: (i) => eventBody(i), deadlineMs: 120_000 });
        const pubSec = (now() - t0) / 1000;
        const want = pub.accepted * endpoints;
        const s = await waitDeliveries(up, (st) => st.deliveries >= want, { maxMs: 180_000 });
        const span = (s.lastAt - s.firstAt) / 1000;
        const r = {
          events: pub.accepted,
          publishFailed: pub.failed,
          publishRate: pub.accepted / pubSec,
          deliveries: s.deliveries,
          missing: Math.max(0, want - s.deliveries),
          rate: span > 0 ? s.deliveries / span : undefined,
          endToEndRate: s.deliveries / ((s.lastAt - t0) / 1000),
          badSignature: s.badSignature,
          duplicates: s.duplicates,
          cpuPct: ((gw.cpu() - cpu0) / ((s.lastAt - t0) / 1000)) * 100,
        };
        ctx.log(`  ${tag} ${String(endpoints).padStart(3)} endpoint(s): ${fmt(r.rate)} deliveries/s (publish ${fmt(r.publishRate)}/s), missing ${r.missing}, bad sig ${r.badSignature}, dup ${r.duplicates}`);
        return r;
      };
      ctx.log('  warm-up');
      await sustained(g1, 1, Math.min(1000, DELIVERY_COUNT / 10), 'warm-up');
      await sustained(g100, 100, Math.max(2, DELIVERY_COUNT / 1000), 'warm-up');
      await sustained(g64, 1, Math.min(1000, DELIVERY_COUNT / 10), 'warm-up');
      const order = [
        ['1 endpoint', g1, 1, DELIVERY_COUNT],
        ['100 endpoints', g100, 100, Math.round(DELIVERY_COUNT / 100)],
        [ALT, g64, 1, DELIVERY_COUNT],
      ];
      for (let i = 0; i < ROUNDS; i++) {
        for (const [name, gw, n, events] of i % 2 ? [...order].reverse() : order) runs[name].push(await sustained(gw, n, events, `round ${i + 1}`));
      }
      // Paced latency: open loop at PACED_RATE events/s to the single endpoint.
      const paced = [];
      for (let i = 0; i < ROUNDS; i++) {
        await up.reset();
        const pub = await publishPaced({ port: g1.port, path: '/events', rate: PACED_RATE, seconds: PACED_SECONDS, bodyOf: (k) => eventBody(k) });
        await waitDeliveries(up, (st) => st.deliveries >= pub.accepted, { maxMs: 60_000, idleMs: 10_000 });
        const st = await up.stats(true);
        const lat = [];
        for (const [seq, t] of pub.sent) {
          const a = st.arrivals[seq];
          if (a) lat.push(a[0] - t);
        }
        const r = {
          sent: pub.sent.size,
          accepted: pub.accepted,
          delivered: lat.length,
          p50: percentile(lat, 50),
          p90: percentile(lat, 90),
          p99: percentile(lat, 99),
          max: percentile(lat, 100),
          publishP99: percentile(pub.publishLatencies, 99),
          achievedRate: pub.sent.size / pub.elapsedSec,
        };
        paced.push(r);
        ctx.log(`  paced round ${i + 1}: ${r.delivered}/${r.sent} delivered, p50 ${fmtMs(r.p50)} ms, p99 ${fmtMs(r.p99)} ms (publish p99 ${fmtMs(r.publishP99)} ms)`);
      }
      const m = (rs, k) => median(rs.map((r) => r[k]));
      const sum = (rs, k) => rs.reduce((a, r) => a + (r[k] ?? 0), 0);
      const r1 = runs['1 endpoint'];
      const r100 = runs['100 endpoints'];
      const fan = median(r100.map((r, i) => r.rate / r1[i].rate));
      ctx.report.section(
        6,
        title,
        `\`POST /events\` (\`publish: {}\`) of a ~1 KB event; the receiver (bench/peers/upstream.mjs, core ${LOAD_CORE}) checks every \`webhook-signature\` and counts duplicate \`webhook-id\`s. ` +
          `Sustained rate = deliveries ÷ (last − first arrival) over ${fmt(DELIVERY_COUNT)} deliveries per run (1 endpoint: ${fmt(DELIVERY_COUNT)} events; 100 endpoints: ${fmt(DELIVERY_COUNT / 100)} events), publishing with 32 in flight. ` +
          `Configs: \`bench/configs/s6-egress-1.yaml\`, \`bench/configs/s6-egress-100.yaml\`; the third row (informative, no bar) raises \`egress.maxInFlightPerEndpoint\` from its default 32 to 64 (\`bench/configs/s6-egress-1-inflight64.yaml\`).\n\n` +
          table(
            ['fan-out', 'deliveries/s (median)', 'per round', 'publish 202/s', 'end-to-end deliveries/s', 'missing', 'bad signatures', 'duplicates', 'gateway CPU %'],
            Object.entries(runs).map(([name, rs]) => [
              name,
              fmt(m(rs, 'rate')),
              rs.map((r) => fmt(r.rate)).join(' / '),
              fmt(m(rs, 'publishRate')),
              fmt(m(rs, 'endToEndRate')),
              fmt(sum(rs, 'missing')),
              fmt(sum(rs, 'badSignature')),
              fmt(sum(rs, 'duplicates')),
              fmt(m(rs, 'cpuPct')),
            ]),
          ) +
          `\n\n- 100-endpoint / 1-endpoint delivery rate: ${fmtX(fan)}\n\n` +
          `Publish→delivery latency, open loop at ${PACED_RATE} events/s for ${PACED_SECONDS} s per round (send time = the intended send time), 1 endpoint:\n\n` +
          table(
            ['round', 'sent', 'delivered', 'achieved events/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'publish (202) p99 ms'],
            paced.map((r, i) => [i + 1, fmt(r.sent), fmt(r.delivered), fmt(r.achievedRate), fmtMs(r.p50), fmtMs(r.p90), fmtMs(r.p99), fmtMs(r.max), fmtMs(r.publishP99)]),
          ),
      );
      ctx.report.bar(6, 'sustained deliveries/s, 1 endpoint', m(r1, 'rate'), '>=', 2000, (n) => fmt(n));
      ctx.report.bar(6, `publish→delivery p99 at ${PACED_RATE}/s (median of rounds, ms)`, m(paced, 'p99'), '<', 50, fmtMs);
      ctx.report.bar(6, '100-endpoint fan-out rate vs 1 endpoint', fan, '>=', 0.8);
      ctx.report.bar(6, 'lost, unsigned or duplicated deliveries', sum(r1, 'missing') + sum(r100, 'missing') + sum(r1, 'badSignature') + sum(r100, 'badSignature') + sum(r1, 'duplicates') + sum(r100, 'duplicates') + paced.reduce((a, r) => a + (r.accepted - r.delivered), 0), '==', 0, (n) => fmt(n));
    },
  );
}

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
  const prefix = ctx.prefix('s8');
  const r = await connect();
  try {
    await withContenders(ctx, 8, [{ name: 'hookgate (dead endpoint)', hookgate: true, start: () => startGateway('hookgate-s8-queue', dead, { env: { HGBENCH_PREFIX: prefix } }) }], async ([gw]) => {
      await sleep(1000);
      const before = await usedMemory(r);
      const keysBefore = await keyStats(r, prefix);
      const pub = await publishCount({ port: gw.port, path: '/events', count: QUEUE_COUNT, concurrency: 64, bodyOf: (i) => eventBody(i), deadlineMs: 300_000 });
      ctx.log(`  published ${fmt(pub.accepted)} events (${fmt(pub.failed)} failed) in ${fmt(pub.elapsedSec, 1)} s`);
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
      const perMsg = (after - before) / pub.accepted;
      const perMsgKeys = (keys.bytes - keysBefore.bytes) / pub.accepted;
      const rss = gw.rss();
      sec.body.push(
        `### Redis memory per queued message\n\n${fmt(pub.accepted)} ~1 KB events published (64 in flight, ${fmt(pub.accepted / pub.elapsedSec)}/s; ${fmt(pub.failed)} failed) to one endpoint on a closed port (retry schedule 1 h, so every message stays queued). Config: \`bench/configs/s8-egress-dead.yaml\`.\n\n` +
          table(
            ['measure', 'value'],
            [
              ['INFO used_memory delta', `${fmt((after - before) / 2 ** 20, 1)} MiB`],
              ['per message (used_memory delta ÷ count)', `${fmt(perMsg)} B`],
              ['keys under the prefix', fmt(keys.keys)],
              ['per message (Σ MEMORY USAGE of the prefix’s keys ÷ count)', `${fmt(perMsgKeys)} B`],
              ['gateway RSS after publishing', `${fmt((rss ?? 0) / 1024, 1)} MiB`],
            ],
          ) +
          '\n\nThe used_memory delta is taken on the shared Redis; other clients writing at the same time would show up in it, the MEMORY USAGE sum counts only this run’s keys.',
      );
      ctx.report.bar(8, 'Redis memory per queued 1 KB message (bytes)', perMsg, '<', 3072, (n) => fmt(n));
    });
  } finally {
    r.disconnect();
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
  ctx.report.section(9, 'CPU profile — one scenario-2 run', `\`node --cpu-prof\` on the gateway for a ${WARMUP} s warm-up plus a ${DURATION} s run (${fmt(rps)} req/s under the profiler). Profile: \`${fresh[0].slice(ROOT.length + 1)}\`.\n\n${cpuProfileTop(fresh[0])}`);
}

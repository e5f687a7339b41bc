// Scenario 6, deliver-only rows: how fast one core delivers a queued backlog, for the current
// build and the baseline engine, interleaved by round. A publisher instance with one delivery
// worker (egress.concurrency 1; the baseline has no queue-only mode, so both builds get the same
// setup) accepts the publishes into Redis, delivering a few meanwhile, and is stopped (SIGTERM);
// then a worker instance on the same prefix starts on the gateway core and drains the rest. Its
// rate is deliveries after the first fifth ÷ (last arrival − the first fifth's last arrival), so
// the fresh process's warm-up is not in the figure: signed deliveries alone, without the
// publishes' HTTP ingress on the same core.
import { egress, writeConfig } from './configs.mjs';
import { waitDeliveries } from './egress-runs.mjs';
import { DELIVERY_COUNT, PORTS, ROUNDS } from './env.mjs';
import { eventBody, now, publishCount } from './publish.mjs';
import { fmt, fmtX, median, table } from './report.mjs';
import { startGateway } from './servers.mjs';

/** One drain of `build` ({ key, label, root }); resolves its figures. */
async function drainOnce(ctx, build, files, prefix) {
  const env = { HGBENCH_PREFIX: prefix };
  await ctx.upstream.reset();
  const publisher = await startGateway(`${build.key}-s6-publisher`, files.publisher, { root: build.root, port: PORTS.gateway, adminPort: PORTS.admin, env });
  let pub;
  try {
    pub = await publishCount({ port: publisher.port, path: '/events', count: DELIVERY_COUNT, concurrency: 32, bodyOf: (k) => eventBody(k), deadlineMs: 120_000 });
  } finally {
    await publisher.stop();
  }
  const early = (await ctx.upstream.stats()).deliveries;
  await ctx.upstream.reset();
  const want = pub.accepted - early;
  const worker = await startGateway(`${build.key}-s6-drain`, files.worker, { root: build.root, port: PORTS.gateway + 2, adminPort: PORTS.admin + 2, env });
  try {
    const cpu0 = worker.cpu();
    const t0 = now();
    const s = await waitDeliveries(ctx.upstream, (st) => st.deliveries >= want, { maxMs: 180_000 });
    const cpu = worker.cpu() - cpu0;
    const times = Object.values((await ctx.upstream.stats(true)).arrivals ?? {}).flat().sort((a, b) => a - b);
    const from = Math.floor(times.length / 5);
    const span = times.length > from + 1 ? (times[times.length - 1] - times[from]) / 1000 : 0;
    const spanAll = (s.lastAt - s.firstAt) / 1000;
    return {
      backlog: want,
      deliveries: s.deliveries,
      missing: Math.max(0, want - s.deliveries),
      rate: span > 0 ? (times.length - 1 - from) / span : undefined,
      rateAll: spanAll > 0 ? s.deliveries / spanAll : undefined,
      badSignature: s.badSignature,
      duplicates: s.duplicates,
      cpuPct: (cpu / ((s.lastAt - t0) / 1000)) * 100,
      perCpuSec: cpu > 0 ? s.deliveries / cpu : undefined,
    };
  } finally {
    await worker.stop();
  }
}

/** ROUNDS drains per build, interleaved (reversed every other round); resolves { [key]: runs }. */
export async function drainRuns(ctx, builds) {
  const files = {
    publisher: writeConfig('s6-egress-1-publisher', egress(1, { concurrency: 1, maxInFlightPerEndpoint: 1 })),
    worker: writeConfig('s6-egress-1', egress(1)),
  };
  const runs = Object.fromEntries(builds.map((b) => [b.key, []]));
  for (let i = 0; i < ROUNDS; i++) {
    for (const b of i % 2 ? [...builds].reverse() : builds) {
      const r = await drainOnce(ctx, b, files, ctx.prefix(`s6-drain-${b.key}-${i}`));
      ctx.log(`  drain round ${i + 1} ${b.label}: ${fmt(r.rate)} deliveries/s (from the first arrival: ${fmt(r.rateAll)}) of a ${fmt(r.backlog)} backlog, missing ${r.missing}, bad sig ${r.badSignature}, dup ${r.duplicates}, worker cpu ${fmt(r.cpuPct)}%`);
      runs[b.key].push(r);
    }
  }
  return runs;
}

/** Per-round ratio of the two builds' rates, then the median. */
export function drainRatio(runs) {
  const a = runs.new ?? [];
  const b = runs.base ?? [];
  return a.length && b.length ? median(a.map((r, i) => (b[i]?.rate ? r.rate / b[i].rate : undefined)).filter((x) => x !== undefined)) : undefined;
}

/** The drain section's text. */
export function drainText(runs, builds) {
  const sum = (rs, k) => rs.reduce((a, r) => a + (r[k] ?? 0), 0);
  const ratio = drainRatio(runs);
  return [
    `Deliver-only, 1 endpoint: a publisher instance (\`bench/configs/s6-egress-1-publisher.yaml\`: one delivery worker, in-flight cap 1) accepts ${fmt(DELIVERY_COUNT)} publishes into Redis and is stopped; then a worker instance (\`bench/configs/s6-egress-1.yaml\`, same prefix) starts on the gateway core and drains the rest. Rate = deliveries after the first fifth ÷ (last arrival − the first fifth's last arrival), so the fresh worker's warm-up is not in it (the rate from the first arrival is shown too). Both builds, interleaved by round.`,
    table(
      ['row', 'deliveries/s (median)', 'per round', 'from the first arrival (median)', 'backlog (median)', 'missing', 'bad signatures', 'duplicates', 'worker CPU %', 'deliveries per worker CPU-second'],
      builds.filter((b) => runs[b.key]?.length).map((b) => {
        const rs = runs[b.key];
        const m = (k) => median(rs.map((r) => r[k]));
        return [`${b.label}, deliver-only`, fmt(m('rate')), rs.map((r) => fmt(r.rate)).join(' / '), fmt(m('rateAll')), fmt(m('backlog')), fmt(sum(rs, 'missing')), fmt(sum(rs, 'badSignature')), fmt(sum(rs, 'duplicates')), fmt(m('cpuPct')), fmt(m('perCpuSec'))];
      }),
    ),
    ratio !== undefined ? `- current / baseline, deliver-only: ${fmtX(ratio)}` : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}

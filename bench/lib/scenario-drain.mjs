// Scenario 6, deliver-only rows (current build): how fast one core delivers a queued backlog.
// A queue-only instance (egress.concurrency 0) accepts the publishes and queues them in Redis;
// then a worker instance on the same prefix starts on the gateway core and drains them. Its rate
// is deliveries ÷ (last − first arrival): signed deliveries alone, without the publishes'
// HTTP ingress on the same core. The baseline engine has no queue-only mode, so no ratio here.
import { egress, writeConfig } from './configs.mjs';
import { waitDeliveries } from './egress-runs.mjs';
import { DELIVERY_COUNT, PORTS, ROUNDS } from './env.mjs';
import { eventBody, now, publishCount } from './publish.mjs';
import { fmt, median, table } from './report.mjs';
import { startGateway } from './servers.mjs';

/** Runs ROUNDS drains of DELIVERY_COUNT events to 1 endpoint; resolves the runs. */
export async function drainRuns(ctx, root) {
  const qFile = writeConfig('s6-egress-1-queue-only', egress(1, { concurrency: 0 }));
  const wFile = writeConfig('s6-egress-1', egress(1));
  const prefix = ctx.prefix('s6-drain');
  const env = { HGBENCH_PREFIX: prefix };
  const queuer = await startGateway('hookgate-s6-queue-only', qFile, { root, port: PORTS.gateway, adminPort: PORTS.admin, env });
  const runs = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      await ctx.upstream.reset();
      const pub = await publishCount({ port: queuer.port, path: '/events', count: DELIVERY_COUNT, concurrency: 32, bodyOf: (k) => eventBody(k), deadlineMs: 120_000 });
      const worker = await startGateway('hookgate-s6-drain', wFile, { root, port: PORTS.gateway + 2, adminPort: PORTS.admin + 2, env });
      try {
        const cpu0 = worker.cpu();
        const t0 = now();
        const s = await waitDeliveries(ctx.upstream, (st) => st.deliveries >= pub.accepted, { maxMs: 180_000 });
        const cpu = worker.cpu() - cpu0;
        // Sustained: from the arrival of the first fifth to the last, so the fresh process's
        // warm-up (JIT, connections) is not in the figure; `rateAll` counts from the first.
        const times = Object.values((await ctx.upstream.stats(true)).arrivals ?? {}).flat().sort((a, b) => a - b);
        const from = Math.floor(times.length / 5);
        const span = times.length > from + 1 ? (times[times.length - 1] - times[from]) / 1000 : 0;
        const spanAll = (s.lastAt - s.firstAt) / 1000;
        const r = {
          queued: pub.accepted,
          deliveries: s.deliveries,
          missing: Math.max(0, pub.accepted - s.deliveries),
          rate: span > 0 ? (times.length - 1 - from) / span : undefined,
          rateAll: spanAll > 0 ? s.deliveries / spanAll : undefined,
          badSignature: s.badSignature,
          duplicates: s.duplicates,
          cpuPct: (cpu / ((s.lastAt - t0) / 1000)) * 100,
          perCpuSec: cpu > 0 ? s.deliveries / cpu : undefined,
        };
        ctx.log(`  drain round ${i + 1}: ${fmt(r.rate)} deliveries/s (from the first arrival: ${fmt(r.rateAll)}) of a ${fmt(r.queued)} backlog, missing ${r.missing}, bad sig ${r.badSignature}, dup ${r.duplicates}, worker cpu ${fmt(r.cpuPct)}%`);
        runs.push(r);
      } finally {
        await worker.stop();
      }
    }
  } finally {
    await queuer.stop();
  }
  return runs;
}

/** The drain section's text. */
export function drainText(runs) {
  const m = (k) => median(runs.map((r) => r[k]));
  return [
    `Deliver-only: a queue-only instance (\`egress.concurrency: 0\`, \`bench/configs/s6-egress-1-queue-only.yaml\`) accepts ${fmt(DELIVERY_COUNT)} publishes into Redis; then a worker instance (\`bench/configs/s6-egress-1.yaml\`, same prefix) starts on the gateway core and drains them. Rate = deliveries after the first fifth ÷ (last arrival − the first fifth's last arrival), so the fresh worker process's warm-up is not in it (the rate from the first arrival is shown too); the worker's core does the signed deliveries only.`,
    table(
      ['row', 'deliveries/s (median)', 'per round', 'from the first arrival (median)', 'missing', 'bad signatures', 'duplicates', 'worker CPU %', 'deliveries per worker CPU-second'],
      [['current, 1 endpoint, deliver-only', fmt(m('rate')), runs.map((r) => fmt(r.rate)).join(' / '), fmt(m('rateAll')), fmt(runs.reduce((a, r) => a + r.missing, 0)), fmt(runs.reduce((a, r) => a + r.badSignature, 0)), fmt(runs.reduce((a, r) => a + r.duplicates, 0)), fmt(m('cpuPct')), fmt(m('perCpuSec'))]],
    ),
  ].join('\n\n');
}

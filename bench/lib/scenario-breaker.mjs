// Scenario 10: what an open circuit breaker costs the healthy endpoints. Two gateways (Redis
// store) fan out to the same 100 healthy endpoints on the receiver; one of them has a 101st
// endpoint on a dead port (connection refused), whose breaker opens after its first failures and
// whose deliveries are then held without attempts. Each round runs both rows (reversed every other
// round); the per-round ratio of their sustained rates (healthy deliveries/s, with the dead one ÷
// without) is the figure, its median over rounds the bar (issue 12: at least 0.9).
import { egress, writeConfig } from './configs.mjs';
import { needRedis, smoke, sustainedRun } from './egress-runs.mjs';
import { ADMIN_TOKEN, DELIVERY_COUNT, PORTS, ROUNDS } from './env.mjs';
import { httpReq } from './http.mjs';
import { fmt, fmtX, median, table } from './report.mjs';
import { withContenders } from './scenarios-ingress.mjs';
import { startGateway } from './servers.mjs';

export const BAR_DEAD_ENDPOINT = 0.9;
const ROUNDS_AT_LEAST = 5;

/** The dead endpoint's health as the admin API shows it. */
async function deadHealth(gw) {
  const r = await httpReq({ port: gw.adminPort, method: 'GET', path: '/admin/endpoints/ep-dead', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, timeoutMs: 10_000 });
  return r.json?.health;
}

export async function scenario10(ctx) {
  const title = 'Scenario 10 — 100 healthy endpoints, with and without one dead endpoint (redis store)';
  if (!needRedis(ctx, 10, title)) return;
  const healthy = writeConfig('s10-egress-100', egress(100));
  const withDead = writeConfig('s10-egress-100-dead', egress(100, { oneDead: true }));
  const rows = [
    { key: 'healthy', name: '100 healthy endpoints', file: healthy, slot: 0 },
    { key: 'dead', name: '100 healthy + 1 dead endpoint', file: withDead, slot: 2 },
  ];
  await withContenders(
    ctx,
    10,
    rows.map((r) => ({ name: r.name, hookgate: true, start: () => startGateway(`hookgate-s10-${r.key}`, r.file, { port: PORTS.gateway + r.slot, adminPort: PORTS.admin + r.slot, env: { HGBENCH_PREFIX: ctx.prefix(`s10-${r.key}`) } }) })),
    async (gws) => {
      for (const gw of gws) rows.find((r) => r.name === gw.label).gw = gw;
      // The smoke publish opens the dead endpoint's breaker (5 refused connections in a row) before the rounds.
      for (const r of rows) await smoke(ctx, r.gw, 100);
      ctx.log('  warm-up');
      for (const r of rows) await sustainedRun(ctx, r.gw, 100, Math.max(2, DELIVERY_COUNT / 500), 'warm-up');
      // A run is a few seconds, and one round's ratio moved between 0.83 and 1.19 on a quiet
      // machine: at least 5 rounds of twice the events, and the CPU cost beside the rate.
      const runs = { healthy: [], dead: [] };
      for (let i = 0; i < Math.max(ROUNDS, ROUNDS_AT_LEAST); i++) {
        for (const r of i % 2 ? [...rows].reverse() : rows) runs[r.key].push(await sustainedRun(ctx, r.gw, 100, Math.round((2 * DELIVERY_COUNT) / 100), `round ${i + 1}`));
      }
      const ratios = runs.dead.map((d, i) => d.rate / runs.healthy[i].rate);
      const cpuRatios = runs.dead.map((d, i) => (d.perCpuSec && runs.healthy[i].perCpuSec ? d.perCpuSec / runs.healthy[i].perCpuSec : undefined)).filter((x) => x !== undefined);
      const ratio = median(ratios);
      const health = await deadHealth(rows[1].gw).catch(() => undefined);
      const lost = [...runs.healthy, ...runs.dead].reduce((a, r) => a + r.missing + r.badSignature + r.duplicates, 0);
      ctx.report.section(10, title, [
        `Two gateways on one core (taskset), Redis store, default \`egress.breaker\` (opens after 5 failed attempts in a row, 30 s, then longer). ` +
          `\`POST /events\` of a ~1 KB event with 32 in flight; ${fmt((2 * DELIVERY_COUNT) / 100)} events per run = ${fmt(2 * DELIVERY_COUNT)} healthy deliveries, at least ${ROUNDS_AT_LEAST} rounds; the rate is healthy deliveries ÷ (last − first arrival) at the receiver. ` +
          `Configs: \`bench/configs/s10-egress-100.yaml\`, \`bench/configs/s10-egress-100-dead.yaml\` (the same plus \`ep-dead\` on the dead port). Rounds alternate the order.`,
        table(
          ['row', 'deliveries/s (median)', 'per round', 'healthy deliveries per gateway CPU-second (median)', 'missing', 'bad signatures', 'duplicates', 'gateway CPU %'],
          rows.map((r) => [r.name, fmt(median(runs[r.key].map((x) => x.rate))), runs[r.key].map((x) => fmt(x.rate)).join(' / '), fmt(median(runs[r.key].map((x) => x.perCpuSec).filter((x) => x !== undefined))), fmt(runs[r.key].reduce((a, x) => a + x.missing, 0)), fmt(runs[r.key].reduce((a, x) => a + x.badSignature, 0)), fmt(runs[r.key].reduce((a, x) => a + x.duplicates, 0)), fmt(median(runs[r.key].map((x) => x.cpuPct)))]),
        ),
        `- with the dead endpoint / without, per round: ${ratios.map((x) => fmtX(x)).join(' / ')}; median ${fmtX(ratio)}`,
        `- CPU cost, healthy deliveries per gateway CPU-second with the dead endpoint / without (the figure least moved by the machine's noise), per round: ${cpuRatios.map((x) => fmtX(x)).join(' / ')}; median ${fmtX(median(cpuRatios))}`,
        `- the dead endpoint at the end: ${health ? `\`${health.state}\` (${health.reason ?? 'no reason'}), next probe ${health.nextProbeAt ?? 'none'}` : 'health not read'}`,
      ].join('\n\n'));
      ctx.report.bar(10, 'healthy fan-out rate with one dead endpoint among 100 vs without', ratio, '>=', BAR_DEAD_ENDPOINT);
      ctx.report.bar(10, 'lost, unsigned or duplicated healthy deliveries', lost, '==', 0, (n) => fmt(n));
    },
  );
}

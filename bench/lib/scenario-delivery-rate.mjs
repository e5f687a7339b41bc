// Scenario 6: egress delivery rate (1 and 100 endpoints) and publish→delivery latency at
// PACED_RATE events/s, for the current build and, in the same run, the baseline engine (an
// earlier commit built by baseline.mjs). Every row runs once per round for both builds,
// interleaved (new, baseline, … then reversed), so the machine's drift hits both alike; the
// new/baseline ratio is taken inside each round, then the median over rounds is reported.
import { egress, writeConfig } from './configs.mjs';
import { needRedis, pacedRun, smoke, sustainedRun } from './egress-runs.mjs';
import { DELIVERY_COUNT, LOAD_CORE, PACED_RATE, PACED_SECONDS, PORTS, ROOT, ROUNDS } from './env.mjs';
import { fmt, fmtMs, fmtX, median, table } from './report.mjs';
import { withContenders } from './scenarios-ingress.mjs';
import { startGateway } from './servers.mjs';
import { drainRatio, drainRuns, drainText } from './scenario-drain.mjs';

/** Bars of the faster engine (issue 11). */
export const BAR_RATE = 6000;
export const BAR_VS_BASELINE = 3;
export const BAR_P99_MS = 50;
export const BAR_FANOUT = 0.8;

const m = (rs, k) => median(rs.map((r) => r[k]));
const sum = (rs, k) => rs.reduce((a, r) => a + (r[k] ?? 0), 0);
/** Per-round ratio a[i][k] / b[i][k], then the median. */
const roundRatio = (a, b, k = 'rate') => (a?.length && b?.length ? median(a.map((r, i) => (b[i] ? r[k] / b[i][k] : undefined))) : undefined);

export async function scenario6(ctx) {
  const title = 'Scenario 6 — egress delivery (redis store), current build and baseline engine';
  if (!needRedis(ctx, 6, title)) return;
  const base = ctx.baseline ?? { ok: false, note: 'no baseline requested' };
  const f1 = writeConfig('s6-egress-1', egress(1));
  const f100 = writeConfig('s6-egress-100', egress(100));
  const builds = [{ key: 'new', label: 'current', root: ctx.build?.root ?? ROOT }];
  if (base.ok) builds.push({ key: 'base', label: `baseline ${base.short}`, root: base.root });
  else ctx.report.note(`Scenario 6: baseline rows not run — ${base.note}`);
  if (base.ok && base.sameAsCurrent) ctx.report.note(`Scenario 6: the baseline ${base.short} has the same gateway/ code as the current build, so its ratio measures only the machine's noise (expect about 1.0×).`);
  let rows = [];
  builds.forEach((b, j) => {
    for (const [k, n, file] of [
      [0, 1, f1],
      [1, 100, f100],
    ]) {
      const slot = 2 * (2 * j + k);
      const name = `${b.label}, ${n} endpoint${n > 1 ? 's' : ''}`;
      const prefix = ctx.prefix(`s6-${b.key}-${n}`);
      rows.push({ build: b, n, name, start: () => startGateway(`${b.key === 'new' ? 'hookgate' : 'baseline'}-s6-${n}`, file, { root: b.root, port: PORTS.gateway + slot, adminPort: PORTS.admin + slot, env: { HGBENCH_PREFIX: prefix } }) });
    }
  });
  let sectionBody;
  await withContenders(
    ctx,
    6,
    // A baseline that cannot start (say, its schema refuses today's config) is skipped with a note.
    rows.map((r) => ({ name: r.name, hookgate: r.build.key === 'new', start: r.start })),
    async (gws) => {
      for (const gw of gws) rows.find((r) => r.name === gw.label).gw = gw;
      rows = rows.filter((r) => r.gw);
      for (const r of rows) await smoke(ctx, r.gw, r.n);
      ctx.log('  warm-up');
      for (const r of rows) await sustainedRun(ctx, r.gw, r.n, r.n === 1 ? Math.min(2000, DELIVERY_COUNT / 5) : Math.max(2, DELIVERY_COUNT / 500), 'warm-up');
      const runs = Object.fromEntries(rows.map((r) => [r.name, []]));
      // Round order: new 1, baseline 1, new 100, baseline 100; reversed every other round.
      const order = [...rows].sort((a, b) => a.n - b.n);
      for (let i = 0; i < ROUNDS; i++) {
        for (const r of i % 2 ? [...order].reverse() : order) runs[r.name].push(await sustainedRun(ctx, r.gw, r.n, r.n === 1 ? DELIVERY_COUNT : Math.round(DELIVERY_COUNT / 100), `round ${i + 1}`));
      }
      const single = rows.filter((r) => r.n === 1);
      const paced = Object.fromEntries(single.map((r) => [r.build.key, []]));
      for (let i = 0; i < ROUNDS; i++) {
        for (const r of i % 2 ? [...single].reverse() : single) paced[r.build.key].push(await pacedRun(ctx, r.gw, `paced round ${i + 1}`));
      }

      const runsOf = (key, n) => runs[rows.find((r) => r.build.key === key && r.n === n)?.name];
      const new1 = runsOf('new', 1);
      const new100 = runsOf('new', 100);
      const base1 = runsOf('base', 1);
      const base100 = runsOf('base', 100);
      const vsBase = roundRatio(new1, base1);
      const vsBase100 = roundRatio(new100, base100);
      const vsBaseCpu = roundRatio(new1, base1, 'perCpuSec');
      const fan = roundRatio(new100, new1);
      const fanBase = roundRatio(base100, base1);
      const pacedRatio = roundRatio(paced.new, paced.base, 'p99');
      const baseRan = !!base1;
      const lossNew = sum(new1, 'missing') + sum(new100, 'missing') + sum(new1, 'badSignature') + sum(new100, 'badSignature') + sum(new1, 'duplicates') + sum(new100, 'duplicates') + sum(paced.new, 'badSignature') + sum(paced.new, 'duplicates') + paced.new.reduce((a, r) => a + (r.accepted - r.delivered), 0);

      const baseLine = base.ok ? `Baseline engine: \`${base.short}\` (${base.how}${base.subject ? `: “${base.subject}”` : ''}), exported with \`git archive\` into \`bench/.out/baseline/\` and built there with \`npm ci\` + \`tsc\`${base.cached ? ' (cached build)' : ''}; it runs the same generated configs as the current build.` : `Baseline engine: not run (${base.note}).`;
      const body = [
        `\`POST /events\` (\`publish: {}\`) of a ~1 KB event; the receiver (bench/peers/upstream.mjs, core ${LOAD_CORE}) checks every \`webhook-signature\` and counts duplicate \`webhook-id\`s. ` +
          `Sustained rate = deliveries ÷ (last − first arrival) over ${fmt(DELIVERY_COUNT)} deliveries per run (1 endpoint: ${fmt(DELIVERY_COUNT)} events; 100 endpoints: ${fmt(DELIVERY_COUNT / 100)} events), publishing with 32 in flight from the harness; the gateway both accepts the publishes and delivers them on its one core. ` +
          `Each round runs every row for both builds (1 endpoint current, baseline, then 100 endpoints; reversed every other round). Configs: \`bench/configs/s6-egress-1.yaml\`, \`bench/configs/s6-egress-100.yaml\`. ` +
          `"load core %" is the harness (publisher) plus the receiver on core ${LOAD_CORE}: near 100 % the figure is capped by them, not by the gateway.`,
        baseLine,
        table(
          ['row', 'deliveries/s (median)', 'per round', 'publish 202/s', 'end-to-end deliveries/s', 'missing', 'bad signatures', 'duplicates', 'gateway CPU %', 'deliveries per gateway CPU-second', 'load core %'],
          order.map((r) => {
            const rs = runs[r.name];
            return [r.name, fmt(m(rs, 'rate')), rs.map((x) => fmt(x.rate)).join(' / '), fmt(m(rs, 'publishRate')), fmt(m(rs, 'endToEndRate')), fmt(sum(rs, 'missing')), fmt(sum(rs, 'badSignature')), fmt(sum(rs, 'duplicates')), fmt(m(rs, 'cpuPct')), fmt(m(rs, 'perCpuSec')), fmt(m(rs, 'loadCpuPct'))];
          }),
        ),
        [
          `- current / baseline, 1 endpoint: ${fmtX(vsBase)}${new1 && base1 ? ` (per round ${new1.map((r, i) => fmtX(base1[i] ? r.rate / base1[i].rate : undefined)).join(' / ')})` : ''}`,
          `- current / baseline, 1 endpoint, per gateway CPU-second: ${fmtX(vsBaseCpu)} (less moved than the rate when other work steals the gateway's core; the bar uses the rate)`,
          `- current / baseline, 100 endpoints: ${fmtX(vsBase100)}`,
          `- 100-endpoint / 1-endpoint delivery rate: current ${fmtX(fan)}, baseline ${fmtX(fanBase)}`,
        ].join('\n'),
        `Publish→delivery latency, open loop at ${fmt(PACED_RATE)} events/s for ${PACED_SECONDS} s per round (send time = the intended send time), 1 endpoint, both builds alternating:`,
        table(
          ['build', 'round', 'sent', 'delivered', 'achieved events/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'publish (202) p99 ms'],
          single.flatMap((r) => (paced[r.build.key] ?? []).map((x, i) => [r.build.label, i + 1, fmt(x.sent), fmt(x.delivered), fmt(x.achievedRate), fmtMs(x.p50), fmtMs(x.p90), fmtMs(x.p99), fmtMs(x.max), fmtMs(x.publishP99)])),
        ),
        baseRan ? `- p99 current / baseline (per round, median): ${fmtX(pacedRatio)}` : '',
      ].filter(Boolean);
      sectionBody = body;
      ctx.report.bar(6, 'sustained deliveries/s, 1 endpoint', m(new1, 'rate'), '>=', BAR_RATE, (n) => fmt(n));
      ctx.report.bar(6, `sustained deliveries/s, 1 endpoint, vs baseline engine ${base.ok ? base.short : '(not run)'}`, vsBase, '>=', BAR_VS_BASELINE);
      ctx.report.bar(6, `publish→delivery p99 at ${fmt(PACED_RATE)}/s (median of rounds, ms)`, m(paced.new, 'p99'), '<', BAR_P99_MS, fmtMs);
      ctx.report.bar(6, '100-endpoint fan-out rate vs 1 endpoint', fan, '>=', BAR_FANOUT);
      ctx.report.bar(6, 'lost, unsigned or duplicated deliveries (current build)', lossNew, '==', 0, (n) => fmt(n));
      if (baseRan) {
        ctx.report.info(6, `baseline ${base.short}: sustained deliveries/s, 1 endpoint`, m(base1, 'rate'), (n) => fmt(n));
        ctx.report.info(6, `1 endpoint, deliveries per gateway CPU-second vs baseline ${base.short}`, vsBaseCpu);
        ctx.report.info(6, `baseline ${base.short}: publish→delivery p99 at ${fmt(PACED_RATE)}/s (ms)`, m(paced.base, 'p99'), fmtMs);
      }
    },
  );
  if (!sectionBody) return;
  // After the rows above (their gateways are stopped): the deliver-only drains of both builds.
  ctx.log('  deliver-only drains');
  const drains = await drainRuns(ctx, builds).catch((err) => (ctx.report.note(`Scenario 6: deliver-only rows not run — ${err.message}`), {}));
  if (drains.new?.length) sectionBody.push(drainText(drains, builds));
  ctx.report.section(6, title, sectionBody.join('\n\n'));
  if (drains.new?.length) {
    const all = Object.values(drains).flat();
    ctx.report.bar(6, 'sustained deliveries/s, 1 endpoint, deliver-only (a queued backlog drained)', median(drains.new.map((r) => r.rate)), '>=', BAR_RATE, (n) => fmt(n));
    ctx.report.bar(6, `deliver-only, vs baseline engine ${base.ok ? base.short : '(not run)'}`, drainRatio(drains), '>=', BAR_VS_BASELINE);
    ctx.report.bar(6, 'lost, unsigned or duplicated deliveries (deliver-only, both builds)', all.reduce((a, r) => a + r.missing + r.badSignature + r.duplicates, 0), '==', 0, (n) => fmt(n));
  }
}

// Alternating rounds: every contender runs once per round, in ABC / CBA / ABC … order, so slow
// drift of a noisy machine hits all of them alike; ratios are taken inside a round, then the
// median over rounds is reported.
import { CONNECTIONS, DURATION, LOAD_CORE, OUT, ROOT, ROUNDS, WARMUP } from './env.mjs';
import { load } from './load.mjs';
import { fmt, fmtMs, fmtX, median, table } from './report.mjs';

/**
 * @param {Array<{ name: string, c: object, path: string }>} entries contenders with their URL path
 * @param {() => { headers: object, body: string, method?: string }} request fresh request material (signed now)
 * @returns {Promise<Record<string, object[]>>} results per contender name, one per round
 */
export async function runRounds(ctx, entries, request, { duration = DURATION, rounds = ROUNDS, connections = CONNECTIONS, label = 'run', during } = {}) {
  const res = Object.fromEntries(entries.map((e) => [e.name, []]));
  const one = async (e, seconds, tag) => {
    const rq = request(e);
    const cpu0 = e.c.cpu?.();
    const stopDuring = during?.(e, seconds, tag);
    const r = await load({
      url: `http://127.0.0.1:${e.c.port}${e.path}`,
      method: rq.method ?? 'POST',
      headers: rq.headers,
      body: rq.body,
      durationSec: seconds,
      connections,
      core: LOAD_CORE,
      root: ROOT,
      scratch: OUT,
      label: `${label}-${e.name}-${tag}`,
    });
    if (stopDuring) r.during = await stopDuring();
    const cpu1 = e.c.cpu?.();
    if (cpu0 !== undefined && cpu1 !== undefined) {
      r.cpuPct = ((cpu1 - cpu0) / r.durationSec) * 100;
      // Requests per CPU-second of the contender's own process: robust to other load stealing its core.
      r.perCpuSec = r.cpuPct > 0 ? r.rps / (r.cpuPct / 100) : undefined;
    }
    return r;
  };
  for (const e of entries) {
    ctx.log(`  warm-up ${e.name} (${WARMUP}s)`);
    await one(e, WARMUP, 'warmup');
  }
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? entries : [...entries].reverse();
    for (const e of order) {
      const r = await one(e, duration, `r${i + 1}`);
      res[e.name].push(r);
      ctx.log(`  round ${i + 1} ${e.name.padEnd(22)} ${fmt(r.rps).padStart(8)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  failed ${r.failed}  cpu ${fmt(r.cpuPct)}%`);
    }
  }
  return res;
}

/** Median of a field over a contender's rounds. */
export const med = (runs, field) => median(runs.map((r) => r[field]));

/** Per-round ratio a[field] / b[field], then the median. */
export function ratio(a, b, field = 'rps') {
  if (!a || !b) return undefined;
  return median(a.map((r, i) => (b[i] ? r[field] / b[i][field] : undefined)));
}

/** The standard results table of a load scenario. */
export function loadTable(res) {
  const rows = Object.entries(res).map(([name, runs]) => [
    name,
    fmt(med(runs, 'rps')),
    fmtMs(med(runs, 'p50')),
    fmtMs(med(runs, 'p90')),
    fmtMs(med(runs, 'p99')),
    fmt(runs.reduce((a, r) => a + r.failed, 0)),
    fmt(med(runs, 'cpuPct')),
    fmt(med(runs, 'perCpuSec')),
    runs.map((r) => fmt(r.rps)).join(' / '),
  ]);
  return table(['contender', 'req/s (median)', 'p50 ms', 'p90 ms', 'p99 ms', 'failed (all rounds)', 'CPU % of its core', 'req per CPU-second', 'req/s per round'], rows);
}

/** "throughput 0.93×, per CPU-second 0.97×, p99 1.10×" for a pair of contenders. */
export function ratioLine(a, b) {
  return `throughput ${fmtX(ratio(a, b))}, per CPU-second ${fmtX(ratio(a, b, 'perCpuSec'))}, p99 ${fmtX(ratio(a, b, 'p99'))}`;
}

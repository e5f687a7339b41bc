// Building blocks of the delivery scenarios (6, 8, 9): waiting on the receiver, a publish smoke
// check, one sustained-rate run and one open-loop latency run against a started gateway.
import { PACED_RATE, PACED_SECONDS } from './env.mjs';
import { eventBody, now, publishCount, publishPaced } from './publish.mjs';
import { fmt, fmtMs, percentile } from './report.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function needRedis(ctx, id, title) {
  if (ctx.redis.ok) return true;
  ctx.report.section(id, title, `Not run: Redis at ${ctx.redisUrl} is unreachable (${ctx.redis.error}).`);
  return false;
}

/**
 * Polls the receiver until `done(stats)` or until nothing arrived for `idleMs` (or `maxMs` passed).
 * Resolves the last stats.
 */
export async function waitDeliveries(upstream, done, { maxMs = 120_000, idleMs = 15_000 } = {}) {
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
export async function smoke(ctx, gw, endpoints) {
  await ctx.upstream.reset();
  const pub = await publishCount({ port: gw.port, path: '/events', count: 1, concurrency: 1, bodyOf: (i) => eventBody(-1 - i), keepIds: true });
  if (pub.accepted !== 1) throw new Error(`publish to ${gw.label} was not accepted: ${pub.firstError}`);
  const s = await waitDeliveries(ctx.upstream, (st) => st.deliveries >= endpoints, { maxMs: 30_000, idleMs: 10_000 });
  if (s.deliveries < endpoints) throw new Error(`publish smoke: ${s.deliveries}/${endpoints} deliveries arrived at the receiver within 30 s`);
}

/** CPU seconds of this harness process (it shares the load core with the receiver). */
const harnessCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * One sustained-rate run: `events` events published with 32 in flight to a gateway with
 * `endpoints` endpoints on the receiver; the rate is deliveries ÷ (last − first arrival).
 * `loadCpuPct` is the load core's busy share from the harness and the receiver (near 100 %: the
 * figure may be capped by the publisher/receiver, not the gateway).
 */
export async function sustainedRun(ctx, gw, endpoints, events, tag) {
  const up = ctx.upstream;
  await up.reset();
  const cpu0 = gw.cpu();
  const load0 = harnessCpu() + (up.cpu() ?? 0);
  const t0 = now();
  const pub = await publishCount({ port: gw.port, path: '/events', count: events, concurrency: 32, bodyOf: (i) => eventBody(i), deadlineMs: 120_000 });
  const pubSec = (now() - t0) / 1000;
  const want = pub.accepted * endpoints;
  const s = await waitDeliveries(up, (st) => st.deliveries >= want, { maxMs: 180_000 });
  const wall = (s.lastAt - t0) / 1000;
  const span = (s.lastAt - s.firstAt) / 1000;
  const r = {
    events: pub.accepted,
    publishFailed: pub.failed,
    publishRate: pub.accepted / pubSec,
    deliveries: s.deliveries,
    missing: Math.max(0, want - s.deliveries),
    rate: span > 0 ? s.deliveries / span : undefined,
    endToEndRate: s.deliveries / wall,
    badSignature: s.badSignature,
    duplicates: s.duplicates,
    cpuPct: ((gw.cpu() - cpu0) / wall) * 100,
    // Deliveries per CPU-second of the gateway process: the figure least moved by other work stealing its core.
    perCpuSec: gw.cpu() - cpu0 > 0 ? s.deliveries / (gw.cpu() - cpu0) : undefined,
    loadCpuPct: ((harnessCpu() + (up.cpu() ?? 0) - load0) / ((now() - t0) / 1000)) * 100,
  };
  ctx.log(`  ${tag} ${gw.label}: ${fmt(r.rate)} deliveries/s (publish ${fmt(r.publishRate)}/s), missing ${r.missing}, bad sig ${r.badSignature}, dup ${r.duplicates}, gateway cpu ${fmt(r.cpuPct)}%, load core ${fmt(r.loadCpuPct)}%`);
  return r;
}

/** Open loop at PACED_RATE events/s for PACED_SECONDS to a 1-endpoint gateway; latency = arrival − intended send time. */
export async function pacedRun(ctx, gw, tag) {
  const up = ctx.upstream;
  await up.reset();
  const pub = await publishPaced({ port: gw.port, path: '/events', rate: PACED_RATE, seconds: PACED_SECONDS, bodyOf: (k) => eventBody(k) });
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
    badSignature: st.badSignature,
    duplicates: st.duplicates,
  };
  ctx.log(`  ${tag} ${gw.label}: ${r.delivered}/${r.sent} delivered, p50 ${fmtMs(r.p50)} ms, p99 ${fmtMs(r.p99)} ms (publish p99 ${fmtMs(r.publishP99)} ms)`);
  return r;
}

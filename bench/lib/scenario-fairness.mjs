// Scenario 9: a noisy tenant. Tenant A ("acme") publishes a burst of NOISY_A events to a slow
// endpoint (the receiver answers it after NOISY_SLOW_MS, and A's endpoint may have 32 deliveries
// in flight, so A drains at about 32 / NOISY_SLOW_MS); as soon as the burst is accepted, tenant B
// ("beta") publishes NOISY_B events open loop at NOISY_B_RATE/s to a fast endpoint. Reported: B's
// publish→delivery p50/p90/p99 and A's backlog (accepted, not yet delivered) when B's last
// delivery arrived. A fresh gateway and Redis prefix per round.
//
// It needs tenants: a build whose schema refuses `tenants:`, or whose publish does not fan out by
// the body's `tenant` (probed before the first round), is skipped with a note saying which.
import { noisyTenants, writeConfig } from './configs.mjs';
import { needRedis, waitDeliveries } from './egress-runs.mjs';
import { NOISY_A, NOISY_B, NOISY_B_RATE, NOISY_SLOW_MS, QUICK, ROUNDS } from './env.mjs';
import { httpReq } from './http.mjs';
import { eventBody, now, publishCount, publishPaced } from './publish.mjs';
import { deleteKeys } from './redis.mjs';
import { fmt, fmtMs, median, percentile, table } from './report.mjs';
import { startGateway } from './servers.mjs';

const A_PATH = `/hook/slow-${NOISY_SLOW_MS}/acme`;
const B_PATH = '/hook/beta';
/** B's events carry data.seq from here, A's from 0. */
const B_SEQ = 10_000_000;
const B_WAIT_MS = QUICK ? 60_000 : 120_000;
const TYPE = 'invoice.paid';

const publishOne = (gw, body) => httpReq({ port: gw.port, method: 'POST', path: '/events', body, timeoutMs: 10_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });

/** Why this build cannot run the scenario (undefined: it can). */
async function probeTenants(ctx, gw) {
  const up = ctx.upstream;
  await up.reset();
  const r = await publishOne(gw, eventBody(-1, 1024, TYPE, { tenant: 'beta' }));
  if (r.status < 200 || r.status > 299) return `this build refuses a publish naming a tenant: {"tenant": "beta", …} was answered ${r.status} ${r.body.slice(0, 160)}`;
  if (r.json?.endpoints !== 1) return `this build does not fan out by tenant: a publish naming tenant "beta" went to ${r.json?.endpoints} endpoints (want 1, beta's own)`;
  const s = await waitDeliveries(up, (st) => (st.paths?.[B_PATH] ?? 0) >= 1, { maxMs: 30_000, idleMs: 30_000 });
  if ((s.paths?.[B_PATH] ?? 0) < 1) return `the probe event of tenant "beta" was not delivered to ${B_PATH} within 30 s`;
  if ((s.paths?.[A_PATH] ?? 0) > 0) return `the probe event of tenant "beta" was also delivered to tenant "acme"'s endpoint`;
  const unknown = await publishOne(gw, eventBody(-2, 1024, TYPE, { tenant: 'no-such-tenant' }));
  if (unknown.status !== 404) ctx.report.note(`Scenario 9: a publish naming an unknown tenant was answered ${unknown.status}, not 404 HG_TENANT_NOT_FOUND.`);
  return undefined;
}

async function round(ctx, gw, tag) {
  const up = ctx.upstream;
  await up.reset();
  const t0 = now();
  const a = await publishCount({ port: gw.port, path: '/events', count: NOISY_A, concurrency: 32, bodyOf: (k) => eventBody(k, 1024, TYPE, { tenant: 'acme' }), deadlineMs: 120_000 });
  const tB = now();
  const b = await publishPaced({ port: gw.port, path: '/events', rate: NOISY_B_RATE, seconds: NOISY_B / NOISY_B_RATE, bodyOf: (k) => eventBody(B_SEQ + k, 1024, TYPE, { tenant: 'beta' }) });
  await waitDeliveries(up, (st) => (st.paths?.[B_PATH] ?? 0) >= b.accepted, { maxMs: B_WAIT_MS, idleMs: B_WAIT_MS });
  const st = await up.stats(true);
  const lat = [];
  let bDone = 0;
  for (const [k, intended] of b.sent) {
    const arr = st.arrivals[B_SEQ + k];
    if (!arr) continue;
    lat.push(arr[0] - intended);
    bDone = Math.max(bDone, arr[0]);
  }
  const aTimes = [];
  for (let k = 0; k < NOISY_A; k++) {
    const arr = st.arrivals[k];
    if (arr) aTimes.push(arr[0]);
  }
  const aBy = (t) => aTimes.reduce((n, x) => n + (x <= t ? 1 : 0), 0);
  const bAll = lat.length === b.accepted && b.accepted > 0;
  const aFirst = Math.min(...aTimes);
  const aLast = Math.max(...aTimes);
  const r = {
    aAccepted: a.accepted,
    aFailed: a.failed,
    aPublishRate: a.accepted / ((tB - t0) / 1000),
    aBacklogAtB: a.accepted - aBy(tB),
    bAccepted: b.accepted,
    bFailed: b.failed,
    bDelivered: lat.length,
    p50: percentile(lat, 50),
    p90: percentile(lat, 90),
    p99: percentile(lat, 99),
    max: percentile(lat, 100),
    lat,
    aBacklogAtBDone: bAll ? a.accepted - aBy(bDone) : undefined,
    aDrainRate: aTimes.length > 1 ? (aTimes.length - 1) / ((aLast - aFirst) / 1000) : undefined,
    bBadSignature: st.badSignature,
  };
  ctx.log(`  ${tag}: A ${fmt(r.aAccepted)} accepted (backlog ${fmt(r.aBacklogAtB)} when B started), B ${r.bDelivered}/${r.bAccepted} delivered, p50 ${fmtMs(r.p50)} ms, p99 ${fmtMs(r.p99)} ms, A backlog when B finished ${fmt(r.aBacklogAtBDone)}, A drains ${fmt(r.aDrainRate)}/s`);
  return r;
}

export async function scenario9(ctx) {
  const title = 'Scenario 9 — noisy tenant (fair delivery across tenants, redis store)';
  if (!needRedis(ctx, 9, title)) return;
  const file = writeConfig('s9-noisy-tenant', noisyTenants(NOISY_SLOW_MS));
  const skip = (why) => {
    ctx.report.section(9, title, `Not run: ${why}. The scenario needs tenants (issue 11): \`tenants:\` in the config and publishes fanned out by the body's \`tenant\`. Config: \`bench/configs/s9-noisy-tenant.yaml\`.`);
    ctx.report.note(`Scenario 9 skipped: ${why}.`);
    ctx.log(`  skipped: ${why}`);
  };
  const rs = [];
  for (let i = 0; i < ROUNDS; i++) {
    const prefix = ctx.prefix(`s9-r${i + 1}`);
    let gw;
    try {
      gw = await startGateway(`hookgate-s9-r${i + 1}`, file, { env: { HGBENCH_PREFIX: prefix } });
    } catch (err) {
      if (i === 0) return skip(`the gateway did not start with a \`tenants:\` config (${String(err.message).split('\n').slice(0, 3).join(' ').slice(0, 300)})`);
      throw err;
    }
    gw.label = 'hookgate';
    try {
      if (i === 0) {
        const why = await probeTenants(ctx, gw);
        if (why) return skip(why);
      }
      rs.push(await round(ctx, gw, `round ${i + 1}`));
    } finally {
      if (i === 0) ctx.recordRss(9, 'hookgate (tenants)', gw.rss());
      await gw.stop();
      await deleteKeys(prefix).catch(() => 0);
    }
  }
  const m = (k) => median(rs.map((r) => r[k]));
  const pooled = rs.flatMap((r) => r.lat);
  const fairRounds = rs.filter((r) => r.bDelivered === r.bAccepted && r.aBacklogAtBDone > 0).length;
  ctx.report.section(
    9,
    title,
    `Per round, a fresh gateway: tenant A (\`acme\`) publishes ${fmt(NOISY_A)} ~1 KB events (32 in flight) to its one endpoint, which the receiver answers after ${NOISY_SLOW_MS} ms (\`policy: { maxInFlight: 32 }\`, so A drains at about ${fmt(32000 / NOISY_SLOW_MS)}/s); ` +
      `as soon as A's burst is accepted, tenant B (\`beta\`) publishes ${NOISY_B} events open loop at ${NOISY_B_RATE}/s to its fast endpoint. B's latency = arrival − intended send time; A's backlog = A's accepted events not yet delivered. ` +
      `The harness waits at most ${B_WAIT_MS / 1000} s for B. Config: \`bench/configs/s9-noisy-tenant.yaml\`.\n\n` +
      table(
        ['round', 'A accepted', 'A publish 202/s', 'A backlog when B started', 'B delivered', 'B p50 ms', 'B p90 ms', 'B p99 ms', 'B max ms', 'A backlog when B finished', 'A drain rate /s'],
        [
          ...rs.map((r, i) => [i + 1, fmt(r.aAccepted), fmt(r.aPublishRate), fmt(r.aBacklogAtB), `${r.bDelivered}/${r.bAccepted}`, fmtMs(r.p50), fmtMs(r.p90), fmtMs(r.p99), fmtMs(r.max), fmt(r.aBacklogAtBDone), fmt(r.aDrainRate)]),
          ['**median**', fmt(m('aAccepted')), fmt(m('aPublishRate')), fmt(m('aBacklogAtB')), '', fmtMs(m('p50')), fmtMs(m('p90')), fmtMs(m('p99')), fmtMs(m('max')), fmt(m('aBacklogAtBDone')), fmt(m('aDrainRate'))],
        ],
      ) +
      `\n\n- B's publish→delivery over all rounds (${fmt(pooled.length)} events): p50 ${fmtMs(percentile(pooled, 50))} ms, p90 ${fmtMs(percentile(pooled, 90))} ms, p99 ${fmtMs(percentile(pooled, 99))} ms` +
      `\n- rounds in which all of B's events arrived while A still had a backlog: ${fairRounds} of ${rs.length}`,
  );
  ctx.report.info(9, `tenant B's publish→delivery p99 while tenant A's ${fmt(NOISY_A)}-event burst drains (median of rounds, ms)`, m('p99'), fmtMs);
  ctx.report.info(9, "tenant A's backlog when B's last delivery arrived (median of rounds)", m('aBacklogAtBDone'), (n) => fmt(n));
  ctx.report.bar(9, "rounds in which all of B's events were delivered while A's backlog was still draining", fairRounds, '==', rs.length, (n) => fmt(n));
}

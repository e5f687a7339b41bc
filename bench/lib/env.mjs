// Paths, ports, cores and durations shared by the harness.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(BENCH, '..');
export const OUT = join(BENCH, '.out');
export const PEERS = join(BENCH, '.peers');
export const CONFIGS = join(BENCH, 'configs');

/** The gateway and the peers it is compared with run here… */
export const GW_CORE = 0;
/** …and the load generator, the upstream/receiver and this harness here. */
export const LOAD_CORE = 1;

/** The ports the generated configs name by default (their `${HGBENCH_*:-…}` fallbacks). */
export const DEFAULT_PORTS = Object.freeze({
  gateway: 18080,
  admin: 18081,
  bare: 18090,
  bareUndici: 18094,
  expressGateway: 18092,
  nginx: 18093,
  upstream: 19000,
  /** Nothing listens here: the dead endpoint of scenario 8. */
  dead: 19099,
});
/**
 * The ports of this run: DEFAULT_PORTS moved by BENCH_PORT_OFFSET (a number; default `auto`,
 * the first multiple of 100 up to 900 at which every port is free, see choosePorts in proc.mjs).
 * Gateways get them through HGBENCH_* variables, so the committed configs never change.
 */
export const PORTS = { ...DEFAULT_PORTS };
/** Ports the gateways of scenarios 6 and 8 use above PORTS.gateway / PORTS.admin (slots 0–6). */
export const GATEWAY_SLOTS = 8;

export const ADMIN_TOKEN = 'bench-admin-token';
export const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef';
/** standard-webhooks secret for ingress (verify-signature) and for egress endpoints. */
export const WH_SECRET = 'whsec_' + Buffer.from('hookgate-bench-standard-webhooks!').toString('base64');

const quick = process.env.BENCH_QUICK === '1';
export const QUICK = quick;
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Seconds per measured load run. */
export const DURATION = Number(process.env.BENCH_DURATION ?? (quick ? 3 : 8));
/** Seconds of unmeasured warm-up per contender before round 1 (JIT, pools). */
export const WARMUP = quick ? 1 : 2;
/** Load connections (closed loop). */
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
/** Scenario 5: the reload run and its no-reload twin. */
export const RELOAD_RUN = quick ? 6 : 20;
export const RELOADS = 20;
/** Scenario 6: paced latency run (seconds, events/s). */
export const PACED_SECONDS = quick ? 5 : 15;
export const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 1000);
/** Scenario 6: deliveries per sustained-rate run (1 endpoint: that many events; 100 endpoints: /100). */
export const DELIVERY_COUNT = Number(process.env.BENCH_DELIVERY_COUNT ?? (quick ? 4_000 : 20_000));
/**
 * Scenario 6: the baseline engine, a git revision built into bench/.out/baseline/<key> (see
 * baseline.mjs). Unset: the newest first-parent ancestor of HEAD whose gateway/delivery/queue.ts
 * imports bullmq; `0`/`none`/`off`: no baseline rows.
 */
export const BASELINE = process.env.BENCH_BASELINE;
/** Scenario 9 (noisy tenant): tenant A's burst, tenant B's events (published at B_RATE/s), A's endpoint delay. */
export const NOISY_A = Number(process.env.BENCH_NOISY_COUNT ?? (quick ? 5_000 : 20_000));
export const NOISY_B = 50;
export const NOISY_B_RATE = 50;
export const NOISY_SLOW_MS = 100;
/** Scenario 8: queued messages for the memory figure, and the steady RSS run. */
export const QUEUE_COUNT = Number(process.env.BENCH_QUEUE_COUNT ?? (quick ? 20_000 : 100_000));
export const RSS_RUN = quick ? 15 : 60;
export const RSS_EVERY = 5;

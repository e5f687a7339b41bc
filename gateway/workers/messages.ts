import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ReloadResult, WorkerReload } from '../runtime.js';

/** One registry's metrics as `getMetricsAsJSON()` gives them: what a worker sends for aggregation. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The messages between the primary and its worker processes over node:cluster's IPC channel.
 * Each carries `hg`, so they never collide with prom-client's own (`type: 'prom-client:…'`).
 */

/** A reload's outcome in one worker, as it reports it. */
export type WorkerOutcome =
  | { ok: true; generation: number; routes: number; restartRequired: string[]; files: string[]; drainTimeoutMs: number }
  | { ok: false; code: string; message: string };

/** The primary's answer to a reload: every worker's result, and what they amount to. */
export interface ClusterReloadAnswer {
  /** true: every worker applied `generation`. */
  ok: boolean;
  generation: number;
  routes: number;
  restartRequired: string[];
  /** When not ok: HG_CONFIG_INVALID (or another refusal) when every worker refused, HG_RELOAD_PARTIAL when some applied it. */
  code?: string;
  message?: string;
  workers: WorkerReload[];
}

export type WorkerToPrimary =
  | { hg: 'hello' }
  | { hg: 'ready'; generation: number; files: string[]; drainTimeoutMs: number }
  | { hg: 'start-failed'; message: string }
  | { hg: 'reload-request'; seq: number; trigger: string }
  | { hg: 'reloaded'; seq: number; outcome: WorkerOutcome }
  | { hg: 'metrics'; seq: number }
  | { hg: 'collected'; seq: number; metrics: MetricsJson };

export type PrimaryToWorker =
  | { hg: 'config'; text: string; generation: number }
  | { hg: 'reload'; seq: number; text: string; generation: number; trigger: string }
  | { hg: 'reload-answer'; seq: number; answer: ClusterReloadAnswer }
  | { hg: 'metrics-answer'; seq: number; text?: string; error?: string }
  | { hg: 'collect'; seq: number }
  | { hg: 'stop' };

/** Whether an IPC message is one of ours (prom-client and node:cluster send others on the same channel). */
export function isGatewayMessage<T extends { hg: string }>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && typeof (msg as { hg?: unknown }).hg === 'string';
}

/** A reload answer as `POST /admin/reload`'s result (only used when every worker applied it). */
export function toReloadResult(a: ClusterReloadAnswer): ReloadResult {
  return { generation: a.generation, routes: a.routes, restartRequired: a.restartRequired, workers: a.workers };
}

import { errorCatalogue, GatewayError, type ErrorCode } from '../errors.js';
import type { Gateway, ReloadResult } from '../runtime.js';
import { isGatewayMessage, toReloadResult, type ClusterReloadAnswer, type PrimaryToWorker, type MetricsJson, type WorkerOutcome, type WorkerToPrimary } from './messages.js';

/** How long a worker waits for its primary's answer to a reload or a scrape before giving up. */
const ANSWER_TIMEOUT_MS = 65_000;

function send(msg: WorkerToPrimary): void {
  process.send?.(msg);
}

function statusOf(code: string): number {
  return errorCatalogue().find((c) => c.code === code)?.status ?? 500;
}

/**
 * A worker process's side of node:cluster: it starts on the config text and generation its
 * primary hands it, relays `POST /admin/reload` and `/metrics` to the primary (which asks every
 * worker), and applies the reloads the primary broadcasts. It serves traffic; the primary does not.
 */
export class WorkerLink {
  private seq = 0;
  private readonly pending = new Map<number, (msg: PrimaryToWorker) => void>();
  private gw: Gateway | undefined;

  private constructor(readonly text: string, readonly generation: number) {}

  /** Says hello to the primary and waits for the config to start with. */
  static connect(timeoutMs = 30_000): Promise<WorkerLink> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the primary sent no config within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (msg: unknown) => {
        if (!isGatewayMessage<PrimaryToWorker>(msg) || msg.hg !== 'config') return;
        clearTimeout(timer);
        process.off('message', onMessage);
        resolve(new WorkerLink(msg.text, msg.generation));
      };
      process.on('message', onMessage);
      send({ hg: 'hello' });
    });
  }

  /** Tells the primary this worker could not start (it prints the reason once, for all workers). */
  static startFailed(message: string): void {
    send({ hg: 'start-failed', message });
  }

  private ask(msg: WorkerToPrimary & { seq: number }): Promise<PrimaryToWorker> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(msg.seq);
        reject(new Error(`the primary did not answer within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(msg.seq, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      send(msg);
    });
  }

  /** `POST /admin/reload` in a worker: the primary reloads every worker and answers with each one's result. */
  readonly reloadAll = async (trigger: string): Promise<ReloadResult> => {
    const msg = await this.ask({ hg: 'reload-request', seq: ++this.seq, trigger });
    const answer = (msg as { answer: ClusterReloadAnswer }).answer;
    if (answer.ok) return toReloadResult(answer);
    const code = (answer.code ?? 'HG_RELOAD_PARTIAL') as ErrorCode;
    throw new GatewayError(code, statusOf(code), answer.message ?? 'reload refused').withDetails(
      answer.workers.map((w) => ({ message: `worker ${w.worker} (pid ${w.pid}): ${w.ok ? `applied generation ${w.generation}` : `${w.code}: ${w.message}`}` })),
    );
  };

  /** Wires a started gateway to the primary: reloads, scrapes and the stop order. */
  attach(gw: Gateway, stop: (reason: string) => void): void {
    this.gw = gw;
    gw.metrics.exposition = async () => {
      const answer = (await this.ask({ hg: 'metrics', seq: ++this.seq })) as { text?: string; error?: string };
      if (answer.text === undefined) throw new Error(`aggregating the workers' metrics failed: ${answer.error}`);
      return answer.text;
    };
    process.on('message', (msg: unknown) => {
      if (!isGatewayMessage<PrimaryToWorker>(msg)) return;
      if (msg.hg === 'stop') return stop('primary');
      if (msg.hg === 'reload') return void this.reload(msg.seq, msg.text, msg.generation, msg.trigger);
      // This worker's own registry; the primary aggregates every worker's (prom-client's AggregatorRegistry).
      if (msg.hg === 'collect') return void gw.metrics.registry.getMetricsAsJSON().then((metrics) => send({ hg: 'collected', seq: msg.seq, metrics: metrics as MetricsJson }));
      if (msg.hg === 'reload-answer' || msg.hg === 'metrics-answer') {
        this.pending.get(msg.seq)?.(msg);
        this.pending.delete(msg.seq);
      }
    });
    send({ hg: 'ready', generation: gw.snapshot!.id, files: gw.configFiles(), drainTimeoutMs: gw.snapshot!.config.limits.drainTimeoutMs });
  }

  private async reload(seq: number, text: string, generation: number, trigger: string): Promise<void> {
    const gw = this.gw!;
    let outcome: WorkerOutcome;
    try {
      const r = await gw.reload(trigger, { text, generation });
      outcome = { ok: true, generation: r.generation, routes: r.routes, restartRequired: r.restartRequired, files: gw.configFiles(), drainTimeoutMs: gw.snapshot!.config.limits.drainTimeoutMs };
    } catch (err) {
      outcome = { ok: false, code: err instanceof GatewayError ? err.code : 'HG_CONFIG_INVALID', message: (err as Error).message };
    }
    send({ hg: 'reloaded', seq, outcome });
  }
}

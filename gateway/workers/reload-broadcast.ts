import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { WorkerReload } from '../runtime.js';
import type { ClusterReloadAnswer, WorkerOutcome } from './messages.js';
import type { Slot } from './primary.js';

/** How long the primary waits for one worker to compile and swap a config. */
const RELOAD_TIMEOUT_MS = 60_000;

/** The config every worker should serve: the text last applied, and its generation. */
export interface CurrentConfig {
  text: string;
  generation: number;
}

/**
 * The primary's reloads: one at a time, each sends the same config text and generation to every
 * serving worker, and collects each worker's result. Every worker compiles the same bytes (read
 * once, here), so a config one refuses, all refuse; each worker's swap is atomic on its own.
 * The answer names every worker's result, so a worker left on another generation is never silent.
 */
export class ReloadBroadcast {
  private seq = 0;
  private generationSeq: number;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<number, { worker: Worker; resolve: (o: WorkerOutcome) => void }>();

  constructor(
    public current: CurrentConfig,
    private readonly slots: () => Slot[],
    private readonly logger: Logger,
    private readonly applied: (outcomes: WorkerOutcome[], seen: string | undefined) => void,
  ) {
    this.generationSeq = current.generation;
  }

  /** An answer refusing the reload before any worker was asked. */
  refusal(code: string, message: string): ClusterReloadAnswer {
    return { ok: false, code, message, generation: this.current.generation, routes: 0, restartRequired: [], workers: [] };
  }

  private serialised<T>(job: () => Promise<T>): Promise<T> {
    const p = this.chain.then(job, job);
    this.chain = p.catch(() => {});
    return p;
  }

  /** Reloads every serving worker on the text `read` returns (read when this reload's turn comes). */
  run(trigger: string, read: () => { text: string; seen?: string }): Promise<ClusterReloadAnswer> {
    return this.serialised(async () => {
      let source: { text: string; seen?: string };
      try {
        source = read();
      } catch (err) {
        return this.refusal('HG_CONFIG_INVALID', `cannot read config: ${(err as Error).message}`);
      }
      const slots = this.slots().filter((s) => s.ready && s.worker);
      if (!slots.length) return this.refusal('HG_STOPPING', 'no worker is serving');
      const generation = ++this.generationSeq;
      const outcomes = await Promise.all(slots.map((s) => this.ask(s.worker!, source.text, generation, trigger)));
      const workers: WorkerReload[] = slots.map((s, i) => {
        const o = outcomes[i]!;
        const base = { worker: s.index, pid: s.worker?.process.pid ?? 0 };
        return o.ok ? { ...base, ok: true, generation: o.generation, routes: o.routes } : { ...base, ok: false, generation: this.current.generation, code: o.code, message: o.message };
      });
      const ok = outcomes.filter((o): o is Extract<WorkerOutcome, { ok: true }> => o.ok);
      const failed = outcomes.filter((o): o is Extract<WorkerOutcome, { ok: false }> => !o.ok);
      if (ok.length) {
        // Some worker serves it now: a worker started from here on starts on it too.
        this.current = { text: source.text, generation };
        this.applied(outcomes, source.seen);
      }
      const restartRequired = [...new Set(ok.flatMap((o) => o.restartRequired))];
      const routes = ok[0]?.routes ?? 0;
      if (!failed.length) {
        this.logger.info({ trigger, generation, workers: workers.length }, 'config reloaded on every worker');
        return { ok: true, generation, routes, restartRequired, workers };
      }
      if (!ok.length) {
        this.logger.error({ trigger, code: failed[0]!.code, err: failed[0]!.message, workers: workers.length }, 'reload rejected by every worker; the previous config keeps serving');
        return { ok: false, code: failed[0]!.code, message: failed[0]!.message, generation: this.current.generation, routes: 0, restartRequired: [], workers };
      }
      const message = `generation ${generation} was applied by worker(s) ${workers.filter((w) => w.ok).map((w) => w.worker).join(', ')} and not by ${workers.filter((w) => !w.ok).map((w) => `${w.worker} (${w.code}: ${w.message})`).join(', ')}`;
      this.logger.error({ trigger, code: 'HG_RELOAD_PARTIAL', workers }, message);
      return { ok: false, code: 'HG_RELOAD_PARTIAL', message, generation, routes, restartRequired, workers };
    });
  }

  /**
   * Brings a worker that just started on `started` to the current config, if a reload went out
   * meanwhile. Queued behind any reload in flight, so the comparison is made once it is done.
   */
  catchUp(slot: Slot, started: number): Promise<void> {
    return this.serialised(async () => {
      const worker = slot.worker;
      const { text, generation } = this.current;
      if (!worker || !slot.ready || started === generation) return;
      const o = await this.ask(worker, text, generation, 'catch-up');
      if (o.ok) this.logger.info({ worker: slot.index, generation }, 'worker caught up with the current config');
      else this.logger.error({ worker: slot.index, generation, code: o.code, err: o.message }, 'worker could not apply the current config; it serves an older one');
    });
  }

  private ask(worker: Worker, text: string, generation: number, trigger: string): Promise<WorkerOutcome> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done({ ok: false, code: 'HG_INTERNAL', message: `no answer within ${RELOAD_TIMEOUT_MS} ms` }), RELOAD_TIMEOUT_MS);
      const done = (o: WorkerOutcome) => {
        clearTimeout(timer);
        this.pending.delete(seq);
        resolve(o);
      };
      this.pending.set(seq, { worker, resolve: done });
      if (!worker.isConnected()) return done({ ok: false, code: 'HG_INTERNAL', message: 'the worker is gone' });
      worker.send({ hg: 'reload', seq, text, generation, trigger });
    });
  }

  /** A worker's answer to a reload. */
  answered(worker: Worker, seq: number, outcome: WorkerOutcome): void {
    const p = this.pending.get(seq);
    if (p?.worker === worker) p.resolve(outcome);
  }

  /** A worker exited: its unanswered reloads fail. */
  exited(worker: Worker): void {
    for (const p of [...this.pending.values()]) if (p.worker === worker) p.resolve({ ok: false, code: 'HG_INTERNAL', message: 'the worker exited during the reload' });
  }
}

import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { ConfigWatcher } from '../watch.js';
import { isGatewayMessage, type ClusterReloadAnswer, type MetricsJson, type PrimaryToWorker, type WorkerOutcome, type WorkerToPrimary } from './messages.js';
import { ReloadBroadcast } from './reload-broadcast.js';

/** A crashed worker is restarted after 100 ms, doubling per crash in a row up to this. */
const MAX_BACKOFF_MS = 10_000;
/** A worker that ran this long before it exited starts its backoff afresh. */
const STABLE_MS = 10_000;
/** How long past the drain deadline the primary waits before it kills the workers left. */
const KILL_MARGIN_MS = 10_000;
/** How long the primary waits for each worker's metrics. */
const COLLECT_TIMEOUT_MS = 5000;

export interface PrimaryOptions {
  configFile: string;
  workers: number;
  logger: Logger;
  /** The drain deadline until the workers report theirs (limits.drainTimeoutMs of the config read at start). */
  drainTimeoutMs: number;
}

/** One of the N places a worker runs in: a restarted worker takes its predecessor's slot. */
export interface Slot {
  /** 1-based, stable across restarts (`worker` in reload answers). */
  readonly index: number;
  worker: Worker | undefined;
  ready: boolean;
  startedAt: number;
  crashes: number;
  restart: NodeJS.Timeout | undefined;
}

/**
 * The primary of `hookgate start --workers N`: it serves no traffic. It forks N workers (node:cluster
 * shares every listener between them), hands each the config text and generation to start on,
 * restarts a worker that exits unasked (with a backoff), broadcasts reloads (file change, SIGHUP,
 * `POST /admin/reload` relayed by a worker), aggregates `/metrics`, and on SIGTERM/SIGINT tells
 * every worker to drain and exits once all have.
 */
export class Primary {
  private readonly slots: Slot[] = [];
  private readonly broadcast: ReloadBroadcast;
  private readonly watcher: ConfigWatcher;
  private drainTimeoutMs: number;
  private starting = true;
  private stopping = false;
  private exitCode = 0;
  private collectSeq = 0;
  private readonly collecting = new Map<number, { worker: Worker; resolve: (m: MetricsJson | undefined) => void }>();
  private started!: { resolve: () => void; reject: (err: Error) => void };
  private startError: string | undefined;
  /** Settles once every worker serves; rejects (and the primary stops the others, then exits 1) if one cannot start. */
  readonly ready: Promise<void>;

  private constructor(private readonly opts: PrimaryOptions, text: string) {
    this.drainTimeoutMs = opts.drainTimeoutMs;
    const log = opts.logger;
    this.broadcast = new ReloadBroadcast({ text, generation: 1 }, () => this.slots, log, (o, seen) => this.reloaded(o, seen));
    this.watcher = new ConfigWatcher(() => void this.reloadAll('file change'), log);
    this.ready = new Promise<void>((resolve, reject) => (this.started = { resolve, reject })).then(() => {
      this.starting = false;
      log.info({ workers: opts.workers, pids: this.pids() }, 'hookgate primary: every worker serves');
    });
    // The caller awaits it; a start failure must not also count as an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** Forks the workers at once; `ready` says when they all serve. */
  static launch(opts: PrimaryOptions): Primary {
    const p = new Primary(opts, readFileSync(opts.configFile, 'utf8'));
    for (let i = 1; i <= opts.workers; i++) {
      const slot: Slot = { index: i, worker: undefined, ready: false, startedAt: 0, crashes: 0, restart: undefined };
      p.slots.push(slot);
      p.fork(slot);
    }
    return p;
  }

  /** The live workers' pids, in slot order. */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.worker?.process.pid ? [s.worker.process.pid] : []));
  }

  /** Reloads every worker on the config file's current text (serialised); the answer has each worker's result. */
  reloadAll(trigger: string): Promise<ClusterReloadAnswer> {
    if (this.stopping) return Promise.resolve(this.broadcast.refusal('HG_STOPPING', 'gateway is stopping'));
    return this.broadcast.run(trigger, () => {
      // The hash before the read: an edit made while the workers compile is still noticed.
      const seen = this.watcher.mark();
      return { text: readFileSync(this.opts.configFile, 'utf8'), seen };
    });
  }

  /** After a reload some worker applied: the files it compiled are watched from the content it read. */
  private reloaded(outcomes: WorkerOutcome[], seen: string | undefined): void {
    const files = new Set<string>();
    let drainTimeoutMs = 0;
    for (const o of outcomes) {
      if (!o.ok) continue;
      for (const f of o.files) files.add(f);
      drainTimeoutMs = Math.max(drainTimeoutMs, o.drainTimeoutMs);
    }
    // The stop deadline follows the config now served (the longest, if the workers differ).
    if (drainTimeoutMs) this.drainTimeoutMs = drainTimeoutMs;
    if (files.size && !this.stopping) this.watcher.watch([...files].sort(), seen);
  }

  private fork(slot: Slot): void {
    slot.restart = undefined;
    slot.ready = false;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ HOOKGATE_WORKER_SLOT: String(slot.index) });
    slot.worker = worker;
    worker.on('message', (msg: unknown) => {
      if (isGatewayMessage<WorkerToPrimary>(msg)) this.onMessage(slot, worker, msg);
    });
    worker.on('exit', (code, signal) => this.onExit(slot, worker, code, signal));
  }

  private send(worker: Worker, msg: PrimaryToWorker): void {
    if (worker.isConnected()) worker.send(msg);
  }

  private onMessage(slot: Slot, worker: Worker, msg: WorkerToPrimary): void {
    switch (msg.hg) {
      case 'hello': {
        const { text, generation } = this.broadcast.current;
        return this.send(worker, { hg: 'config', text, generation });
      }
      case 'ready':
        return this.onReady(slot, worker, msg.generation, msg.files, msg.drainTimeoutMs);
      case 'start-failed':
        if (this.starting) this.startError ??= msg.message;
        else this.opts.logger.error({ worker: slot.index, pid: worker.process.pid, err: msg.message }, 'a replacement worker could not start; it is tried again after the backoff');
        return;
      case 'reload-request':
        return void this.reloadAll(msg.trigger).then((answer) => this.send(worker, { hg: 'reload-answer', seq: msg.seq, answer }));
      case 'reloaded':
        return this.broadcast.answered(worker, msg.seq, msg.outcome);
      case 'metrics':
        return void this.metrics().then(
          (text) => this.send(worker, { hg: 'metrics-answer', seq: msg.seq, text }),
          (err: Error) => this.send(worker, { hg: 'metrics-answer', seq: msg.seq, error: err.message }),
        );
      case 'collected':
        this.collecting.get(msg.seq)?.resolve(msg.metrics);
        return;
    }
  }

  private onReady(slot: Slot, worker: Worker, generation: number, files: string[], drainTimeoutMs: number): void {
    slot.ready = true;
    this.drainTimeoutMs = Math.max(this.drainTimeoutMs, drainTimeoutMs);
    if (this.stopping) return this.send(worker, { hg: 'stop' });
    if (this.starting) {
      if (this.slots.every((s) => s.ready)) {
        this.watcher.watch(files);
        this.started.resolve();
      }
      return;
    }
    this.opts.logger.info({ worker: slot.index, pid: worker.process.pid, generation }, 'worker restarted and serving');
    // A worker that started while a reload was broadcast catches up on its own.
    void this.broadcast.catchUp(slot, generation);
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    this.broadcast.exited(worker);
    for (const c of [...this.collecting.values()]) if (c.worker === worker) c.resolve(undefined);
    if (this.stopping) {
      if (code !== 0) this.exitCode = 1;
      this.opts.logger.info({ worker: slot.index, pid: worker.process.pid, exitCode: code, signal }, 'worker stopped');
      if (this.slots.every((s) => !s.worker)) this.finish();
      return;
    }
    if (this.starting) {
      this.startError ??= `worker ${slot.index} exited with ${signal ?? `code ${code}`} before it served`;
      this.starting = false;
      this.started.reject(new Error(this.startError));
      this.stop('start failed', 1);
      return;
    }
    if (Date.now() - slot.startedAt > STABLE_MS) slot.crashes = 0;
    const delayMs = Math.min(100 * 2 ** slot.crashes, MAX_BACKOFF_MS);
    slot.crashes++;
    this.opts.logger.error({ code: 'HG_WORKER_EXITED', worker: slot.index, pid: worker.process.pid, exitCode: code, signal, restartInMs: delayMs }, 'worker exited; starting a new one');
    slot.restart = setTimeout(() => this.fork(slot), delayMs);
  }

  /** Every serving worker's metrics, aggregated (prom-client's AggregatorRegistry: counters summed, store gauges by max). */
  private async metrics(): Promise<string> {
    const workers = this.slots.flatMap((s) => (s.ready && s.worker ? [s.worker] : []));
    const all = await Promise.all(
      workers.map((worker) => {
        const seq = ++this.collectSeq;
        return new Promise<MetricsJson | undefined>((resolve) => {
          const done = (m: MetricsJson | undefined) => {
            clearTimeout(timer);
            this.collecting.delete(seq);
            resolve(m);
          };
          const timer = setTimeout(() => done(undefined), COLLECT_TIMEOUT_MS);
          this.collecting.set(seq, { worker, resolve: done });
          this.send(worker, { hg: 'collect', seq });
        });
      }),
    );
    // A worker that did not answer would make the summed counters drop: no answer beats a wrong one.
    if (all.some((m) => m === undefined)) throw new Error(`${all.filter((m) => m === undefined).length} of ${workers.length} workers did not send their metrics`);
    return AggregatorRegistry.aggregate(all as MetricsJson[]).metrics();
  }

  /**
   * Drains every worker (each runs its own graceful stop, limits.drainTimeoutMs) and exits when all
   * have exited: 0 if every worker exited 0. A second call (a second signal) makes them exit now.
   */
  stop(reason: string, exitCode = 0): void {
    if (exitCode) this.exitCode = exitCode;
    if (this.stopping) {
      this.opts.logger.error({ reason, code: 'HG_STOP_FORCED' }, 'second signal while draining; stopping the workers now');
      this.exitCode = 1;
      for (const s of this.slots) s.worker?.process.kill('SIGTERM');
      return;
    }
    this.stopping = true;
    this.watcher.close();
    const deadlineMs = this.drainTimeoutMs + KILL_MARGIN_MS;
    this.opts.logger.info({ reason, workers: this.pids().length, deadlineMs: this.drainTimeoutMs }, 'draining the workers');
    for (const s of this.slots) {
      clearTimeout(s.restart);
      if (!s.worker) continue;
      // A worker still starting has no stop handler yet: a signal ends it.
      if (s.ready) this.send(s.worker, { hg: 'stop' });
      else s.worker.process.kill('SIGTERM');
    }
    if (this.slots.every((s) => !s.worker)) return this.finish();
    setTimeout(() => {
      this.opts.logger.error({ code: 'HG_STOP_FORCED', pids: this.pids(), deadlineMs }, 'workers still running past the drain deadline; killing them');
      for (const s of this.slots) s.worker?.process.kill('SIGKILL');
      process.exit(1);
    }, deadlineMs).unref();
  }

  private finish(): void {
    this.opts.logger.info({ exitCode: this.exitCode }, 'hookgate primary stopped');
    // After the pending callbacks: a start failure is printed before the exit.
    setImmediate(() => process.exit(this.exitCode));
  }
}

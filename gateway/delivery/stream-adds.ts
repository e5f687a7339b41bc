/**
 * The adding side of the stream queue (stream-queue.ts): the adds of one turn of the event loop
 * (every publish accepted meanwhile) go to Redis in one ADD script call, instead of a call, a
 * bell entry and a group check per publish. Each caller still resolves only once its jobs are
 * in Redis, and every caller of a call that failed gets the error (its publish answers 503).
 */
import { DEFAULT_TENANT } from '../config/types.js';
import type { NewJob } from './queue.js';
import type { QueueKeys } from './stream-scripts.js';
import type { Scripted } from './stream-settles.js';

/** Jobs one ADD call carries at most (a larger add is split; callers are never split below it). */
const ADD_BATCH = 1000;

interface PendingAdd {
  jobs: NewJob[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class AddBatcher {
  private pending: PendingAdd[] = [];
  private size = 0;

  constructor(
    private readonly o: {
      conn: Scripted;
      keys: QueueKeys;
      /** Resolves once the connection is first ready (adds right after a start wait for it). */
      ready: () => Promise<void>;
      /** The tenants whose lanes a call wrote to. */
      added: (tenants: readonly string[]) => void;
    },
  ) {}

  /** Queues `jobs` for this turn's ADD call; resolves once they are in Redis. */
  add(jobs: NewJob[]): Promise<void> {
    if (jobs.length === 0) return Promise.resolve();
    // A large add goes on its own, in chunks, one after the other (as one caller's jobs always did).
    if (jobs.length >= ADD_BATCH) return this.addLarge(jobs);
    return new Promise<void>((resolve, reject) => {
      if (this.size + jobs.length > ADD_BATCH) this.flush();
      this.pending.push({ jobs, resolve, reject });
      this.size += jobs.length;
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private async addLarge(jobs: NewJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += ADD_BATCH) await this.call(jobs.slice(i, i + ADD_BATCH));
  }

  private flush(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.size = 0;
    const jobs = batch.length === 1 ? batch[0]!.jobs : batch.flatMap((p) => p.jobs);
    this.call(jobs).then(
      () => {
        for (const p of batch) p.resolve();
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  /** One ADD script call (see ADD in stream-scripts.ts). */
  private async call(jobs: NewJob[]): Promise<void> {
    const lanes: string[] = [];
    const index = new Map<string, number>();
    const args: (string | number)[] = [];
    for (const j of jobs) {
      const tenant = j.tenant ?? DEFAULT_TENANT;
      let li = index.get(tenant);
      if (li === undefined) {
        lanes.push(tenant);
        index.set(tenant, (li = lanes.length));
      }
      args.push(li, j.msgId, j.target, j.attempts ?? 0, j.orderingKey ?? '');
    }
    const k = this.o.keys;
    await this.o.ready();
    await this.o.conn.hgqAdd(3 + lanes.length, k.ids, k.lanes, k.bell, ...lanes.map((t) => k.first(t)), lanes.length, ...lanes, k.base, ...args);
    this.o.added(lanes);
  }
}

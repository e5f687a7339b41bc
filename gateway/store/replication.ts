import type { Redis } from 'ioredis';
import { Errors } from '../errors.js';

/**
 * `store.durability: replicated`: an acknowledgement waits until one replica has the writes it
 * promises. Replication is one ordered stream per primary, so a replica that has a later write has
 * every earlier one: each round writes a marker key (in the acknowledged data's slot, so on
 * Cluster it reaches the primary that took those writes) on a connection of its own, then `WAIT 1`
 * on it. That connection blocks in WAIT, not the store's shared one. Callers whose writes finished
 * before a round is sent share it (group commit): one round trip serves every acknowledgement of a
 * burst.
 */
export class ReplicaWait {
  private inFlight: Promise<void> | undefined;
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;

  constructor(
    private readonly conn: () => Redis,
    /** The marker key, in the slot of the data the acknowledgements cover. */
    private readonly markerKey: string,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves once one replica has every write this process finished before the call. */
  wait(): Promise<void> {
    if (!this.inFlight) return (this.inFlight = this.round().finally(() => this.afterRound()));
    // A round is already out: it may have been sent before our writes finished, so join the next.
    if (!this.next) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      this.next = { promise, resolve, reject };
    }
    return this.next.promise;
  }

  private afterRound(): void {
    this.inFlight = undefined;
    const n = this.next;
    if (!n) return;
    this.next = undefined;
    this.inFlight = this.round().finally(() => this.afterRound());
    this.inFlight.then(n.resolve, n.reject);
  }

  private async round(): Promise<void> {
    const conn = this.conn();
    // A connection still (re)connecting: wait for it within the same deadline, then try.
    if (conn.status !== 'ready') await new Promise<void>((r) => {
      const t = setTimeout(done, this.timeoutMs);
      function done() {
        clearTimeout(t);
        conn.off('ready', done);
        r();
      }
      conn.once('ready', done);
    });
    const res = (await conn.pipeline().incr(this.markerKey).call('WAIT', 1, this.timeoutMs).exec()) ?? [];
    for (const [err] of res) if (err) throw err;
    const acked = Number(res[1]?.[1] ?? 0);
    if (acked < 1) throw Errors.STORE_NOT_REPLICATED(this.timeoutMs).with({ 'retry-after': '1' });
  }
}

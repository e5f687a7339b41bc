/**
 * The writing side of the stream queue (stream-queue.ts): what workers finished, written in one
 * SETTLE script call per turn of the event loop instead of a round trip per job. While Redis is
 * away the settles are kept (and their entries stay held, so the heartbeat keeps them claimed)
 * and written when it is back: nothing finished is lost or run again because of an outage.
 */
import { Redis } from 'ioredis';
import { ADD, GROUPS, PROMOTE, SETTLE, SKIP } from './stream-scripts.js';

/** A connection with the queue's scripts defined on it. */
export type Scripted = Redis & Record<'hgqAdd' | 'hgqSettle' | 'hgqPromote' | 'hgqGroups' | 'hgqSkip', (...args: (string | number)[]) => Promise<unknown>>;

export function scripted(r: Redis): Scripted {
  r.on('error', () => {});
  // A shared connection (the store's) may have them already.
  if ((r as unknown as Partial<Scripted>).hgqSkip) return r as Scripted;
  r.defineCommand('hgqAdd', { lua: ADD });
  r.defineCommand('hgqSettle', { lua: SETTLE });
  r.defineCommand('hgqPromote', { lua: PROMOTE });
  r.defineCommand('hgqGroups', { lua: GROUPS });
  r.defineCommand('hgqSkip', { lua: SKIP });
  return r as Scripted;
}

/** The entry a settle is about: its lane stream and entry id. */
export interface SettledEntry {
  key: string;
  id: string;
}

/** A settle's op and its arguments after the entry (see SETTLE in stream-scripts.ts). */
export type SettleOp = (string | number)[];

const SETTLE_BATCH = 256;

export class SettleWriter<E extends SettledEntry> {
  private readonly queued: { e: E; op: SettleOp }[] = [];
  private flushing: Promise<boolean> | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      conn: () => Scripted;
      /** The `ids` and `delayed` keys, the SETTLE script's first two. */
      keys: [string, string];
      /** After an entry's settle is written. */
      written: (e: E) => void;
      failed: (err: unknown) => void;
    },
  ) {}

  /** Queues a settle; the batch is written on the next turn of the event loop. */
  add(e: E, op: SettleOp): void {
    this.queued.push({ e, op });
    if (this.queued.length === 1 && !this.flushing && !this.retry) setImmediate(() => void this.flush());
  }

  /** Writes what is queued; resolves false if Redis refused (a retry is then on its way). */
  flush(): Promise<boolean> {
    // One flush at a time; a caller that comes during one (a stop) waits for it and then the rest.
    if (this.flushing) return this.flushing.then((ok) => (ok && this.queued.length ? this.flush() : ok));
    this.flushing = this.write().then((ok) => {
      this.flushing = undefined;
      // Settles that came in as this one ended (a failed write has its own timer).
      if (ok && this.queued.length) setImmediate(() => void this.flush());
      return ok;
    });
    return this.flushing;
  }

  /** Stops the retry timer (a stop, after its last flush). */
  close(): void {
    clearTimeout(this.retry);
  }

  private async write(): Promise<boolean> {
    try {
      while (this.queued.length) {
        const batch = this.queued.slice(0, SETTLE_BATCH);
        const keys: string[] = [];
        const ki = new Map<string, number>();
        const args: (string | number)[] = [];
        for (const { e, op } of batch) {
          let i = ki.get(e.key);
          if (i === undefined) ki.set(e.key, (i = keys.push(e.key)));
          args.push(op[0]!, i, e.id, ...op.slice(1));
        }
        await this.o.conn().hgqSettle(2 + keys.length, ...this.o.keys, ...keys, ...args);
        this.queued.splice(0, batch.length);
        for (const { e } of batch) this.o.written(e);
      }
      return true;
    } catch (err) {
      this.o.failed(err);
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        void this.flush();
      }, 500);
      return false;
    }
  }
}

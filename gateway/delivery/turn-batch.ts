/**
 * Calls made during one turn of the event loop, sent on as one: every publish accepted in a turn
 * shares one store write, every attempt finished in a turn one attempt-log write. Each caller
 * resolves once its own item is written; when the write fails, every caller in it gets the error.
 */
export class TurnBatch<T> {
  private pending: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly send: (items: T[]) => Promise<unknown>,
    /** Items one write carries at most. */
    private readonly max = 256,
  ) {}

  push(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
      else if (this.pending.length >= this.max) this.flush();
    });
  }

  private flush(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    let sent: Promise<unknown>;
    try {
      sent = this.send(batch.map((p) => p.item));
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => {
        for (const p of batch) p.resolve();
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }
}

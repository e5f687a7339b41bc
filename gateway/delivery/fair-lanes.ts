/**
 * Fair choice between queued deliveries, shared by both queue drivers. Work waits in lanes: one
 * per tenant for first attempts and a twin per tenant for retries. Workers take from the lanes in
 * turn (round-robin, one job per lane per turn: deficit round-robin with equal quanta), so one
 * tenant's burst of 20,000 events delays another tenant's next delivery by at most one job per
 * busy lane, not by the burst. Retries may hold at most `retryShare` of the workers, so a mountain
 * of retries never leaves first attempts waiting for a worker.
 */

/** A lane's identity: the tenant, and whether it holds retries. */
export interface LaneKey {
  tenant: string;
  retry: boolean;
}

/** The lane id of a tenant's first attempts or its retries ('\u0000' is in no tenant id). */
export function laneId(tenant: string, retry: boolean): string {
  return retry ? `${tenant}\u0000r` : tenant;
}

export function laneOf(id: string): LaneKey {
  return id.endsWith('\u0000r') ? { tenant: id.slice(0, -2), retry: true } : { tenant: id, retry: false };
}

/** Jobs waiting in this process, by lane, taken round-robin. */
export class FairLanes<T> {
  private readonly lanes = new Map<string, T[]>();
  /** Lanes with work, in turn order; a lane is here once at most. */
  private readonly turn: string[] = [];
  private waiting = 0;

  /** Jobs held in all lanes. */
  get size(): number {
    return this.waiting;
  }

  push(lane: string, job: T): void {
    let q = this.lanes.get(lane);
    if (!q) {
      q = [];
      this.lanes.set(lane, q);
    }
    if (q.length === 0) this.turn.push(lane);
    q.push(job);
    this.waiting++;
  }

  /**
   * The next job in turn, skipping retry lanes when `retriesAllowed` is false. A lane that gave
   * a job goes to the back of the turn, so every lane with work gets one job per round.
   */
  take(retriesAllowed: boolean): { lane: string; job: T } | undefined {
    for (let i = 0; i < this.turn.length; i++) {
      const lane = this.turn[i]!;
      if (!retriesAllowed && laneOf(lane).retry) continue;
      const q = this.lanes.get(lane)!;
      const job = q.shift()!;
      this.waiting--;
      this.turn.splice(i, 1);
      if (q.length) this.turn.push(lane);
      else this.lanes.delete(lane);
      return { lane, job };
    }
    return undefined;
  }

  /** Removes and returns every job held (a stop hands them back to the store). */
  drain(): { lane: string; job: T }[] {
    const out: { lane: string; job: T }[] = [];
    for (const [lane, q] of this.lanes) for (const job of q) out.push({ lane, job });
    this.lanes.clear();
    this.turn.length = 0;
    this.waiting = 0;
    return out;
  }

  /** Every job held, without taking them (the heartbeat keeps their claims alive). */
  *all(): IterableIterator<{ lane: string; job: T }> {
    for (const [lane, q] of this.lanes) for (const job of q) yield { lane, job };
  }
}

/** How many workers retries may hold: three quarters, at least one. */
export function retryCap(concurrency: number): number {
  return Math.max(1, Math.floor((concurrency * 3) / 4));
}

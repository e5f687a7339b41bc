/**
 * An endpoint's health as every instance sees it: one record per endpoint that is not healthy,
 * a consecutive-failure counter, a slow-down deadline and the probe locks, all in the store
 * (shared through Redis, in process with the memory store). Reads are cached for at most
 * `CACHE_MS` so a healthy endpoint's deliveries cost no store round trip each; writes happen on
 * failures and transitions only.
 */
import type { Store } from '../../store/types.js';

/** How long a read of an endpoint's shared health stands (a transition elsewhere applies within it). */
export const CACHE_MS = 1000;
/** The consecutive-failure counter lapses after a day without failures. */
const FAILS_TTL_MS = 24 * 3600_000;

/** The lifecycle: healthy → failing → open → half-open → healthy, and disabled. */
export type HealthState = 'healthy' | 'failing' | 'open' | 'half-open' | 'disabled';
export const HEALTH_STATES: readonly HealthState[] = ['healthy', 'failing', 'open', 'half-open', 'disabled'];

/** Why an endpoint was disabled: only `failing` is probed back by auto-recover. */
export type DisableCause = 'failing' | 'gone' | 'receiver';

/** What the store keeps for an endpoint that is not healthy (no record: healthy). */
export interface HealthRecord {
  state: Exclude<HealthState, 'healthy'>;
  reason: string;
  /** When this state began (ms). */
  since: number;
  /** open: when the probe may go; half-open: when the probe's lock lapses and another may go. */
  until?: number;
  /** Failed probes in a row before this opening: picks the open interval. */
  opens: number;
  /** disabled: why. */
  cause?: DisableCause;
  /** disabled for failing, with auto-recover: when the next recovery probe goes. */
  nextProbeAt?: number;
}

interface Cached {
  rec: HealthRecord | null;
  slowUntil: number;
  at: number;
}

/** The shared health records of endpoints, with a short local cache. */
export class SharedHealth {
  private readonly cache = new Map<string, Cached>();
  private readonly loading = new Map<string, Promise<Cached>>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  private key(kind: string, id: string): string {
    return `dlv:health${kind}:${id}`;
  }

  /** The endpoint's record and slow-down, from the cache when it is fresh (one load at a time per endpoint). */
  async read(id: string): Promise<Cached> {
    const c = this.cache.get(id);
    if (c && this.now() - c.at < CACHE_MS) return c;
    let p = this.loading.get(id);
    if (!p) {
      p = this.load(id).finally(() => this.loading.delete(id));
      this.loading.set(id, p);
    }
    return p;
  }

  /** The endpoint's record as stored now (admin view, recovery, metrics), refreshing the cache. */
  async fresh(id: string): Promise<Cached> {
    return this.load(id);
  }

  private async load(id: string): Promise<Cached> {
    const [rec, slow] = await Promise.all([this.store.get(this.key('', id)), this.store.get(this.key('-slow', id))]);
    const c: Cached = { rec: rec ? (JSON.parse(rec) as HealthRecord) : null, slowUntil: slow ? Number(slow) : 0, at: this.now() };
    this.cache.set(id, c);
    // Endpoints come and go: keep the cache bounded by what is in use.
    if (this.cache.size > 100_000) this.cache.clear();
    return c;
  }

  /** The cached view, if any, without a load (the success path reads only what the gate loaded). */
  peek(id: string): Cached | undefined {
    return this.cache.get(id);
  }

  /** Writes (or with null deletes) the endpoint's record, and caches it. */
  async write(id: string, rec: HealthRecord | null): Promise<void> {
    if (rec) await this.store.set(this.key('', id), JSON.stringify(rec));
    else await this.store.del(this.key('', id));
    const c = this.cache.get(id);
    this.cache.set(id, { rec, slowUntil: c?.slowUntil ?? 0, at: c?.at ?? this.now() });
  }

  /** Writes the record only if the endpoint has none (SET NX); true when written. It lapses with the failure counter. */
  async writeIfAbsent(id: string, rec: HealthRecord): Promise<boolean> {
    if (!(await this.store.setIfAbsent(this.key('', id), JSON.stringify(rec), FAILS_TTL_MS))) return false;
    const c = this.cache.get(id);
    this.cache.set(id, { rec, slowUntil: c?.slowUntil ?? 0, at: c?.at ?? this.now() });
    return true;
  }

  /** Counts one more failed attempt in a row; returns the count. */
  countFailure(id: string): Promise<number> {
    return this.store.incr(this.key('-fails', id), FAILS_TTL_MS);
  }

  /** Ends the run of failed attempts. */
  clearFailures(id: string): Promise<void> {
    return this.store.del(this.key('-fails', id));
  }

  /** Holds every delivery to the endpoint until `untilMs` (never shortens a longer hold it knows of). */
  async slowDown(id: string, untilMs: number): Promise<void> {
    const c = this.cache.get(id);
    if (c && c.slowUntil >= untilMs) return;
    await this.store.set(this.key('-slow', id), String(untilMs), Math.max(1, untilMs - this.now()));
    this.cache.set(id, { rec: c?.rec ?? null, slowUntil: untilMs, at: c?.at ?? this.now() });
  }

  /**
   * Takes the one lock named `name` of the endpoint for `ttlMs` (SET NX PX with Redis): true for
   * exactly one caller across instances until it lapses.
   */
  lock(id: string, name: string, ttlMs: number): Promise<boolean> {
    return this.store.setIfAbsent(this.key(`-lock:${name}`, id), '1', ttlMs);
  }

  /** Forgets the cached view (after a lost race: the next read loads the store's). */
  invalidate(id: string): void {
    this.cache.delete(id);
  }
}

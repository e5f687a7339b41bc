/**
 * Where alerting keeps what instances share: windowed counters (one hash per time bucket, added
 * to in one batch per flush), the evaluator lease, each rule subject's state, and the recent
 * transitions. With Redis every instance sees the same; a state changes only by compare-and-set
 * in one script, so a transition (and its notification) happens once even when two instances
 * evaluate at the same moment. The memory driver keeps the same in process.
 */
import type { Redis } from 'ioredis';

/** A rule subject's state as stored. `lastFiredAt` outlives a resolve: the cooldown counts from it. */
export interface AlertState {
  state: 'ok' | 'firing';
  since: number;
  /** The value that caused the latest transition. */
  value: number;
  lastFiredAt?: number;
}

/** One transition, as GET /admin/alerts lists them (newest first). */
export interface AlertTransition {
  alert: string;
  subject: string;
  to: 'firing' | 'resolved';
  at: number;
  value: number;
}

/** How many transitions are kept. */
export const TRANSITIONS_KEPT = 100;

export interface AlertStore {
  /** Adds counts to bucket `bucket` of width `widthMs` (one round trip); the bucket expires after `ttlMs`. */
  add(widthMs: number, bucket: number, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void>;
  /** The counts of buckets `from`..`to` (inclusive), oldest first. */
  buckets(widthMs: number, from: number, to: number): Promise<Map<string, number>[]>;
  /** Takes or renews the evaluator lease for `ttlMs`; true when `holder` has it. */
  lead(holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` has it (a stopping instance), so another takes over at its next interval. */
  resign(holder: string): Promise<void>;
  /** Every stored state, by `<alert>|<subject>`, as its raw JSON (what `transition` compares). */
  states(): Promise<Map<string, string>>;
  /** Sets a state if it still is `expected` (null: absent) and logs the transition; false when another instance changed it first. */
  transition(key: string, expected: string | null, next: string, t: AlertTransition): Promise<boolean>;
  /** Removes the states of rules the config no longer has. */
  forget(keys: string[]): Promise<void>;
  /** The latest transitions, newest first. */
  transitions(): Promise<AlertTransition[]>;
}

/** The key of a rule subject's state (names and ids never contain '|'). */
export function stateKey(alert: string, subject: string): string {
  return `${alert}|${subject}`;
}

export class MemoryAlertStore implements AlertStore {
  private readonly counts = new Map<string, { at: number; counts: Map<string, number> }>();
  private readonly state = new Map<string, string>();
  private readonly log: AlertTransition[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  async add(widthMs: number, bucket: number, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void> {
    const key = `${widthMs}:${bucket}`;
    let b = this.counts.get(key);
    if (!b) this.counts.set(key, (b = { at: this.now() + ttlMs, counts: new Map() }));
    for (const [k, n] of counts) b.counts.set(k, (b.counts.get(k) ?? 0) + n);
    const t = this.now();
    for (const [k, v] of this.counts) if (v.at < t) this.counts.delete(k);
  }

  async buckets(widthMs: number, from: number, to: number): Promise<Map<string, number>[]> {
    const out: Map<string, number>[] = [];
    for (let b = from; b <= to; b++) out.push(new Map(this.counts.get(`${widthMs}:${b}`)?.counts ?? []));
    return out;
  }

  async lead(): Promise<boolean> {
    return true;
  }

  async resign(): Promise<void> {}

  async states(): Promise<Map<string, string>> {
    return new Map(this.state);
  }

  async transition(key: string, expected: string | null, next: string, t: AlertTransition): Promise<boolean> {
    if ((this.state.get(key) ?? null) !== expected) return false;
    this.state.set(key, next);
    this.log.unshift(t);
    this.log.length = Math.min(this.log.length, TRANSITIONS_KEPT);
    return true;
  }

  async forget(keys: string[]): Promise<void> {
    for (const k of keys) this.state.delete(k);
  }

  async transitions(): Promise<AlertTransition[]> {
    return [...this.log];
  }
}

/** Takes the lease when free or renews it for its holder. */
const LEAD = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/** Deletes the lease only for its holder. */
const RESIGN = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

/** Compare-and-set of one state, with its transition logged in the same step. */
const TRANSITION = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (cur or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('LPUSH', KEYS[2], ARGV[4])
redis.call('LTRIM', KEYS[2], 0, ${TRANSITIONS_KEPT - 1})
return 1`;

export class RedisAlertStore implements AlertStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private bucketKey(widthMs: number, bucket: number): string {
    return `${this.prefix}alerts:b:${widthMs}:${bucket}`;
  }

  async add(widthMs: number, bucket: number, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void> {
    if (counts.size === 0) return;
    const key = this.bucketKey(widthMs, bucket);
    const m = this.redis.multi();
    for (const [k, n] of counts) m.hincrby(key, k, n);
    m.pexpire(key, Math.max(1, Math.round(ttlMs)));
    await m.exec();
  }

  async buckets(widthMs: number, from: number, to: number): Promise<Map<string, number>[]> {
    const p = this.redis.pipeline();
    for (let b = from; b <= to; b++) p.hgetall(this.bucketKey(widthMs, b));
    const res = (await p.exec()) ?? [];
    return res.map(([err, h]) => {
      if (err) throw err;
      return new Map(Object.entries(h as Record<string, string>).map(([k, v]) => [k, Number(v)]));
    });
  }

  async lead(holder: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(LEAD, 1, `${this.prefix}alerts:lead`, holder, Math.max(1, Math.round(ttlMs)))) === 1;
  }

  async resign(holder: string): Promise<void> {
    await this.redis.eval(RESIGN, 1, `${this.prefix}alerts:lead`, holder);
  }

  async states(): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(`${this.prefix}alerts:state`)));
  }

  async transition(key: string, expected: string | null, next: string, t: AlertTransition): Promise<boolean> {
    return (await this.redis.eval(TRANSITION, 2, `${this.prefix}alerts:state`, `${this.prefix}alerts:log`, key, expected ?? '', next, JSON.stringify(t))) === 1;
  }

  async forget(keys: string[]): Promise<void> {
    if (keys.length) await this.redis.hdel(`${this.prefix}alerts:state`, ...keys);
  }

  async transitions(): Promise<AlertTransition[]> {
    return (await this.redis.lrange(`${this.prefix}alerts:log`, 0, TRANSITIONS_KEPT - 1)).map((s) => JSON.parse(s) as AlertTransition);
  }
}

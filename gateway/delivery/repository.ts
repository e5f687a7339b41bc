import type { Redis } from 'ioredis';
import type { EgressConfig } from '../config/types.js';
import type { AttemptRecord, DeliveryRepository, DeliveryStatus, EndpointRecord, FailedDelivery, ListQuery, StoredMessage } from './types.js';

function overall(statuses: Record<string, DeliveryStatus>): DeliveryStatus {
  const v = Object.values(statuses);
  if (v.includes('pending')) return 'pending';
  if (v.includes('failed')) return 'failed';
  return 'delivered';
}

export { overall as overallStatus };

/** How long a message, its statuses and its attempts are kept (`egress.retentionDays`). */
export function retentionMs(egress: EgressConfig): number {
  return egress.retentionDays * 24 * 3600 * 1000;
}

/** In-process repository: the embedded default. Not shared, not durable. */
export class MemoryRepository implements DeliveryRepository {
  private readonly messages = new Map<string, { msg: StoredMessage; expiresAt: number }>();
  private readonly statuses = new Map<string, Record<string, DeliveryStatus>>();
  private readonly attempts = new Map<string, AttemptRecord[]>();
  private readonly failed = new Map<string, Map<string, number>>();
  private readonly requeued = new Map<string, Record<string, number>>();
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly idem = new Map<string, { value: string; expiresAt: number }>();
  private readonly failing = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  private sweep(): void {
    const t = this.now();
    for (const [id, m] of this.messages) {
      if (m.expiresAt > t) break; // insertion order = creation order
      this.messages.delete(id);
      this.statuses.delete(id);
      this.attempts.delete(id);
      this.requeued.delete(id);
      for (const f of this.failed.values()) f.delete(id);
    }
  }

  async saveMessage(msg: StoredMessage, retentionMs: number): Promise<void> {
    this.sweep();
    this.messages.set(msg.id, { msg, expiresAt: this.now() + retentionMs });
    this.statuses.set(msg.id, Object.fromEntries(msg.targets.map((t) => [t, 'pending' as DeliveryStatus])));
  }
  async getMessage(id: string): Promise<StoredMessage | null> {
    return this.messages.get(id)?.msg ?? null;
  }
  async getStatuses(id: string): Promise<Record<string, DeliveryStatus>> {
    return { ...(this.statuses.get(id) ?? {}) };
  }
  async setStatus(id: string, target: string, status: DeliveryStatus): Promise<void> {
    const s = this.statuses.get(id);
    if (s) s[target] = status;
    if (status === 'failed') {
      if (!this.failed.has(target)) this.failed.set(target, new Map());
      this.failed.get(target)!.set(id, this.now());
    } else {
      // Like the Redis index: a delivery that is pending or delivered again is no longer failed,
      // so recover never resends what was already delivered.
      this.failed.get(target)?.delete(id);
    }
  }
  async recordAttempt(id: string, rec: AttemptRecord, status: DeliveryStatus): Promise<void> {
    if (!this.attempts.has(id)) this.attempts.set(id, []);
    this.attempts.get(id)!.push(rec);
    await this.setStatus(id, rec.target, status);
  }
  async getAttempts(id: string): Promise<AttemptRecord[]> {
    return [...(this.attempts.get(id) ?? [])];
  }
  async listMessages(q: ListQuery): Promise<{ items: string[]; nextCursor: string | null }> {
    const ids = [...this.messages.keys()].reverse();
    let start = 0;
    if (q.cursor) start = Math.max(0, ids.indexOf(q.cursor) + 1);
    const items: string[] = [];
    let i = start;
    for (; i < ids.length && items.length < q.limit; i++) {
      const s = this.statuses.get(ids[i]!) ?? {};
      if (q.endpoint && !(q.endpoint in s)) continue;
      if (q.status && (q.endpoint ? s[q.endpoint] : overall(s)) !== q.status) continue;
      items.push(ids[i]!);
    }
    return { items, nextCursor: i < ids.length && items.length === q.limit ? items[items.length - 1]! : null };
  }
  async failedBetween(targets: string[], sinceMs: number, untilMs: number, limit: number): Promise<FailedDelivery[]> {
    this.sweep();
    const out: FailedDelivery[] = [];
    for (const target of targets) {
      const found = [...(this.failed.get(target) ?? new Map<string, number>())].filter(([id, at]) => at >= sinceMs && at <= untilMs && this.messages.has(id));
      for (const [id, at] of found.sort((a, b) => a[1] - b[1])) {
        if (out.length >= limit) return out;
        out.push({ id, target, at });
      }
    }
    return out;
  }
  async requeue(id: string, target: string, attemptsMade: number): Promise<void> {
    await this.setStatus(id, target, 'pending');
    if (!this.messages.has(id)) return;
    this.requeued.set(id, { ...this.requeued.get(id), [target]: attemptsMade });
  }
  async requeuedAfter(id: string, target: string): Promise<number> {
    return this.requeued.get(id)?.[target] ?? 0;
  }
  async putEndpoint(ep: EndpointRecord): Promise<void> {
    this.endpoints.set(ep.id, structuredClone(ep));
  }
  async getEndpoint(id: string): Promise<EndpointRecord | null> {
    const e = this.endpoints.get(id);
    return e ? structuredClone(e) : null;
  }
  async listEndpoints(): Promise<EndpointRecord[]> {
    return [...this.endpoints.values()].map((e) => structuredClone(e));
  }
  async deleteEndpoint(id: string): Promise<boolean> {
    return this.endpoints.delete(id);
  }
  async claimIdempotency(key: string, value: string, ttlMs: number): Promise<string | null> {
    const e = this.idem.get(key);
    if (e && e.expiresAt > this.now()) return e.value;
    this.idem.set(key, { value, expiresAt: this.now() + ttlMs });
    return null;
  }
  async releaseIdempotency(key: string): Promise<void> {
    this.idem.delete(key);
  }
  async markFailing(endpointId: string, at: number): Promise<number> {
    const cur = this.failing.get(endpointId);
    if (cur !== undefined) return cur;
    this.failing.set(endpointId, at);
    return at;
  }
  async clearFailing(endpointId: string): Promise<void> {
    this.failing.delete(endpointId);
  }
  async close(): Promise<void> {}
}

/**
 * Redis repository. Keys under `<prefix>dlv:`: `m:<id>` (one hash per message: the message JSON,
 * each target's status and each attempt, and where a requeue restarted its schedule), `idx` (zset of ids by creation), `failed:<target>` (zset of
 * ids by failure time), `ep:<id>` + `eps` (endpoints), `idem:<key>`, `failing:<endpoint>`.
 * Everything about a message expires with the retention period.
 */
export class RedisRepository implements DeliveryRepository {
  private readonly k: string;
  private lastTrim = 0;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.k = `${prefix}dlv:`;
    if (!(redis as unknown as Record<string, unknown>).hgHsetExisting) {
      redis.defineCommand('hgHsetExisting', {
        numberOfKeys: 1,
        lua: "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], unpack(ARGV)) end return 0",
      });
    }
  }

  /**
   * One hash per message: `msg` (JSON), `s:<target>` (status), `a:<time>:<target>:<n>` (attempts),
   * `r:<target>` (attempts made before the latest requeue).
   */
  private mk(id: string): string {
    return `${this.k}m:${id}`;
  }

  async saveMessage(msg: StoredMessage, retentionMs: number): Promise<void> {
    const ttl = Math.round(retentionMs);
    const m = this.redis.multi();
    m.hset(this.mk(msg.id), 'msg', JSON.stringify(msg), ...msg.targets.flatMap((t) => [`s:${t}`, 'pending']));
    m.pexpire(this.mk(msg.id), ttl);
    m.zadd(`${this.k}idx`, msg.createdAt, msg.id);
    const t = this.now();
    // Trim the index of expired messages now and then, not on every write.
    if (t - this.lastTrim > 10_000) {
      this.lastTrim = t;
      m.zremrangebyscore(`${this.k}idx`, '-inf', t - ttl);
    }
    const res = await m.exec();
    for (const [err] of res ?? []) if (err) throw err;
  }
  async getMessage(id: string): Promise<StoredMessage | null> {
    const s = await this.redis.hget(this.mk(id), 'msg');
    return s ? (JSON.parse(s) as StoredMessage) : null;
  }
  async getStatuses(id: string): Promise<Record<string, DeliveryStatus>> {
    const h = await this.redis.hgetall(this.mk(id));
    const out: Record<string, DeliveryStatus> = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith('s:')) out[k.slice(2)] = v as DeliveryStatus;
    return out;
  }
  /**
   * HSET only if the message still exists: after its retention it must not come back as a
   * hash without an expiry. One script call instead of a transaction on the hot path.
   */
  private hsetExisting(id: string, ...fields: string[]): Promise<unknown> {
    return (this.redis as Redis & { hgHsetExisting(key: string, ...args: string[]): Promise<number> }).hgHsetExisting(this.mk(id), ...fields);
  }
  async setStatus(id: string, target: string, status: DeliveryStatus): Promise<void> {
    await this.hsetExisting(id, `s:${target}`, status);
    if (status === 'failed') await this.redis.zadd(`${this.k}failed:${target}`, this.now(), id);
    else await this.redis.zrem(`${this.k}failed:${target}`, id);
  }
  async recordAttempt(id: string, rec: AttemptRecord, status: DeliveryStatus): Promise<void> {
    await this.hsetExisting(id, `s:${rec.target}`, status, `a:${rec.at}:${rec.target}:${rec.attempt}`, JSON.stringify(rec));
    // Only a failure touches the failed index; requeueing (setStatus pending) already took the id out.
    if (status === 'failed') await this.redis.zadd(`${this.k}failed:${rec.target}`, this.now(), id);
  }
  async getAttempts(id: string): Promise<AttemptRecord[]> {
    const h = await this.redis.hgetall(this.mk(id));
    return Object.entries(h)
      .filter(([k]) => k.startsWith('a:'))
      .map(([, v]) => JSON.parse(v) as AttemptRecord)
      .sort((a, b) => a.at - b.at);
  }
  async listMessages(q: ListQuery): Promise<{ items: string[]; nextCursor: string | null }> {
    // Cursor = "<score>:<id>" of the last item returned; walk the index newest first in pages.
    let max = '+inf';
    let after: string | undefined;
    if (q.cursor) {
      const i = q.cursor.indexOf(':');
      max = q.cursor.slice(0, i);
      after = q.cursor.slice(i + 1);
    }
    const items: string[] = [];
    let last: { id: string; score: string } | undefined;
    let scanned = 0;
    for (;;) {
      const page = await this.redis.zrevrangebyscore(`${this.k}idx`, max, '-inf', 'WITHSCORES', 'LIMIT', 0, 200);
      if (page.length === 0) break;
      let progressed = false;
      for (let i = 0; i < page.length; i += 2) {
        const id = page[i]!;
        const score = page[i + 1]!;
        if (after !== undefined) {
          if (score === max && id >= after) continue; // same-score entries already returned
        }
        progressed = true;
        last = { id, score };
        scanned++;
        if (q.status || q.endpoint) {
          const s = await this.getStatuses(id);
          if (Object.keys(s).length === 0) continue;
          if (q.endpoint && !(q.endpoint in s)) continue;
          if (q.status && (q.endpoint ? s[q.endpoint] : overall(s)) !== q.status) continue;
        } else if (!(await this.redis.exists(this.mk(id)))) continue;
        items.push(id);
        if (items.length >= q.limit) return { items, nextCursor: `${score}:${id}` };
      }
      if (!progressed || scanned > 20_000) break;
      max = last!.score;
      after = last!.id;
    }
    return { items, nextCursor: null };
  }
  async failedBetween(targets: string[], sinceMs: number, untilMs: number, limit: number): Promise<FailedDelivery[]> {
    for (;;) {
      const found: FailedDelivery[] = [];
      // One round trip per 100 targets; each target's range is read from its own failed index.
      for (let i = 0; i < targets.length && found.length < limit; i += 100) {
        const chunk = targets.slice(i, i + 100);
        const p = this.redis.pipeline();
        for (const t of chunk) p.zrangebyscore(`${this.k}failed:${t}`, sinceMs, untilMs, 'WITHSCORES', 'LIMIT', 0, limit - found.length);
        const res = (await p.exec()) ?? [];
        res.forEach(([err, page], j) => {
          if (err) throw err;
          const flat = page as string[];
          for (let x = 0; x < flat.length && found.length < limit; x += 2) found.push({ id: flat[x]!, target: chunk[j]!, at: Number(flat[x + 1]) });
        });
      }
      // The index outlives messages past their retention: drop those entries and read again.
      const p = this.redis.pipeline();
      for (const f of found) p.exists(this.mk(f.id));
      const exists = (await p.exec()) ?? [];
      for (const [err] of exists) if (err) throw err;
      const stale = found.filter((_f, i) => exists[i]![1] === 0);
      if (stale.length === 0) return found;
      const del = this.redis.pipeline();
      for (const f of stale) del.zrem(`${this.k}failed:${f.target}`, f.id);
      for (const [err] of (await del.exec()) ?? []) if (err) throw err;
    }
  }
  async requeue(id: string, target: string, attemptsMade: number): Promise<void> {
    await this.hsetExisting(id, `s:${target}`, 'pending', `r:${target}`, String(attemptsMade));
    await this.redis.zrem(`${this.k}failed:${target}`, id);
  }
  async requeuedAfter(id: string, target: string): Promise<number> {
    return Number((await this.redis.hget(this.mk(id), `r:${target}`)) ?? 0);
  }
  async putEndpoint(ep: EndpointRecord): Promise<void> {
    await this.redis.multi().set(`${this.k}ep:${ep.id}`, JSON.stringify(ep)).sadd(`${this.k}eps`, ep.id).exec();
  }
  async getEndpoint(id: string): Promise<EndpointRecord | null> {
    const s = await this.redis.get(`${this.k}ep:${id}`);
    return s ? (JSON.parse(s) as EndpointRecord) : null;
  }
  async listEndpoints(): Promise<EndpointRecord[]> {
    const ids = await this.redis.smembers(`${this.k}eps`);
    if (ids.length === 0) return [];
    const vals = await this.redis.mget(...ids.map((id) => `${this.k}ep:${id}`));
    return vals.filter((v): v is string => !!v).map((v) => JSON.parse(v) as EndpointRecord);
  }
  async deleteEndpoint(id: string): Promise<boolean> {
    const res = await this.redis.multi().del(`${this.k}ep:${id}`).srem(`${this.k}eps`, id).exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }
  async claimIdempotency(key: string, value: string, ttlMs: number): Promise<string | null> {
    const k = `${this.k}idem:${key}`;
    const ok = await this.redis.set(k, value, 'PX', Math.round(ttlMs), 'NX');
    if (ok === 'OK') return null;
    return (await this.redis.get(k)) ?? null;
  }
  async releaseIdempotency(key: string): Promise<void> {
    await this.redis.del(`${this.k}idem:${key}`);
  }
  async markFailing(endpointId: string, at: number): Promise<number> {
    const k = `${this.k}failing:${endpointId}`;
    await this.redis.set(k, String(at), 'NX');
    return Number((await this.redis.get(k)) ?? at);
  }
  async clearFailing(endpointId: string): Promise<void> {
    await this.redis.del(`${this.k}failing:${endpointId}`);
  }
  async close(): Promise<void> {}
}

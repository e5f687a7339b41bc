import type { Redis } from 'ioredis';
import { PLAINTEXT, type RecordSealer } from './secret-keys.js';
import { overallStatus as overall, tenanted } from './repository-common.js';
import { HSET_EXISTING_MANY, SAVE_MESSAGES } from './repository-scripts.js';
import { TurnBatch } from './turn-batch.js';
import type { AttemptRecord, DeliveryRepository, DeliveryStatus, EndpointRecord, FailedDelivery, ListQuery, StoredMessage, TenantRecord } from './types.js';

export { overallStatus, retentionMs } from './repository-common.js';
export { MemoryRepository } from './memory-repository.js';


/**
 * Redis repository. Keys under `<prefix>dlv:`: `m:<id>` (one hash per message: the message JSON,
 * each target's status and each attempt, and where a requeue restarted its schedule), `idx` (zset of ids by creation), `failed:<target>` (zset of
 * ids by failure time), `ep:<id>` + `eps` (endpoints), `idem:<key>`, `failing:<endpoint>`,
 * `tn:<id>` + `tns` (API tenants), `tidx:<tenant>` (zset of a tenant's message ids by creation).
 * Everything about a message expires with the retention period. Endpoint records are sealed with
 * the current snapshot's `egress.encryptionKey` when it has one (see `RecordSealer`).
 */
export class RedisRepository implements DeliveryRepository {
  private readonly k: string;
  private lastTrim = 0;
  private readonly lastTenantTrim = new Map<string, number>();
  /** Messages saved in one turn of the event loop: one script call. */
  private readonly saves = new TurnBatch<{ key: string; tidx: string; args: (string | number)[] }>((batch) => {
    const keys = [`${this.k}idx`];
    const args: (string | number)[] = [];
    for (const m of batch) keys.push(m.key, m.tidx), args.push(...m.args);
    return (this.redis as Redis & { hgSaveMessages(n: number, ...a: (string | number)[]): Promise<unknown> }).hgSaveMessages(keys.length, ...keys, ...args);
  });
  /** Attempts recorded in one turn: one script call. */
  private readonly attempts = new TurnBatch<{ key: string; fields: string[] }>((batch) => {
    const args: (string | number)[] = [];
    for (const a of batch) args.push(a.fields.length, ...a.fields);
    return (this.redis as Redis & { hgHsetExistingMany(n: number, ...a: (string | number)[]): Promise<unknown> }).hgHsetExistingMany(batch.length, ...batch.map((a) => a.key), ...args);
  });

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly now: () => number = Date.now,
    /** The running config's keys for endpoint records (followed on reload). */
    private readonly sealer: () => RecordSealer = () => PLAINTEXT,
  ) {
    this.k = `${prefix}dlv:`;
    if (!(redis as unknown as Record<string, unknown>).hgHsetExisting) {
      redis.defineCommand('hgHsetExisting', {
        numberOfKeys: 1,
        lua: "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], unpack(ARGV)) end return 0",
      });
    }
    if (!(redis as unknown as Record<string, unknown>).hgSaveMessages) redis.defineCommand('hgSaveMessages', { lua: SAVE_MESSAGES });
    if (!(redis as unknown as Record<string, unknown>).hgHsetExistingMany) redis.defineCommand('hgHsetExistingMany', { lua: HSET_EXISTING_MANY });
    if (!(redis as unknown as Record<string, unknown>).hgSetIfUnchanged) {
      redis.defineCommand('hgSetIfUnchanged', {
        numberOfKeys: 1,
        lua: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2]) end return 0",
      });
    }
  }

  /** A tenant's message index. */
  private tidx(tenant: string): string {
    return `${this.k}tidx:${tenant}`;
  }

  /**
   * One hash per message: `msg` (JSON, but the body), `b` (the body), `s:<target>` (status), `a:<time>:<target>:<n>` (attempts),
   * `r:<target>` (attempts made before the latest requeue).
   */
  private mk(id: string): string {
    return `${this.k}m:${id}`;
  }

  /**
   * One script call for the messages of a turn: each message hash (JSON, body and each target's
   * status) with its expiry, and both indexes. Trims of expired ids ride along now and then (every
   * 10 s per index), never every write.
   */
  async saveMessage(msg: StoredMessage, retentionMs: number): Promise<void> {
    const ttl = Math.round(retentionMs);
    const t = this.now();
    let trim = -1;
    // Trim the index of expired messages now and then, not on every write.
    if (t - this.lastTrim > 10_000) {
      this.lastTrim = t;
      trim = t - ttl;
    }
    // A tenant's index: trimmed on its own publishes, rate-limited by the same clock per tenant.
    let tenantTrim = -1;
    if (t - (this.lastTenantTrim.get(msg.tenant) ?? 0) > 10_000) {
      this.lastTenantTrim.set(msg.tenant, t);
      if (this.lastTenantTrim.size > 10_000) this.lastTenantTrim.clear();
      tenantTrim = t - ttl;
    }
    // The body as its own field, so its text is not encoded a second time inside the message's JSON.
    const fields: (string | number)[] = ['b', msg.body];
    for (const target of msg.targets) fields.push(`s:${target}`, 'pending');
    await this.saves.push({ key: this.mk(msg.id), tidx: this.tidx(msg.tenant), args: [JSON.stringify({ ...msg, body: undefined }), ttl, msg.createdAt, msg.id, trim, tenantTrim, fields.length, ...fields] });
  }
  async getMessage(id: string): Promise<StoredMessage | null> {
    const [s, body] = await this.redis.hmget(this.mk(id), 'msg', 'b');
    if (!s) return null;
    const msg = JSON.parse(s) as StoredMessage;
    // Written before the body had its own field: it is in the JSON.
    if (body !== null) msg.body = body;
    return tenanted(msg);
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
    // The attempts recorded in one turn go in one script call (each only if its message still exists).
    await this.attempts.push({ key: this.mk(id), fields: [`s:${rec.target}`, status, `a:${rec.at}:${rec.target}:${rec.attempt}`, JSON.stringify(rec)] });
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
    // A tenant's messages are walked on its own index: no scan of everyone else's.
    const index = q.tenant !== undefined ? this.tidx(q.tenant) : `${this.k}idx`;
    for (;;) {
      const page = await this.redis.zrevrangebyscore(index, max, '-inf', 'WITHSCORES', 'LIMIT', 0, 200);
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
  async countFailed(targets: string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < targets.length; i += 100) {
      const p = this.redis.pipeline();
      for (const t of targets.slice(i, i + 100)) p.zcard(`${this.k}failed:${t}`);
      for (const [err, c] of (await p.exec()) ?? []) if (!err) n += Number(c);
    }
    return n;
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
  /**
   * An endpoint record's value: its JSON, sealed under the current key with `ep:<id>` bound in
   * (not the store prefix, so records still open after a move to another prefix).
   */
  private sealEndpoint(ep: EndpointRecord): string {
    return this.sealer().seal(JSON.stringify(ep), `ep:${ep.id}`);
  }
  /**
   * Opens a stored endpoint record. One sealed under a previous key (or plaintext while a key is
   * set, or sealed after the key was removed) is written back under the current one, unless it
   * changed in the meantime: reading migrates records, and every start and reload reads them all.
   * @throws GatewayError HG_ENDPOINT_UNREADABLE when no configured key opens it.
   */
  private async openEndpoint(id: string, stored: string): Promise<EndpointRecord> {
    const sealer = this.sealer();
    const { text, stale } = sealer.open(stored, `ep:${id}`, `endpoint "${id}"`);
    if (stale) {
      await (this.redis as Redis & { hgSetIfUnchanged(key: string, was: string, value: string): Promise<unknown> }).hgSetIfUnchanged(`${this.k}ep:${id}`, stored, sealer.seal(text, `ep:${id}`));
    }
    return tenanted(JSON.parse(text) as EndpointRecord);
  }
  async putEndpoint(ep: EndpointRecord): Promise<void> {
    await this.redis.multi().set(`${this.k}ep:${ep.id}`, this.sealEndpoint(ep)).sadd(`${this.k}eps`, ep.id).exec();
  }
  async getEndpoint(id: string): Promise<EndpointRecord | null> {
    const s = await this.redis.get(`${this.k}ep:${id}`);
    return s ? this.openEndpoint(id, s) : null;
  }
  async listEndpoints(): Promise<EndpointRecord[]> {
    const ids = await this.redis.smembers(`${this.k}eps`);
    if (ids.length === 0) return [];
    const vals = await this.redis.mget(...ids.map((id) => `${this.k}ep:${id}`));
    const out: EndpointRecord[] = [];
    for (let i = 0; i < ids.length; i++) if (vals[i]) out.push(await this.openEndpoint(ids[i]!, vals[i]!));
    return out;
  }
  async deleteEndpoint(id: string): Promise<boolean> {
    const res = await this.redis.multi().del(`${this.k}ep:${id}`).srem(`${this.k}eps`, id).exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }
  async createTenant(t: TenantRecord): Promise<boolean> {
    // NX: two instances creating the same tenant at once cannot both win.
    const ok = await this.redis.set(`${this.k}tn:${t.id}`, JSON.stringify(t), 'NX');
    if (ok !== 'OK') return false;
    await this.redis.sadd(`${this.k}tns`, t.id);
    return true;
  }
  async putTenant(t: TenantRecord): Promise<void> {
    await this.redis.multi().set(`${this.k}tn:${t.id}`, JSON.stringify(t)).sadd(`${this.k}tns`, t.id).exec();
  }
  async getTenant(id: string): Promise<TenantRecord | null> {
    const s = await this.redis.get(`${this.k}tn:${id}`);
    return s ? (JSON.parse(s) as TenantRecord) : null;
  }
  async listTenants(): Promise<TenantRecord[]> {
    const ids = await this.redis.smembers(`${this.k}tns`);
    if (ids.length === 0) return [];
    const vals = await this.redis.mget(...ids.map((id) => `${this.k}tn:${id}`));
    return vals.filter((v): v is string => !!v).map((v) => JSON.parse(v) as TenantRecord);
  }
  async deleteTenant(id: string): Promise<boolean> {
    const res = await this.redis.multi().del(`${this.k}tn:${id}`).srem(`${this.k}tns`, id).exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }
  async countTenantMessages(tenant: string, retentionMs: number): Promise<number> {
    // Expired ids leave the index on the tenant's next trim; count only the live window.
    return this.redis.zcount(this.tidx(tenant), this.now() - retentionMs, '+inf');
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
  async confirmIdempotency(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(`${this.k}idem:${key}`, value, 'PX', Math.round(ttlMs), 'XX');
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

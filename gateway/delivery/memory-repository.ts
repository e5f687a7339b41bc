import { overallStatus as overall, tenanted } from './repository-common.js';
import type { AttemptRecord, DeliveryRepository, DeliveryStatus, EndpointRecord, FailedDelivery, ListQuery, StoredMessage, TenantRecord } from './types.js';

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
  private readonly tenants = new Map<string, TenantRecord>();

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
      if (q.tenant !== undefined && tenanted(this.messages.get(ids[i]!)!.msg).tenant !== q.tenant) continue;
      const s = this.statuses.get(ids[i]!) ?? {};
      if (q.endpoint && !(q.endpoint in s)) continue;
      if (q.status && (q.endpoint ? s[q.endpoint] : overall(s)) !== q.status) continue;
      items.push(ids[i]!);
    }
    return { items, nextCursor: i < ids.length && items.length === q.limit ? items[items.length - 1]! : null };
  }
  async countFailed(targets: string[]): Promise<number> {
    return targets.reduce((n, t) => n + [...(this.failed.get(t)?.keys() ?? [])].filter((id) => this.messages.has(id)).length, 0);
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
  async createTenant(t: TenantRecord): Promise<boolean> {
    if (this.tenants.has(t.id)) return false;
    this.tenants.set(t.id, structuredClone(t));
    return true;
  }
  async putTenant(t: TenantRecord): Promise<void> {
    this.tenants.set(t.id, structuredClone(t));
  }
  async getTenant(id: string): Promise<TenantRecord | null> {
    const t = this.tenants.get(id);
    return t ? structuredClone(t) : null;
  }
  async listTenants(): Promise<TenantRecord[]> {
    return [...this.tenants.values()].map((t) => structuredClone(t));
  }
  async deleteTenant(id: string): Promise<boolean> {
    return this.tenants.delete(id);
  }
  async countTenantMessages(tenant: string): Promise<number> {
    this.sweep();
    let n = 0;
    for (const { msg } of this.messages.values()) if (tenanted(msg).tenant === tenant) n++;
    return n;
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
  async confirmIdempotency(key: string, value: string, ttlMs: number): Promise<void> {
    if (this.idem.has(key)) this.idem.set(key, { value, expiresAt: this.now() + ttlMs });
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

/**
 * The tenant directory: the one owner of tenants as publishing and the admin API see them. It
 * merges the snapshot's config tenants (read-only) and the implicit tenant "default" with the
 * tenants created through the admin API (kept in the store, shared by instances), caches lookups
 * for the hot path, makes every change, and enforces each tenant's quotas.
 */
import type { Snapshot } from '../compile.js';
import { DEFAULT_TENANT, type DeliveryPolicyConfig, type TenantConfig } from '../config/types.js';
import { Errors } from '../errors.js';
import type { StoreOperations } from '../store/types.js';
import type { EndpointDirectory } from './endpoints.js';
import { retentionMs } from './repository.js';
import type { DeliveryRepository, TenantQuotas, TenantRecord } from './types.js';

/** How long a cached lookup stands: changes from other instances apply within a second. */
const CACHE_MS = 1000;

/** Where a tenant comes from: gateway.yaml, the admin API, or the implicit default tenant. */
export type TenantSource = 'config' | 'api' | 'implicit';

/** A tenant as the gateway uses it. */
export interface Tenant {
  id: string;
  name?: string;
  metadata?: Record<string, string>;
  quotas: TenantQuotas;
  /** Its delivery policy layer: `tenants[].policy` in gateway.yaml, or set through the admin API. */
  policy?: DeliveryPolicyConfig;
  source: TenantSource;
  createdAt?: number;
  updatedAt?: number;
}

/** The fields the admin API may set on an API tenant; null removes an optional one (PATCH). */
export interface TenantFields {
  name?: string | null;
  metadata?: Record<string, string> | null;
  quotas?: TenantQuotas | null;
  policy?: DeliveryPolicyConfig | null;
}

export interface TenantDirectoryOptions {
  repo: DeliveryRepository;
  /** Counts for the rate quota, shared by every instance with the redis store. */
  store: StoreOperations;
  endpoints: EndpointDirectory;
  now: () => number;
  /** The current snapshot: its config tenants. */
  snapshot: () => Snapshot;
}

function fromConfig(c: TenantConfig): Tenant {
  return { id: c.id, name: c.name, metadata: c.metadata, quotas: c.quotas ?? {}, policy: c.policy, source: 'config' };
}

function fromRecord(r: TenantRecord): Tenant {
  return { id: r.id, name: r.name, metadata: r.metadata, quotas: r.quotas ?? {}, policy: r.policy, source: 'api', createdAt: r.createdAt, updatedAt: r.updatedAt };
}

const IMPLICIT_DEFAULT: Tenant = { id: DEFAULT_TENANT, quotas: {}, source: 'implicit' };

export class TenantDirectory {
  private readonly cache = new Map<string, { t: Tenant | null; at: number }>();

  constructor(private readonly opts: TenantDirectoryOptions) {}

  private configTenants(): TenantConfig[] {
    return this.opts.snapshot().config.tenants ?? [];
  }

  /** A config tenant or the implicit default: never read from the store. */
  private declared(id: string): Tenant | undefined {
    const c = this.configTenants().find((t) => t.id === id);
    if (c) return fromConfig(c);
    return id === DEFAULT_TENANT ? IMPLICIT_DEFAULT : undefined;
  }

  /** A tenant for a publish, cached for a second; null when there is none. */
  async get(id: string): Promise<Tenant | null> {
    return this.getNow(id);
  }

  /** `get`, as a plain value when it needs no store read (a declared tenant, a cached lookup). */
  getNow(id: string): Tenant | null | Promise<Tenant | null> {
    const d = this.declared(id);
    if (d) return d;
    const t = this.opts.now();
    const c = this.cache.get(id);
    return c && t - c.at < CACHE_MS ? c.t : this.read(id, t);
  }

  /** A tenant's policy layer as `get` finds it: a plain value while the lookup is cached (the attempt path). */
  policyOf(id: string): DeliveryPolicyConfig | undefined | Promise<DeliveryPolicyConfig | undefined> {
    const t = this.getNow(id);
    return t instanceof Promise ? t.then((x) => x?.policy) : t?.policy;
  }

  private async read(id: string, t: number): Promise<Tenant | null> {
    const rec = await this.opts.repo.getTenant(id);
    const tenant = rec ? fromRecord(rec) : null;
    this.cache.set(id, { t: tenant, at: t });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return tenant;
  }

  /** A tenant as stored now, uncached (for the admin API). */
  async find(id: string): Promise<Tenant | null> {
    const d = this.declared(id);
    if (d) return d;
    const rec = await this.opts.repo.getTenant(id);
    return rec ? fromRecord(rec) : null;
  }

  /**
   * A tenant that must exist (publish, admin API).
   * @throws GatewayError HG_TENANT_NOT_FOUND
   */
  async must(id: string, cached = false): Promise<Tenant> {
    const t = cached ? await this.get(id) : await this.find(id);
    if (!t) throw Errors.TENANT_NOT_FOUND(id);
    return t;
  }

  /** Every tenant, by id: the default, config tenants, then API tenants (a config id hides a stored one). */
  async list(): Promise<Tenant[]> {
    const out = new Map<string, Tenant>();
    out.set(DEFAULT_TENANT, IMPLICIT_DEFAULT);
    for (const c of this.configTenants()) out.set(c.id, fromConfig(c));
    for (const r of await this.opts.repo.listTenants()) if (!out.has(r.id)) out.set(r.id, fromRecord(r));
    return [...out.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Creates an API tenant.
   * @throws GatewayError HG_TENANT_EXISTS when the id is the default's, a config tenant's or a stored one's.
   */
  async create(id: string, fields: TenantFields): Promise<Tenant> {
    if (this.declared(id)) throw Errors.TENANT_EXISTS(id);
    const t = this.opts.now();
    const rec: TenantRecord = { id, ...clean(fields), createdAt: t, updatedAt: t };
    if (!(await this.opts.repo.createTenant(rec))) throw Errors.TENANT_EXISTS(id);
    this.cache.delete(id);
    return fromRecord(rec);
  }

  /** Changes an API tenant; config tenants and the default are read-only. */
  async update(tenant: Tenant, fields: TenantFields): Promise<Tenant> {
    readOnly(tenant, 'change it there');
    const cur = (await this.opts.repo.getTenant(tenant.id))!;
    const next: TenantRecord = { ...cur, updatedAt: this.opts.now() };
    for (const k of ['name', 'metadata', 'quotas', 'policy'] as const) {
      if (fields[k] === null) delete next[k];
      else if (fields[k] !== undefined) (next as unknown as Record<string, unknown>)[k] = fields[k];
    }
    await this.opts.repo.putTenant(next);
    this.cache.delete(tenant.id);
    return fromRecord(next);
  }

  /**
   * Deletes an API tenant. One that still has endpoints is refused: its endpoints would otherwise
   * belong to nobody, and a tenant created again with the id would inherit them.
   * @throws GatewayError HG_TENANT_READONLY (config tenant, the default, or endpoints left)
   */
  async remove(tenant: Tenant): Promise<void> {
    readOnly(tenant, 'remove it there');
    const n = await this.endpointCount(tenant.id);
    if (n > 0) throw Errors.TENANT_READONLY(`tenant "${tenant.id}" still has ${n} endpoint${n === 1 ? '' : 's'}; delete them first`);
    await this.opts.repo.deleteTenant(tenant.id);
    this.cache.delete(tenant.id);
  }

  /** How many endpoints (config and API) belong to a tenant, as stored now. */
  async endpointCount(id: string): Promise<number> {
    return (await this.opts.endpoints.list()).filter((e) => e.tenant === id).length;
  }

  /** A tenant's endpoints and its messages within retention (one count each, no scan of messages). */
  async counts(id: string): Promise<{ endpoints: number; messages: number }> {
    return { endpoints: await this.endpointCount(id), messages: await this.opts.repo.countTenantMessages(id, retentionMs(this.opts.snapshot().egress)) };
  }

  /**
   * Checks `quotas.maxEndpoints` before an endpoint is created in the tenant.
   * @throws GatewayError HG_TENANT_QUOTA_EXCEEDED
   */
  async admitEndpoint(tenant: Tenant): Promise<void> {
    const max = tenant.quotas.maxEndpoints;
    if (max === undefined) return;
    const n = await this.endpointCount(tenant.id);
    if (n >= max) throw Errors.TENANT_QUOTA_EXCEEDED(`tenant "${tenant.id}" has ${n} endpoint${n === 1 ? '' : 's'}, its quota (maxEndpoints ${max})`);
  }

  /**
   * Checks a publish's size against `quotas.maxPayloadBytes`.
   * @throws GatewayError HG_TENANT_PAYLOAD_TOO_LARGE
   */
  admitPayload(tenant: Tenant, bytes: number): void {
    const max = tenant.quotas.maxPayloadBytes;
    if (max !== undefined && bytes > max) throw Errors.TENANT_PAYLOAD_TOO_LARGE(max);
  }

  /**
   * Counts a publish against `quotas.publishPerSec`: one counter per tenant and second in the
   * store, so every instance shares the budget.
   * @throws GatewayError HG_TENANT_RATE_LIMITED with Retry-After
   */
  async admitPublish(tenant: Tenant): Promise<void> {
    const max = tenant.quotas.publishPerSec;
    if (max === undefined) return;
    const sec = Math.floor(this.opts.now() / 1000);
    const n = await this.opts.store.incr(`dlv:tq:${tenant.id}:${sec}`, 2000);
    // The window ends within a second: Retry-After is 1 (its smallest unit). The RateLimit-* headers as the rate-limit plugin sends them.
    if (n > max) throw Errors.TENANT_RATE_LIMITED(tenant.id, max).with({ 'retry-after': '1', 'ratelimit-limit': String(max), 'ratelimit-remaining': '0', 'ratelimit-reset': '1' });
  }
}

function readOnly(tenant: Tenant, what: string): void {
  if (tenant.source === 'config') throw Errors.TENANT_READONLY(`tenant "${tenant.id}" is declared in gateway.yaml; ${what}`);
  if (tenant.source === 'implicit') throw Errors.TENANT_READONLY(`tenant "${tenant.id}" is the implicit default tenant; declare it in gateway.yaml's tenants to give it a name or quotas`);
}

/** The fields of a new record, without nulls. */
function clean(fields: TenantFields): Pick<TenantRecord, 'name' | 'metadata' | 'quotas' | 'policy'> {
  const out: Pick<TenantRecord, 'name' | 'metadata' | 'quotas' | 'policy'> = {};
  if (fields.name != null) out.name = fields.name;
  if (fields.metadata != null) out.metadata = fields.metadata;
  if (fields.quotas != null) out.quotas = fields.quotas;
  if (fields.policy != null) out.policy = fields.policy;
  return out;
}

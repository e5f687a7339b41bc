/**
 * The endpoint directory: the one owner of endpoint records. It writes the config's endpoints to
 * the store, caches lookups for the hot path, makes every change (create, update, delete, rotate
 * a secret, disable), invalidates its cache for it and raises its operational event.
 */
import type { Logger } from 'pino';
import type { Snapshot } from '../compile.js';
import { DEFAULT_TENANT, type EndpointConfig } from '../config/types.js';
import { Errors } from '../errors.js';
import type { OperationalEvents } from './operational.js';
import { deriveEndpointSecret } from './secret-keys.js';
import { generateSecret } from './sign.js';
import type { ClientTls, ClientTlsPem } from '../client-tls.js';
import type { DeliveryRepository, EndpointRecord, EndpointSecret } from './types.js';

/** How long a cached lookup stands: changes from other instances apply within a second. */
const CACHE_MS = 1000;
/** How long the secrets a derived secret replaces keep signing (as rotate-secret's default grace). */
export const DERIVED_ROTATION_GRACE_MS = 24 * 3600 * 1000;

/** The secrets that still sign at `now` (rotation leaves old ones until their grace period ends). */
export function liveSecrets(ep: EndpointRecord, now: number): EndpointSecret[] {
  return ep.secrets.filter((s) => s.expiresAt === undefined || s.expiresAt > now);
}

/** Event type patterns: `*`, exact `invoice.paid`, or a dotted prefix `invoice.*`. */
export function eventMatches(patterns: readonly string[], type: string): boolean {
  for (const p of patterns) {
    if (p === '*' || p === type) return true;
    if (p.endsWith('.*') && type.startsWith(p.slice(0, -1))) return true;
  }
  return false;
}

/** The PEM settings an endpoint record keeps (endpoints always verify, so no verification flag). */
function pemOf(tls: ClientTls | undefined): ClientTlsPem | undefined {
  if (!tls) return undefined;
  const { rejectUnauthorized: _always, ...pem } = tls;
  return pem;
}

/** An id for an endpoint created without one: `ep_` and 16 random characters. */
export function newEndpointId(): string {
  return `ep_${generateSecret().slice(6, 22).replace(/[+/=]/g, 'x')}`;
}

/** The fields the admin API may set. */
export type EndpointFields = Partial<Pick<EndpointRecord, 'url' | 'events' | 'headers' | 'tls' | 'rateLimitPerSec' | 'description' | 'disabled' | 'eventVersions' | 'policy' | 'ordering'>>;

export interface EndpointDirectoryOptions {
  repo: DeliveryRepository;
  logger: Logger;
  now: () => number;
  /** The current snapshot: its config endpoints and its SSRF guard. */
  snapshot: () => Snapshot;
  events: OperationalEvents;
  /**
   * The store keeps records across restarts (redis): a generated secret that lives only there is
   * lost with its data, which is worth a warning (`HG_ENDPOINT_SECRET_NOT_DURABLE`).
   */
  durable?: boolean;
}

export class EndpointDirectory {
  private readonly cache = new Map<string, { ep: EndpointRecord | null; at: number }>();
  private cachedList: { list: EndpointRecord[]; at: number } | undefined;
  private readonly repo: DeliveryRepository;
  private warnedNotDurable = false;

  constructor(private readonly opts: EndpointDirectoryOptions) {
    this.repo = opts.repo;
  }

  private configEndpoints() {
    return this.opts.snapshot().egress.endpoints;
  }

  /** Validates an endpoint URL against the SSRF guard (literal addresses) for API input. */
  checkUrl(url: string): void {
    this.opts.snapshot().ssrf.checkUrl(url);
  }

  /**
   * The secrets a config endpoint signs with, first the current one. `secret:` in gateway.yaml is
   * the current one. Without it, with `egress.secretKey`, the current one is derived from the key,
   * the endpoint id and its `secretVersion`, so it survives a loss of the store's data; when it
   * changes (a raised `secretVersion`, a new key) the secrets it replaces keep signing for
   * `DERIVED_ROTATION_GRACE_MS`. Without either, it is generated once and kept in the store.
   */
  private configSecrets(c: EndpointConfig, cur: EndpointRecord | undefined, t: number): EndpointSecret[] {
    const stored = cur?.secrets ?? [];
    if (c.secret) return stored.some((s) => s.secret === c.secret) ? stored : [{ secret: c.secret }];
    const key = this.opts.snapshot().egress.secretKey;
    if (key !== undefined) {
      const secret = deriveEndpointSecret(key, c.id, c.secretVersion);
      if (stored[0]?.secret === secret) return stored;
      const until = t + DERIVED_ROTATION_GRACE_MS;
      const old = cur ? liveSecrets(cur, t).filter((s) => s.secret !== secret).map((s) => ({ secret: s.secret, expiresAt: Math.min(s.expiresAt ?? Infinity, until) })) : [];
      return [{ secret }, ...old];
    }
    // A generated secret must be stable across restarts and instances: it lives in the store.
    return stored.length ? stored : [{ secret: generateSecret() }];
  }

  /** Says once that generated secrets of config endpoints do not outlive the store's data. */
  private warnIfNotDurable(): void {
    if (this.warnedNotDurable || !this.opts.durable || this.opts.snapshot().egress.secretKey !== undefined) return;
    const ids = this.configEndpoints().filter((c) => !c.secret).map((c) => c.id);
    if (ids.length === 0) return;
    this.warnedNotDurable = true;
    this.opts.logger.warn({ code: 'HG_ENDPOINT_SECRET_NOT_DURABLE', endpoints: ids }, 'config endpoints without a secret: their generated secrets live only in Redis and change if it loses its data; set egress.secretKey to derive them instead');
  }

  /** Writes the current config's endpoints to the store and removes config endpoints it no longer declares. Idempotent. */
  async sync(): Promise<void> {
    this.warnIfNotDurable();
    const list = this.configEndpoints();
    const existing = await this.repo.listEndpoints();
    const byId = new Map(existing.map((e) => [e.id, e]));
    const t = this.opts.now();
    for (const c of list) {
      const cur = byId.get(c.id);
      const secrets = this.configSecrets(c, cur, t);
      await this.repo.putEndpoint({
        id: c.id,
        tenant: c.tenant,
        url: c.url,
        events: c.events ?? ['*'],
        secrets,
        headers: c.headers,
        rateLimitPerSec: c.rateLimitPerSec,
        description: c.description,
        disabled: cur?.source === 'config' && cur.disabled && !c.disabled ? cur.disabled : c.disabled ?? false,
        disabledReason: cur?.disabledReason,
        disabledCause: cur?.source === 'config' && cur.disabled && !c.disabled ? cur.disabledCause : undefined,
        source: 'config',
        retry: c.retry,
        policy: c.policy,
        eventVersions: c.eventVersions,
        ordering: c.ordering,
        createdAt: cur?.createdAt ?? t,
        updatedAt: t,
      });
      this.cache.delete(c.id);
    }
    this.cachedList = undefined;
    const keep = new Set(list.map((c) => c.id));
    for (const e of existing) {
      if (e.source === 'config' && !keep.has(e.id)) {
        await this.repo.deleteEndpoint(e.id);
        this.cache.delete(e.id);
      }
    }
  }

  /** `get`, as a plain value while its cached lookup stands (nearly every attempt). */
  getNow(id: string): EndpointRecord | null | Promise<EndpointRecord | null> {
    const c = this.cache.get(id);
    const t = this.opts.now();
    return c && t - c.at < CACHE_MS ? c.ep : this.read(id, t);
  }

  /** An endpoint for an attempt, cached for a second. */
  async get(id: string): Promise<EndpointRecord | null> {
    return this.getNow(id);
  }

  private async read(id: string, t: number): Promise<EndpointRecord | null> {
    let ep = await this.repo.getEndpoint(id);
    if (!ep && this.configEndpoints().some((c) => c.id === id)) {
      await this.sync();
      ep = await this.repo.getEndpoint(id);
    }
    this.cache.set(id, { ep, at: t });
    return ep;
  }

  /** `all()`, as a plain value while the cached list stands (every publish but one a second). */
  allNow(): EndpointRecord[] | Promise<EndpointRecord[]> {
    const c = this.cachedList;
    const t = this.opts.now();
    return c && t - c.at < CACHE_MS ? c.list : this.readAll(t);
  }

  /** All endpoints, cached for a second like single lookups (publish reads them on every event). */
  async all(): Promise<EndpointRecord[]> {
    return this.allNow();
  }

  private async readAll(t: number): Promise<EndpointRecord[]> {
    let list = await this.repo.listEndpoints();
    // Redis lost its data (restart without persistence, failover, flush): put the endpoints
    // declared in gateway.yaml back rather than fan out to nobody until the next restart.
    const have = new Set(list.map((e) => e.id));
    if (this.configEndpoints().some((c) => !have.has(c.id))) {
      this.opts.logger.warn('config endpoints missing from the store; restoring them');
      await this.sync();
      list = await this.repo.listEndpoints();
    }
    this.cachedList = { list, at: t };
    return list;
  }

  /** An endpoint as stored now, uncached (for the admin API); a config endpoint the store lost is restored first. */
  async find(id: string): Promise<EndpointRecord | null> {
    const ep = await this.repo.getEndpoint(id);
    if (ep || !this.configEndpoints().some((c) => c.id === id)) return ep;
    await this.sync();
    return this.repo.getEndpoint(id);
  }

  /** All endpoints as stored now, uncached (for the admin API). */
  list(): Promise<EndpointRecord[]> {
    return this.repo.listEndpoints();
  }

  /** The secrets that sign now, the current one first (for `GET /admin/endpoints/{id}/secret`). */
  revealSecrets(ep: EndpointRecord): EndpointSecret[] {
    return liveSecrets(ep, this.opts.now());
  }

  /**
   * The TLS settings an attempt uses: for endpoints from gateway.yaml, the running snapshot's (read
   * from their files, and never written to the store); for API endpoints, the record's.
   */
  tlsOf(ep: EndpointRecord): ClientTlsPem | undefined {
    return ep.source === 'config' ? pemOf(this.opts.snapshot().endpointTls.get(ep.id)) : ep.tls;
  }

  /** The secrets an attempt signs with. */
  signingSecrets(ep: EndpointRecord): string[] {
    return liveSecrets(ep, this.opts.now()).map((s) => s.secret);
  }

  private changed(id: string): void {
    this.cache.delete(id);
    this.cachedList = undefined;
  }

  /**
   * Creates an API endpoint of `tenant` (the caller checked it exists) with `secret`, or a generated one.
   * @throws GatewayError HG_ENDPOINT_EXISTS when the id is taken.
   */
  async create(id: string, fields: EndpointFields & { url: string }, secret: string = generateSecret(), tenant: string = DEFAULT_TENANT): Promise<{ endpoint: EndpointRecord; secret: string }> {
    if (await this.repo.getEndpoint(id)) throw Errors.ENDPOINT_EXISTS(id);
    const t = this.opts.now();
    const endpoint: EndpointRecord = { id, tenant, url: fields.url, events: fields.events ?? ['*'], secrets: [{ secret }], headers: fields.headers, tls: fields.tls, rateLimitPerSec: fields.rateLimitPerSec, description: fields.description, disabled: fields.disabled ?? false, eventVersions: fields.eventVersions, policy: fields.policy, ordering: fields.ordering, source: 'api', createdAt: t, updatedAt: t };
    await this.repo.putEndpoint(endpoint);
    this.changed(id);
    this.opts.events.raise('endpoint.created', { endpointId: id });
    return { endpoint, secret };
  }

  /** Changes fields; enabling ends the failing streak (a fresh start), disabling records why. */
  async update(ep: EndpointRecord, fields: EndpointFields): Promise<EndpointRecord> {
    const next: EndpointRecord = { ...ep, ...fields, updatedAt: this.opts.now() };
    if (fields.disabled === false) {
      delete next.disabledReason;
      delete next.disabledCause;
      await this.repo.clearFailing(ep.id);
    }
    if (fields.disabled === true) {
      next.disabledReason = 'disabled through the admin API';
      delete next.disabledCause;
    }
    await this.repo.putEndpoint(next);
    this.changed(ep.id);
    this.opts.events.raise('endpoint.updated', { endpointId: ep.id });
    return next;
  }

  async remove(ep: EndpointRecord): Promise<void> {
    await this.repo.deleteEndpoint(ep.id);
    this.changed(ep.id);
    this.opts.events.raise('endpoint.deleted', { endpointId: ep.id });
  }

  /**
   * Signs with a new secret (`secret`, or a generated one) from now on. Every live secret keeps
   * signing during the grace period; the old ones expire at its end.
   * @throws GatewayError HG_ENDPOINT_READONLY for a config endpoint whose secret is derived from
   *   `egress.secretKey` (it rotates with `secretVersion` in gateway.yaml).
   * @returns the new secret, and when the previous ones expire (null when none stays live).
   */
  async rotateSecret(ep: EndpointRecord, graceMs: number, secret: string = generateSecret()): Promise<{ secret: string; previousExpireAt: number | null }> {
    const c = ep.source === 'config' ? this.configEndpoints().find((x) => x.id === ep.id) : undefined;
    if (c && !c.secret && this.opts.snapshot().egress.secretKey !== undefined) {
      // A secret kept only in the store would be lost with its data, and the derived one come back.
      throw Errors.ENDPOINT_READONLY(`endpoint "${ep.id}" signs with a secret derived from egress.secretKey; to rotate it, raise its secretVersion in gateway.yaml (now ${c.secretVersion}) and reload`);
    }
    const t = this.opts.now();
    const until = t + graceMs;
    const old = liveSecrets(ep, t)
      .map((s) => ({ secret: s.secret, expiresAt: Math.min(s.expiresAt ?? Infinity, until) }))
      .filter((s) => s.expiresAt > t);
    await this.repo.putEndpoint({ ...ep, secrets: [{ secret }, ...old], updatedAt: t });
    this.changed(ep.id);
    this.opts.events.raise('endpoint.updated', { endpointId: ep.id });
    return { secret, previousExpireAt: old.length ? until : null };
  }

  /** Disables an endpoint (410 Gone, a failing streak, the receiver's signal); false (a no-op) when it already is. */
  async disable(ep: EndpointRecord, reason: string, cause?: EndpointRecord['disabledCause']): Promise<boolean> {
    const cur = (await this.repo.getEndpoint(ep.id)) ?? ep;
    if (cur.disabled) return false;
    await this.repo.putEndpoint({ ...cur, disabled: true, disabledReason: reason, disabledCause: cause, updatedAt: this.opts.now() });
    this.changed(ep.id);
    this.opts.events.raise('endpoint.disabled', { endpointId: ep.id, reason });
    return true;
  }

  /** Enables an endpoint auto-recovery probed back (health/auto-recover.ts raises `endpoint.recovered`); its failing streak starts afresh. */
  async recover(ep: EndpointRecord): Promise<void> {
    const { disabledReason: _was, disabledCause: _cause, ...cur } = (await this.repo.getEndpoint(ep.id)) ?? ep;
    await this.repo.putEndpoint({ ...cur, disabled: false, updatedAt: this.opts.now() });
    await this.repo.clearFailing(ep.id);
    this.changed(ep.id);
  }
}

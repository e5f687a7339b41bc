/**
 * The effective delivery policy: which retry schedule, attempt timeout, throttle, in-flight cap
 * and payload limit apply to a delivery, resolved field by field from the layers that can set
 * them. The most specific layer with the field set wins:
 *
 *   endpoint > event type > tenant > route (retry only) > global > built-in default
 *
 * `resolvePolicy` is the pure rule; `DeliveryPolicies` gathers the layers for an endpoint from
 * the running snapshot, the event catalogue and the tenant lookup (one call per attempt).
 */
import type { Catalogue } from '../catalogue/catalogue.js';
import type { Snapshot } from '../compile.js';
import { DEFAULT_TENANT, type DeliveryPolicyConfig, type EgressConfig, type RetryPolicyConfig } from '../config/types.js';
import { DEFAULT_SCHEDULE_MS, scheduleOf, type RetryPolicy } from './retry.js';

/** The fields a policy layer can set (`$defs/deliveryPolicy`). */
export const POLICY_FIELDS = ['retry', 'attemptTimeoutMs', 'rateLimitPerSec', 'maxInFlight', 'maxPayloadBytes'] as const;
export type PolicyField = (typeof POLICY_FIELDS)[number];

/** Where an effective value came from, most specific first. */
export type PolicyLayer = 'endpoint' | 'eventType' | 'tenant' | 'route' | 'global' | 'default';

/** The resolved policy of one delivery (or of an endpoint, for the admin API). */
export interface EffectivePolicy {
  /** The retry schedule: `retry[i]` ms before attempt i+1 (see `scheduleOf`). */
  readonly retry: readonly number[];
  readonly attemptTimeoutMs: number;
  /** Attempts per second to the endpoint at most, across instances; null: no limit. */
  readonly rateLimitPerSec: number | null;
  /** Attempts in flight to the endpoint at most, per instance. */
  readonly maxInFlight: number;
  /** Largest published event body (bytes) the endpoint takes; null: only the route's body limit. */
  readonly maxPayloadBytes: number | null;
  /** The layer each field came from. */
  readonly from: Readonly<Record<PolicyField, PolicyLayer>>;
}

/** What an endpoint contributes: its `policy`, plus the older `retry` and `rateLimitPerSec` fields. */
export interface PolicySubject {
  tenant?: string;
  policy?: DeliveryPolicyConfig;
  retry?: unknown;
  rateLimitPerSec?: number;
  eventVersions?: Record<string, number>;
}

/** The layers of one resolution; absent layers set nothing. */
export interface PolicyLayers {
  /** `egress`: `egress.policy` over the older `retry`, `attemptTimeoutMs`, `maxInFlightPerEndpoint`. */
  egress: EgressConfig;
  tenant?: DeliveryPolicyConfig;
  eventType?: DeliveryPolicyConfig;
  endpoint?: PolicySubject | null;
  /** The schedule a route chose at acceptance (`StoredMessage.schedule`). */
  routeSchedule?: readonly number[];
}

/** A layer as the resolver reads it: every retry already a schedule. */
type Layer = { [K in PolicyField]?: K extends 'retry' ? readonly number[] : number };

// Policies are immutable parts of a snapshot or a stored record: each is parsed once.
const schedules = new WeakMap<object, readonly number[]>();
function scheduleFor(retry: RetryPolicyConfig | unknown): readonly number[] | undefined {
  if (!retry || typeof retry !== 'object') return undefined;
  let s = schedules.get(retry);
  if (!s) schedules.set(retry, (s = Object.freeze(scheduleOf(retry as RetryPolicy))));
  return s;
}

const EMPTY: Layer = Object.freeze({});
// Layers are derived from immutable objects (a snapshot's policies, a cached endpoint record): once each.
const policyLayers = new WeakMap<object, Layer>();
const endpointLayers = new WeakMap<object, Layer>();
const globalLayers = new WeakMap<object, Layer>();
function cached(map: WeakMap<object, Layer>, key: object, build: () => Layer): Layer {
  let l = map.get(key);
  if (!l) map.set(key, (l = build()));
  return l;
}

function layerOf(p: DeliveryPolicyConfig | undefined): Layer {
  if (!p) return EMPTY;
  return cached(policyLayers, p, () => ({ retry: scheduleFor(p.retry), attemptTimeoutMs: p.attemptTimeoutMs, rateLimitPerSec: p.rateLimitPerSec, maxInFlight: p.maxInFlight, maxPayloadBytes: p.maxPayloadBytes }));
}

/** The endpoint's layer: `policy.X` wins over the older field of the same meaning. */
function endpointLayer(ep: PolicySubject): Layer {
  return cached(endpointLayers, ep, () => {
    const l = layerOf(ep.policy);
    return { ...l, retry: l.retry ?? scheduleFor(ep.retry), rateLimitPerSec: l.rateLimitPerSec ?? ep.rateLimitPerSec };
  });
}

/** The global layer: `egress.policy.X` wins over the older egress field (whose schema default makes it always set). */
function globalLayer(egress: EgressConfig): Layer {
  return cached(globalLayers, egress, () => {
    const l = layerOf(egress.policy);
    return { ...l, retry: l.retry ?? scheduleFor(egress.retry), attemptTimeoutMs: l.attemptTimeoutMs ?? egress.attemptTimeoutMs, maxInFlight: l.maxInFlight ?? egress.maxInFlightPerEndpoint };
  });
}

const BUILT_IN: Layer = Object.freeze({ retry: DEFAULT_SCHEDULE_MS });
const NAMES: readonly PolicyLayer[] = ['endpoint', 'eventType', 'tenant', 'route', 'global', 'default'];

/**
 * Resolutions by their layers (global, endpoint, event type, tenant), each layer an immutable
 * cached object: every attempt and every publish resolves the same few combinations again.
 */
const resolutions = new WeakMap<Layer, WeakMap<Layer, WeakMap<Layer, WeakMap<Layer, EffectivePolicy>>>>();
function inner<V>(map: WeakMap<Layer, WeakMap<Layer, V>>, key: Layer): WeakMap<Layer, V> {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = new WeakMap()));
  return v;
}

/**
 * Resolves the layers field by field: the most specific layer that sets a field wins. Pure; the
 * answer is shared (frozen) between calls with the same layers.
 */
export function resolvePolicy(layers: PolicyLayers): EffectivePolicy {
  const endpoint = layers.endpoint ? endpointLayer(layers.endpoint) : EMPTY;
  const eventType = layerOf(layers.eventType);
  const tenant = layerOf(layers.tenant);
  const global = globalLayer(layers.egress);
  // A route's schedule is a stored message's array, a new object per message: not memoised.
  if (layers.routeSchedule) return resolveOrder([endpoint, eventType, tenant, { retry: layers.routeSchedule }, global, BUILT_IN]);
  const byTenant = inner(inner(inner(resolutions, global), endpoint), eventType);
  let p = byTenant.get(tenant);
  if (!p) byTenant.set(tenant, (p = resolveOrder([endpoint, eventType, tenant, EMPTY, global, BUILT_IN])));
  return p;
}

/** The layers most specific first, as `NAMES` names them. */
function resolveOrder(order: readonly Layer[]): EffectivePolicy {
  const value: Record<string, unknown> = {};
  const from = {} as Record<PolicyField, PolicyLayer>;
  for (const f of POLICY_FIELDS) {
    let i = 0;
    while (i < order.length && order[i]![f] === undefined) i++;
    value[f] = i < order.length ? order[i]![f] : null;
    from[f] = NAMES[Math.min(i, NAMES.length - 1)]!;
  }
  value.from = Object.freeze(from);
  return Object.freeze(value) as unknown as EffectivePolicy;
}

/** The policy of a tenant by id (config tenants, or a tenant directory's); undefined sets nothing. */
export type TenantPolicyLookup = (tenant: string, snap: Snapshot) => TenantLayerLookup;
type TenantLayerLookup = DeliveryPolicyConfig | undefined | Promise<DeliveryPolicyConfig | undefined>;

const configTenants = new WeakMap<Snapshot, Map<string, DeliveryPolicyConfig | undefined>>();
/** The default lookup: `tenants[].policy` of the snapshot's gateway.yaml. */
export const configTenantPolicy: TenantPolicyLookup = (tenant, snap) => {
  let m = configTenants.get(snap);
  if (!m) configTenants.set(snap, (m = new Map((snap.config.tenants ?? []).map((t) => [t.id, t.policy]))));
  return m.get(tenant);
};

/** The event type version an endpoint receives: its pin for the type, else the latest. */
export function eventTypePolicy(catalogue: Catalogue, type: string, ep: PolicySubject | null | undefined): { version: number; policy?: DeliveryPolicyConfig } | undefined {
  const entry = catalogue.get(type, ep?.eventVersions?.[type]);
  return entry && { version: entry.version, policy: entry.policy };
}

export interface DeliveryPoliciesOptions {
  snapshot: () => Snapshot;
  /** The event catalogue (config and API types), cached by its owner. */
  catalogue: () => Promise<Catalogue> | Catalogue;
  /** Tenant policies; `configTenantPolicy` unless given. */
  tenantPolicy?: TenantPolicyLookup;
}

/** Gathers an endpoint's layers from the running config, the catalogue and the tenants, and resolves them. */
export class DeliveryPolicies {
  private readonly tenantPolicy: TenantPolicyLookup;

  constructor(private readonly opts: DeliveryPoliciesOptions) {
    this.tenantPolicy = opts.tenantPolicy ?? configTenantPolicy;
  }

  /**
   * The policy of a delivery to `ep` (null: async ingress, global layer only) of an event of
   * `eventType`, with the route's schedule if it chose one. Reads the current snapshot, so a
   * reload changes the next call's answer.
   */
  async of(ep: PolicySubject | null, eventType?: string, routeSchedule?: readonly number[], snap: Snapshot = this.opts.snapshot()): Promise<EffectivePolicy> {
    return this.ofNow(ep, eventType, routeSchedule, snap);
  }

  /**
   * `of`, as a plain value when the tenant lookup and the catalogue are cached (nearly every
   * publish and attempt: no promise, no turn of the microtask queue); a promise when one of them
   * has to be read.
   */
  ofNow(ep: PolicySubject | null, eventType?: string, routeSchedule?: readonly number[], snap: Snapshot = this.opts.snapshot()): EffectivePolicy | Promise<EffectivePolicy> {
    const tenant = ep ? this.tenantPolicy(ep.tenant ?? DEFAULT_TENANT, snap) : undefined;
    const catalogue = eventType !== undefined ? this.opts.catalogue() : undefined;
    if (tenant instanceof Promise || catalogue instanceof Promise) return this.gathered(ep, eventType, routeSchedule, snap, tenant, catalogue);
    return resolvePolicy({ egress: snap.egress, endpoint: ep, routeSchedule, tenant, eventType: catalogue && eventTypePolicy(catalogue, eventType!, ep)?.policy });
  }

  private async gathered(ep: PolicySubject | null, eventType: string | undefined, routeSchedule: readonly number[] | undefined, snap: Snapshot, tenant: TenantLayerLookup, catalogue: Catalogue | Promise<Catalogue> | undefined): Promise<EffectivePolicy> {
    // Both awaited together: a failed read of one never leaves the other's failure unhandled.
    const [t, c] = await Promise.all([tenant, catalogue]);
    const layers: PolicyLayers = { egress: snap.egress, endpoint: ep, routeSchedule, tenant: t };
    if (c) layers.eventType = eventTypePolicy(c, eventType!, ep)?.policy;
    return resolvePolicy(layers);
  }

  /**
   * The admin view's policies: the endpoint's base policy (no event type layer) and one per
   * event type it subscribes to whose received version has a policy of its own.
   */
  async ofEndpoint(ep: PolicySubject & { events: string[] }, matches: (patterns: readonly string[], type: string) => boolean): Promise<{ base: EffectivePolicy; eventTypes: Map<string, { version: number; policy: EffectivePolicy }> }> {
    const snap = this.opts.snapshot();
    const base = await this.of(ep, undefined, undefined, snap);
    const catalogue = await this.opts.catalogue();
    const eventTypes = new Map<string, { version: number; policy: EffectivePolicy }>();
    for (const name of new Set(catalogue.list().map((e) => e.name))) {
      if (!matches(ep.events, name)) continue;
      const t = eventTypePolicy(catalogue, name, ep);
      if (t?.policy) eventTypes.set(name, { version: t.version, policy: await this.of(ep, name, undefined, snap) });
    }
    return { base, eventTypes };
  }
}

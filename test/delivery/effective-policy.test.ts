/** The policy resolver: precedence of every field over every layer (pure), and how the layers are gathered. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogueOf, compileEventType } from '../../gateway/catalogue/catalogue.js';
import type { DeliveryPolicyConfig, EgressConfig } from '../../gateway/config/types.js';
import { configTenantPolicy, DeliveryPolicies, POLICY_FIELDS, resolvePolicy, type PolicyField, type PolicyLayer, type PolicyLayers } from '../../gateway/delivery/effective-policy.js';
import { eventMatches } from '../../gateway/delivery/endpoints.js';
import { DEFAULT_SCHEDULE_MS } from '../../gateway/delivery/retry.js';
import { compileConfig } from '../support/snapshot.js';

/** The egress fields the resolver reads, with their schema defaults. */
const EGRESS = { attemptTimeoutMs: 15000, maxInFlightPerEndpoint: 32 } as EgressConfig;

/** A layer setting every field to a value that names it: retry [0, n s], the numbers n. */
function layer(n: number): Required<DeliveryPolicyConfig> {
  return { retry: { schedule: [0, n] }, attemptTimeoutMs: n, rateLimitPerSec: n, maxInFlight: n, maxPayloadBytes: n };
}
/** What `layer(n)` resolves to, field by field. */
function valueOf(f: PolicyField, n: number): unknown {
  return f === 'retry' ? [0, n * 1000] : n;
}

const LAYERS: [PolicyLayer, (l: PolicyLayers, n: number) => void][] = [
  ['endpoint', (l, n) => void (l.endpoint = { policy: layer(n) })],
  ['eventType', (l, n) => void (l.eventType = layer(n))],
  ['tenant', (l, n) => void (l.tenant = layer(n))],
  ['global', (l, n) => void (l.egress = { ...EGRESS, policy: layer(n) })],
];

describe('resolvePolicy precedence', () => {
  test('with nothing set: the older egress fields (schema defaults) and the built-in schedule, no rate or payload limit', () => {
    const p = resolvePolicy({ egress: EGRESS });
    assert.deepEqual(p.retry, DEFAULT_SCHEDULE_MS);
    assert.equal(p.attemptTimeoutMs, 15000);
    assert.equal(p.maxInFlight, 32);
    assert.equal(p.rateLimitPerSec, null);
    assert.equal(p.maxPayloadBytes, null);
    assert.deepEqual(p.from, { retry: 'default', attemptTimeoutMs: 'global', rateLimitPerSec: 'default', maxInFlight: 'global', maxPayloadBytes: 'default' });
  });

  // Every pair of layers, every field: the more specific layer wins, and alone each layer applies.
  for (let i = 0; i < LAYERS.length; i++) {
    const [name, set] = LAYERS[i]!;
    test(`${name} alone sets every field`, () => {
      const l: PolicyLayers = { egress: EGRESS };
      set(l, 7);
      const p = resolvePolicy(l);
      for (const f of POLICY_FIELDS) {
        assert.deepEqual(p[f], valueOf(f, 7), `${name}.${f}`);
        assert.equal(p.from[f], name, `${name}.${f} source`);
      }
    });
    for (let j = i + 1; j < LAYERS.length; j++) {
      const [lower, setLower] = LAYERS[j]!;
      test(`${name} beats ${lower} on every field`, () => {
        const l: PolicyLayers = { egress: EGRESS };
        setLower(l, 2);
        set(l, 5);
        const p = resolvePolicy(l);
        for (const f of POLICY_FIELDS) {
          assert.deepEqual(p[f], valueOf(f, 5), `${name} over ${lower}: ${f}`);
          assert.equal(p.from[f], name);
        }
      });
    }
  }

  test('field by field: each field comes from the most specific layer that sets it', () => {
    const p = resolvePolicy({
      egress: { ...EGRESS, policy: { maxPayloadBytes: 1000 } },
      tenant: { rateLimitPerSec: 10, maxPayloadBytes: 500 },
      eventType: { attemptTimeoutMs: 900 },
      endpoint: { policy: { maxInFlight: 3 } },
    });
    assert.deepEqual(
      { ...p, retry: p.retry.length },
      { retry: DEFAULT_SCHEDULE_MS.length, attemptTimeoutMs: 900, rateLimitPerSec: 10, maxInFlight: 3, maxPayloadBytes: 500, from: { retry: 'default', attemptTimeoutMs: 'eventType', rateLimitPerSec: 'tenant', maxInFlight: 'endpoint', maxPayloadBytes: 'tenant' } },
    );
  });

  test("a route's schedule (publish.retry) sits between tenant and global", () => {
    const route = [0, 111];
    const onGlobal = resolvePolicy({ egress: { ...EGRESS, retry: { schedule: [0, 9] }, policy: { retry: { schedule: [0, 8] } } }, routeSchedule: route });
    assert.deepEqual([onGlobal.retry, onGlobal.from.retry], [route, 'route']);
    const onDefault = resolvePolicy({ egress: EGRESS, routeSchedule: route });
    assert.deepEqual([onDefault.retry, onDefault.from.retry], [route, 'route']);
    const underTenant = resolvePolicy({ egress: EGRESS, tenant: { retry: { schedule: [0, 1] } }, routeSchedule: route });
    assert.deepEqual([underTenant.retry, underTenant.from.retry], [[0, 1000], 'tenant']);
    const underType = resolvePolicy({ egress: EGRESS, eventType: { retry: { schedule: [0, 2] } }, routeSchedule: route });
    assert.equal(underType.from.retry, 'eventType');
    const underEndpoint = resolvePolicy({ egress: EGRESS, endpoint: { retry: { schedule: [0, 3] } }, routeSchedule: route });
    assert.deepEqual([underEndpoint.retry, underEndpoint.from.retry], [[0, 3000], 'endpoint']);
    // The route sets only the schedule.
    assert.equal(onGlobal.from.attemptTimeoutMs, 'global');
  });

  test('the older fields: egress.retry / attemptTimeoutMs / maxInFlightPerEndpoint are the global layer; egress.policy.X wins over them', () => {
    const old = resolvePolicy({ egress: { ...EGRESS, retry: { schedule: [0, 4] }, attemptTimeoutMs: 700, maxInFlightPerEndpoint: 6 } });
    assert.deepEqual([old.retry, old.attemptTimeoutMs, old.maxInFlight], [[0, 4000], 700, 6]);
    assert.deepEqual([old.from.retry, old.from.attemptTimeoutMs, old.from.maxInFlight], ['global', 'global', 'global']);
    const both = resolvePolicy({ egress: { ...EGRESS, retry: { schedule: [0, 4] }, attemptTimeoutMs: 700, maxInFlightPerEndpoint: 6, policy: { retry: { schedule: [0, 5] }, attemptTimeoutMs: 800, maxInFlight: 2 } } });
    assert.deepEqual([both.retry, both.attemptTimeoutMs, both.maxInFlight], [[0, 5000], 800, 2]);
  });

  test("the endpoint's older retry / rateLimitPerSec apply; its policy.X wins over them", () => {
    const old = resolvePolicy({ egress: EGRESS, tenant: { rateLimitPerSec: 50, retry: { schedule: [0, 9] } }, endpoint: { retry: { baseSec: 1, attempts: 3 }, rateLimitPerSec: 5 } });
    assert.deepEqual([old.retry, old.rateLimitPerSec, old.from.retry, old.from.rateLimitPerSec], [[0, 1000, 2000], 5, 'endpoint', 'endpoint']);
    const both = resolvePolicy({ egress: EGRESS, endpoint: { retry: { schedule: [0, 1] }, rateLimitPerSec: 5, policy: { retry: { schedule: [0, 2] }, rateLimitPerSec: 9 } } });
    assert.deepEqual([both.retry, both.rateLimitPerSec], [[0, 2000], 9]);
  });

  test('a policy object is parsed once (the same schedule comes back)', () => {
    const retry = { schedule: [0, '5s', '1m'] };
    const a = resolvePolicy({ egress: EGRESS, tenant: { retry } });
    const b = resolvePolicy({ egress: EGRESS, tenant: { retry } });
    assert.deepEqual(a.retry, [0, 5000, 60000]);
    assert.equal(a.retry, b.retry);
    assert.ok(Object.isFrozen(a.retry), 'a shared schedule cannot be changed by a caller');
  });
});

describe('DeliveryPolicies', () => {
  test("gathers the tenant's policy (config tenants or a given lookup) and the received event type version's", async () => {
    const snap = await compileConfig({
      tenants: [{ id: 'acme', policy: { rateLimitPerSec: 4, attemptTimeoutMs: 4000 } }],
      eventTypes: [
        { name: 'invoice.paid', version: 1, policy: { attemptTimeoutMs: 1000 } },
        { name: 'invoice.paid', version: 2, policy: { attemptTimeoutMs: 2000 } },
        { name: 'user.created', version: 1 },
      ],
    });
    try {
      const policies = new DeliveryPolicies({ snapshot: () => snap, catalogue: () => snap.catalogue });
      const acme = { tenant: 'acme', events: ['*'] };
      assert.deepEqual(await pick(policies.of(acme)), [4, 4000, 'tenant']);
      assert.deepEqual(await pick(policies.of(acme, 'invoice.paid')), [4, 2000, 'eventType'], 'the latest version without a pin');
      assert.deepEqual(await pick(policies.of({ ...acme, eventVersions: { 'invoice.paid': 1 } }, 'invoice.paid')), [4, 1000, 'eventType'], 'the pinned version');
      assert.deepEqual(await pick(policies.of({}, 'user.created')), [null, 15000, 'global'], 'no tenant: the default tenant, which has no policy here');
      assert.equal(configTenantPolicy('nobody', snap), undefined);

      const lookedUp: string[] = [];
      const fromDirectory = new DeliveryPolicies({ snapshot: () => snap, catalogue: () => snap.catalogue, tenantPolicy: (id) => (lookedUp.push(id), { rateLimitPerSec: 77 }) });
      assert.equal((await fromDirectory.of(acme)).rateLimitPerSec, 77);
      assert.equal((await fromDirectory.of({})).rateLimitPerSec, 77);
      assert.deepEqual(lookedUp, ['acme', 'default']);
      assert.equal((await fromDirectory.of(null)).from.rateLimitPerSec, 'default', 'async ingress has no tenant');

      const view = await policies.ofEndpoint({ tenant: 'acme', events: ['invoice.*'] }, eventMatches);
      assert.equal(view.base.attemptTimeoutMs, 4000);
      assert.deepEqual([...view.eventTypes.keys()], ['invoice.paid'], 'user.created is not subscribed to, and has no policy');
      assert.deepEqual([view.eventTypes.get('invoice.paid')!.version, view.eventTypes.get('invoice.paid')!.policy.attemptTimeoutMs], [2, 2000]);
    } finally {
      await snap.dispose();
    }
  });

  test('gateway.yaml refuses a policy the resolver could not use (located, at compile)', async () => {
    for (const policy of [{ retry: { baseSec: 0, attempts: 2 } }, { retry: { baseSec: 1, maxSec: 0, attempts: 2 } }, { maxInFlight: 0 }, { rateLimitPerSec: 'fast' }, { timeout: 5 }]) {
      await assert.rejects(compileConfig({ tenants: [{ id: 'acme', policy }] }), /gateway\.yaml:\d+ at tenants\[0\]\.policy/, JSON.stringify(policy));
    }
  });

  test('API-created event types carry their policy too', async () => {
    const snap = await compileConfig({});
    try {
      const api = compileEventType({ name: 'order.shipped', version: 1, examples: [], policy: { maxPayloadBytes: 64 } }, 'api');
      const policies = new DeliveryPolicies({ snapshot: () => snap, catalogue: async () => catalogueOf([api]) });
      const p = await policies.of({}, 'order.shipped');
      assert.deepEqual([p.maxPayloadBytes, p.from.maxPayloadBytes], [64, 'eventType']);
    } finally {
      await snap.dispose();
    }
  });
});

async function pick(p: Promise<{ rateLimitPerSec: number | null; attemptTimeoutMs: number; from: { attemptTimeoutMs: PolicyLayer } }>) {
  const r = await p;
  return [r.rateLimitPerSec, r.attemptTimeoutMs, r.from.attemptTimeoutMs];
}

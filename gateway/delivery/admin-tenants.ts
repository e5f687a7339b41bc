/**
 * Admin routes of tenants: list, read, create, change and delete them, and list and create a
 * tenant's endpoints. The listener checks bodies against the specs (built from gateway.yaml's
 * `tenant` schema); the tenant directory owns the changes, the endpoint directory the endpoints.
 */
import type { AdminServer, AdminRequest } from '../admin/server.js';
import { tenantSpecs } from '../apidocs/tenant-specs.js';
import { consoleSpecs } from '../apidocs/console-specs.js';
import { portalLink } from '../admin/console-routes.js';
import { createEndpointFrom, endpointView } from './admin.js';
import type { DeliveryEngine } from './engine.js';
import type { Tenant, TenantFields } from './tenants.js';

const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());

/** A tenant as the API shows it. */
export function tenantView(t: Tenant): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name ?? null,
    metadata: t.metadata ?? {},
    quotas: { maxEndpoints: t.quotas.maxEndpoints ?? null, publishPerSec: t.quotas.publishPerSec ?? null, maxPayloadBytes: t.quotas.maxPayloadBytes ?? null },
    policy: t.policy ?? null,
    source: t.source,
    createdAt: iso(t.createdAt),
    updatedAt: iso(t.updatedAt),
  };
}

/** Registers `/admin/tenants` and `/admin/tenants/{id}/endpoints`. */
export function registerTenantAdmin(admin: AdminServer, engine: DeliveryEngine, now: () => number = Date.now): void {
  const tenants = engine.tenants;
  const mustTenant = (req: AdminRequest) => tenants.must(req.params.id!);

  admin.route('GET', '/admin/tenants', async () => ({ status: 200, body: { tenants: (await tenants.list()).map(tenantView) } }), tenantSpecs.list);

  admin.route('POST', '/admin/tenants', async (req) => {
    const { id, ...fields } = req.body as TenantFields & { id: string };
    return { status: 201, body: tenantView(await tenants.create(id, fields)) };
  }, tenantSpecs.create);

  admin.route('GET', '/admin/tenants/:id', async (req) => {
    const t = await mustTenant(req);
    return { status: 200, body: { ...tenantView(t), counts: await tenants.counts(t.id) } };
  }, tenantSpecs.get);

  admin.route('PATCH', '/admin/tenants/:id', async (req) => {
    const t = await mustTenant(req);
    return { status: 200, body: tenantView(await tenants.update(t, (req.body ?? {}) as TenantFields)) };
  }, tenantSpecs.update);

  admin.route('DELETE', '/admin/tenants/:id', async (req) => {
    const t = await mustTenant(req);
    await tenants.remove(t);
    return { status: 200, body: { deleted: t.id } };
  }, tenantSpecs.remove);

  admin.route('POST', '/admin/tenants/:id/portal-link', async (req) => {
    const t = await mustTenant(req);
    const { expiresInSec = 3600 } = (req.body ?? {}) as { expiresInSec?: number };
    return { status: 201, body: portalLink(admin, t.id, expiresInSec, now()), headers: { 'cache-control': 'no-store' } };
  }, consoleSpecs.portalLink);

  admin.route('GET', '/admin/tenants/:id/endpoints', async (req) => {
    const t = await mustTenant(req);
    const list = (await engine.endpoints.list()).filter((e) => e.tenant === t.id).sort((a, b) => a.id.localeCompare(b.id));
    const health = await Promise.all(list.map((e) => engine.health.view(e)));
    return { status: 200, body: { endpoints: list.map((e, i) => endpointView(e, now(), engine.endpoints.tlsOf(e), health[i])) } };
  }, tenantSpecs.listEndpoints);

  admin.route('POST', '/admin/tenants/:id/endpoints', (req) => createEndpointFrom(engine, req.body, req.params.id!), tenantSpecs.createEndpoint);
}

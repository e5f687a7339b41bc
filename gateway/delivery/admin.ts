import { redactSecrets } from '../security/redact.js';
import type { AdminReply, AdminRequest, AdminServer } from '../admin/server.js';
import { X509Certificate } from 'node:crypto';
import { checkClientTls, ClientTlsError, type ClientTlsPem } from '../client-tls.js';
import { adminSpecs } from '../apidocs/admin-schemas.js';
import { gatewaySchema } from '../config/load.js';
import { DEFAULT_TENANT, type DeliveryPolicyConfig } from '../config/types.js';
import { Errors } from '../errors.js';
import { endpointHeadersProblem } from './endpoint-headers.js';
import { checkEventVersions } from './admin-event-types.js';
import { POLICY_FIELDS, type EffectivePolicy, type PolicyField } from './effective-policy.js';
import { bulkReply, parseRange, parseTime, selectFailed } from './admin-bulk.js';
import { eventMatches, liveSecrets, newEndpointId, type EndpointDirectory, type EndpointFields } from './endpoints.js';
import type { DeliveryEngine } from './engine.js';
import { overallStatus } from './repository.js';
import type { EndpointHealthView } from './health/endpoint-health.js';
import { healthJson, recordHealth } from './health/view.js';
import type { DeliveryStatus, EndpointRecord, StoredMessage } from './types.js';

const bad = Errors.ADMIN_BAD_INPUT;
// The same rules as endpoints declared in gateway.yaml.
const ENDPOINT = gatewaySchema().$defs.endpoint.properties;
const ID = new RegExp(ENDPOINT.id.pattern as string);
const SECRET = new RegExp(ENDPOINT.secret.pattern as string);
const TENANT = new RegExp(gatewaySchema().$defs.tenantId.pattern as string);
const STATUSES = new Set(['pending', 'delivered', 'failed']);

function obj(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a JSON object body');
  return body as Record<string, unknown>;
}

function only(body: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw bad(`unknown field "${k}" (allowed: ${allowed.join(', ')})`);
}

/**
 * An endpoint as the API shows it: secrets are not listed (create and rotate show the new one,
 * `GET /admin/endpoints/{id}/secret` the live ones), and a password in the URL is redacted as
 * `/admin/config` redacts it (the stored URL keeps it: deliveries need it).
 */
export function endpointView(ep: EndpointRecord, now = Date.now(), tls: ClientTlsPem | undefined = ep.tls, health: EndpointHealthView = recordHealth(ep)): Record<string, unknown> {
  return {
    id: ep.id,
    tenant: ep.tenant,
    url: redactSecrets(ep.url) as string,
    events: ep.events,
    headers: ep.headers ?? {},
    tls: tlsView(tls),
    rateLimitPerSec: ep.rateLimitPerSec ?? null,
    eventVersions: ep.eventVersions ?? {},
    policy: ep.policy ?? null,
    ordering: ep.ordering ?? 'none',
    description: ep.description ?? null,
    state: ep.disabled ? 'disabled' : 'enabled',
    disabledReason: ep.disabled ? ep.disabledReason ?? null : null,
    health: healthJson(health),
    source: ep.source,
    secrets: liveSecrets(ep, now).map((s) => ({ expiresAt: s.expiresAt ? new Date(s.expiresAt).toISOString() : null })),
    createdAt: new Date(ep.createdAt).toISOString(),
    updatedAt: new Date(ep.updatedAt).toISOString(),
  };
}

/** A resolved policy as the API shows it: each field's value and the layer it came from. */
function policyView(p: EffectivePolicy): Record<PolicyField, { value: unknown; from: string }> {
  const out = {} as Record<PolicyField, { value: unknown; from: string }>;
  for (const f of POLICY_FIELDS) out[f] = { value: f === 'retry' ? [...p.retry] : p[f], from: p.from[f] };
  return out;
}

/** An endpoint's TLS settings as the API shows them: what is set, never the key and never the PEM. */
function tlsView(tls: ClientTlsPem | undefined): Record<string, unknown> | null {
  if (!tls) return null;
  let clientCertificate: Record<string, unknown> | null = null;
  if (tls.cert) {
    const c = new X509Certificate(tls.cert);
    clientCertificate = { subject: c.subject, issuer: c.issuer, validTo: new Date(c.validTo).toISOString(), fingerprint256: c.fingerprint256 };
  }
  return { servername: tls.servername ?? null, ca: tls.ca !== undefined, clientCertificate };
}

const TLS_FIELDS = ['ca', 'cert', 'key', 'servername'];

/** `tls` in a request body: PEM text, checked as gateway.yaml's files are; null clears it (PATCH). */
function checkTls(v: unknown): ClientTlsPem | undefined {
  if (v === null) return undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('"tls" must be an object { ca?, cert?, key?, servername? } of PEM text');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!TLS_FIELDS.includes(k)) throw bad(`unknown field "tls.${k}" (allowed: ${TLS_FIELDS.join(', ')})`);
    if (typeof o[k] !== 'string' || o[k] === '') throw bad(`"tls.${k}" must be a non-empty string`);
  }
  try {
    const { rejectUnauthorized: _always, ...pem } = checkClientTls(o as ClientTlsPem, true, { ca: '"tls.ca"', cert: '"tls.cert"', key: '"tls.key"' });
    return pem;
  } catch (err) {
    if (err instanceof ClientTlsError) throw bad(err.message);
    throw err;
  }
}

function checkFields(endpoints: EndpointDirectory, b: Record<string, unknown>, partial: boolean): EndpointFields {
  const out: EndpointFields = {};
  if (b.url !== undefined || !partial) {
    if (typeof b.url !== 'string') throw bad('"url" must be a string');
    // HG_ENDPOINT_URL_INVALID (not an absolute http(s) URL) or HG_ENDPOINT_URL_BLOCKED (SSRF guard),
    // as the README's admin table and error catalogue say.
    endpoints.checkUrl(b.url);
    out.url = b.url;
  }
  if (b.events !== undefined) {
    if (!Array.isArray(b.events) || b.events.length === 0 || !b.events.every((e) => typeof e === 'string' && e.length > 0 && e.length <= 256)) throw bad('"events" must be a non-empty array of event type patterns');
    out.events = b.events as string[];
  }
  if (b.headers !== undefined) {
    if (!b.headers || typeof b.headers !== 'object' || Array.isArray(b.headers) || !Object.values(b.headers).every((v) => typeof v === 'string')) throw bad('"headers" must be an object of strings');
    const problem = endpointHeadersProblem(b.headers as Record<string, unknown>);
    if (problem) throw bad(`"headers": ${problem}`);
    out.headers = b.headers as Record<string, string>;
  }
  if (b.tls !== undefined) out.tls = checkTls(b.tls);
  if (b.rateLimitPerSec !== undefined && b.rateLimitPerSec !== null) {
    if (!Number.isInteger(b.rateLimitPerSec) || (b.rateLimitPerSec as number) < 1) throw bad('"rateLimitPerSec" must be a positive integer');
    out.rateLimitPerSec = b.rateLimitPerSec as number;
  }
  if (b.description !== undefined) {
    if (typeof b.description !== 'string' || b.description.length > 1000) throw bad('"description" must be a string of at most 1000 characters');
    out.description = b.description;
  }
  if (b.disabled !== undefined) {
    if (typeof b.disabled !== 'boolean') throw bad('"disabled" must be a boolean');
    out.disabled = b.disabled;
  }
  if (b.eventVersions !== undefined) out.eventVersions = checkEventVersions(b.eventVersions);
  if (b.ordering !== undefined) {
    if (b.ordering !== 'none' && b.ordering !== 'per-key') throw bad('"ordering" must be "none" or "per-key"');
    out.ordering = b.ordering;
  }
  // The admin listener checked it against gateway.yaml's deliveryPolicy rules; null clears it.
  if (b.policy !== undefined) out.policy = b.policy === null ? undefined : (b.policy as DeliveryPolicyConfig);
  return out;
}

/** TLS settings only mean something for an https URL; refusing them elsewhere avoids a false sense of security. */
function checkTlsScheme(url: string, tls: ClientTlsPem | undefined): void {
  if (tls && !url.startsWith('https://')) throw bad('"tls" needs an https:// URL');
}

/** A secret given in the body (create, rotate), or undefined to have one generated. */
function checkSecret(v: unknown): string | undefined {
  if (v !== undefined && (typeof v !== 'string' || !SECRET.test(v))) throw bad('"secret" must be whsec_ followed by base64 of at least 24 bytes');
  return v;
}

/**
 * Creates an API endpoint from a POST body (`/admin/endpoints`, or `/admin/tenants/{id}/endpoints`
 * with the path's tenant): the tenant must exist and have room under its maxEndpoints quota.
 */
export async function createEndpointFrom(engine: DeliveryEngine, body: unknown, pathTenant?: string): Promise<AdminReply> {
  const endpoints = engine.endpoints;
  const b = obj(body);
  only(b, ['id', 'url', 'events', 'secret', 'headers', 'tls', 'rateLimitPerSec', 'description', 'disabled', 'eventVersions', 'policy', 'ordering', ...(pathTenant === undefined ? ['tenant'] : [])]);
  const id = b.id === undefined ? newEndpointId() : b.id;
  if (typeof id !== 'string' || !ID.test(id)) throw bad('"id" must be 1-64 letters, digits, dots, dashes or underscores');
  if (b.tenant !== undefined && (typeof b.tenant !== 'string' || !TENANT.test(b.tenant))) throw bad('"tenant" must be a tenant id (1-64 letters, digits, dots, dashes or underscores)');
  const chosen = checkSecret(b.secret);
  const fields = checkFields(endpoints, b, false);
  checkTlsScheme(fields.url!, fields.tls);
  const tenant = await engine.tenants.must(pathTenant ?? (b.tenant as string | undefined) ?? DEFAULT_TENANT);
  await engine.tenants.admitEndpoint(tenant);
  const { endpoint, secret } = await endpoints.create(id, { ...fields, url: fields.url! }, chosen, tenant.id);
  // The secret is shown once, here.
  return { status: 201, body: { ...endpointView(endpoint, endpoint.createdAt), secret } };
}

/**
 * Registers the endpoint and message routes on the admin listener. The routes check input and
 * map HTTP onto the endpoint directory and the engine, which own the changes and their events.
 */
export function registerDeliveryAdmin(admin: AdminServer, engine: DeliveryEngine, now: () => number = Date.now): void {
  const repo = engine.repo;
  const endpoints = engine.endpoints;
  const mustEndpoint = async (id: string): Promise<EndpointRecord> => {
    const ep = await endpoints.find(id);
    if (!ep) throw Errors.ENDPOINT_NOT_FOUND(id);
    return ep;
  };
  // Portal tokens' scope checks read the tenant of what a call addresses.
  admin.tenantLookup = {
    endpointTenant: async (id) => (await endpoints.find(id))?.tenant,
    messageTenant: async (id) => (await repo.getMessage(id))?.tenant,
  };
  const mustMessage = async (id: string): Promise<StoredMessage> => {
    const m = await repo.getMessage(id);
    if (!m) throw Errors.MESSAGE_NOT_FOUND(id);
    return m;
  };

  admin.route('GET', '/admin/endpoints', async (req): Promise<AdminReply> => {
    const tenant = req.url.searchParams.get('tenant');
    const list = (await endpoints.list()).filter((e) => tenant === null || e.tenant === tenant);
    list.sort((a, b) => a.id.localeCompare(b.id));
    const health = await Promise.all(list.map((e) => engine.health.view(e)));
    return { status: 200, body: { endpoints: list.map((e, i) => endpointView(e, now(), endpoints.tlsOf(e), health[i])) } };
  }, adminSpecs.listEndpoints);

  admin.route('POST', '/admin/endpoints', (req: AdminRequest): Promise<AdminReply> => createEndpointFrom(engine, req.body), adminSpecs.createEndpoint);

  admin.route('GET', '/admin/endpoints/:id', async (req) => {
    const ep = await mustEndpoint(req.params.id!);
    const { base, eventTypes } = await engine.policies.ofEndpoint(ep, eventMatches);
    const effectivePolicy = { ...policyView(base), eventTypes: Object.fromEntries([...eventTypes].map(([name, t]) => [name, { version: t.version, ...policyView(t.policy) }])) };
    return { status: 200, body: { ...endpointView(ep, now(), endpoints.tlsOf(ep), await engine.health.view(ep)), effectivePolicy } };
  }, adminSpecs.getEndpoint);

  admin.route('PATCH', '/admin/endpoints/:id', async (req) => {
    const ep = await mustEndpoint(req.params.id!);
    const b = obj(req.body);
    only(b, ['url', 'events', 'headers', 'tls', 'rateLimitPerSec', 'description', 'disabled', 'eventVersions', 'policy', 'ordering']);
    if (ep.source === 'config' && Object.keys(b).some((k) => k !== 'disabled')) {
      throw Errors.ENDPOINT_READONLY(`endpoint "${ep.id}" is declared in gateway.yaml; change it there (only "disabled" can be set here)`);
    }
    const fields = checkFields(endpoints, b, true);
    checkTlsScheme(fields.url ?? ep.url, 'tls' in fields ? fields.tls : ep.tls);
    const next = await endpoints.update(ep, fields);
    return { status: 200, body: endpointView(next, now(), endpoints.tlsOf(next), await engine.health.view(next)) };
  }, adminSpecs.updateEndpoint);

  admin.route('DELETE', '/admin/endpoints/:id', async (req) => {
    const ep = await mustEndpoint(req.params.id!);
    if (ep.source === 'config') throw Errors.ENDPOINT_READONLY(`endpoint "${ep.id}" is declared in gateway.yaml; remove it there`);
    await endpoints.remove(ep);
    return { status: 200, body: { deleted: ep.id } };
  }, adminSpecs.deleteEndpoint);

  admin.route('POST', '/admin/endpoints/:id/rotate-secret', async (req) => {
    const ep = await mustEndpoint(req.params.id!);
    const b = obj(req.body);
    only(b, ['graceSec', 'secret']);
    const grace = b.graceSec === undefined ? 86400 : b.graceSec;
    if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0 || grace > 7 * 86400) throw bad('"graceSec" must be a number of seconds between 0 and 604800 (7 days)');
    const { secret, previousExpireAt } = await endpoints.rotateSecret(ep, grace * 1000, checkSecret(b.secret));
    return { status: 200, body: { id: ep.id, secret, previousSecretsExpireAt: previousExpireAt === null ? null : new Date(previousExpireAt).toISOString() } };
  }, adminSpecs.rotateSecret);

  admin.route('POST', '/admin/endpoints/:id/recover', async (req) => {
    const ep = await mustEndpoint(req.params.id!);
    const b = obj(req.body);
    only(b, ['since', 'until', 'dryRun']);
    const range = parseRange(b, now());
    return bulkReply(engine, await selectFailed(engine, [ep.id], range), range, b.dryRun === true, { endpoint: ep.id });
  }, adminSpecs.recoverEndpoint);

  admin.route('GET', '/admin/messages', async (req) => {
    const q = req.url.searchParams;
    for (const k of q.keys()) if (!['status', 'endpoint', 'tenant', 'eventType', 'since', 'until', 'limit', 'cursor'].includes(k)) throw bad(`unknown query parameter "${k}"`);
    const eventType = q.get('eventType') ?? undefined;
    const since = listTime(q.get('since'), 'since');
    const until = listTime(q.get('until'), 'until');
    const status = q.get('status') ?? undefined;
    if (status !== undefined && !STATUSES.has(status)) throw bad('"status" must be pending, delivered or failed');
    const limitRaw = q.get('limit');
    const limit = limitRaw === null ? 50 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw bad('"limit" must be an integer from 1 to 500');
    const tenant = q.get('tenant') ?? undefined;
    // Any tenant id, existing or not: a deleted tenant's messages stay listable until their retention ends.
    if (tenant !== undefined && !TENANT.test(tenant)) throw bad('"tenant" must be a tenant id');
    const { items, nextCursor } = await repo.listMessages({ status: status as DeliveryStatus | undefined, endpoint: q.get('endpoint') ?? undefined, tenant, limit, cursor: q.get('cursor') ?? undefined });
    const messages = [];
    for (const id of items) {
      const m = await repo.getMessage(id);
      if (!m) continue;
      // Filters on what only the message says: the page may hold fewer than `limit`; nextCursor goes on.
      if (eventType !== undefined && !(m.eventType !== undefined && eventMatches([eventType], m.eventType))) continue;
      if ((since !== undefined && m.createdAt < since) || (until !== undefined && m.createdAt > until)) continue;
      const deliveries = await repo.getStatuses(id);
      messages.push({ id, kind: m.kind, tenant: m.tenant, eventType: m.eventType ?? null, createdAt: new Date(m.createdAt).toISOString(), status: overallStatus(deliveries), deliveries });
    }
    return { status: 200, body: { messages, nextCursor } };
  }, adminSpecs.listMessages);

  admin.route('GET', '/admin/messages/:id', async (req) => {
    const m = await mustMessage(req.params.id!);
    const deliveries = await repo.getStatuses(m.id);
    const attempts = await repo.getAttempts(m.id);
    const byTarget: Record<string, unknown> = {};
    for (const t of m.targets) byTarget[t] = { status: deliveries[t] ?? 'pending', attempts: attempts.filter((a) => a.target === t).map((a) => ({ ...a, at: new Date(a.at).toISOString() })) };
    return {
      status: 200,
      body: {
        id: m.id,
        kind: m.kind,
        tenant: m.tenant,
        eventType: m.eventType ?? null,
        createdAt: new Date(m.createdAt).toISOString(),
        orderingKey: m.orderingKey ?? null,
        status: overallStatus(deliveries),
        payload: m.bodyEncoding === 'utf8' ? safeJson(m.body) : null,
        request: m.kind === 'ingress' ? { method: m.method, path: m.path, bodyBytes: Buffer.from(m.body, 'base64').length } : undefined,
        deliveries: byTarget,
      },
    };
  }, adminSpecs.getMessage);

  admin.route('POST', '/admin/messages/:id/retry', async (req) => {
    const m = await mustMessage(req.params.id!);
    const b = obj(req.body);
    only(b, ['endpoint']);
    let targets: string[];
    if (b.endpoint !== undefined) {
      if (typeof b.endpoint !== 'string') throw bad('"endpoint" must be an endpoint id');
      if (!m.targets.includes(b.endpoint)) throw bad(`endpoint "${b.endpoint}" is not a target of message ${m.id} (targets: ${m.targets.join(', ') || 'none'})`);
      targets = [b.endpoint];
    } else {
      const st = await repo.getStatuses(m.id);
      targets = m.targets.filter((t) => st[t] === 'failed');
    }
    await engine.requeue(m, targets);
    return { status: 202, body: { id: m.id, queued: targets.length, targets } };
  }, adminSpecs.retryMessage);
}

/** `since` / `until` of the message list: ISO 8601 text or epoch milliseconds. */
function listTime(v: string | null, field: string): number | undefined {
  if (v === null) return undefined;
  return parseTime(/^\d+$/.test(v) ? Number(v) : v, field);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

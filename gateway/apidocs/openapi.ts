import type { RegisteredAdminRoute } from '../admin/server.js';
import type { Snapshot } from '../compile.js';
import { embedSchema, envelopeSchema, eventKey, WEBHOOK_HEADERS, type DocumentedEventType } from './event-types.js';
import { errorResponses, errorSchemas, jsonContent, type Json } from './openapi-common.js';
import { ingressPaths } from './openapi-ingress.js';

/** What the OpenAPI document is generated from. */
export interface ApiDocsInput {
  snapshot: Snapshot;
  /** The admin listener's routes (`AdminServer.registeredRoutes()`). */
  adminRoutes: RegisteredAdminRoute[];
  /** The catalogue (`documentedEventTypes(snapshot)`). */
  eventTypes: DocumentedEventType[];
  /** hookgate's version, for `info.version`. */
  version: string;
}

// Any admin call may need the store: while Redis is down it is 503 HG_STORE_UNAVAILABLE.
const ADMIN_IMPLIED = ['HG_ADMIN_UNAUTHORIZED', 'HG_INTERNAL', 'HG_STORE_UNAVAILABLE'];

/** `/admin/endpoints/:id` → `/admin/endpoints/{id}`. */
export function adminOpenApiPath(pattern: string): string {
  return pattern.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function adminOperation(r: RegisteredAdminRoute): Json {
  const spec = r.spec;
  const params: Json[] = [...r.pattern.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  const query = spec?.query as { properties?: Record<string, Json>; required?: string[] } | undefined;
  for (const [name, schema] of Object.entries(query?.properties ?? {})) {
    const { description, ...rest } = schema;
    params.push({ name, in: 'query', required: query?.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest });
  }
  const responses: Record<string, Json> = {};
  for (const [status, res] of Object.entries(spec?.responses ?? { 200: { description: 'Undocumented answer.' } })) {
    responses[status] = res.contentType
      ? { description: res.description, content: { [res.contentType]: { schema: { type: 'string' } } } }
      : { description: res.description, ...(res.schema ? { content: jsonContent(res.schema) } : {}) };
  }
  const input = spec?.body || spec?.query || params.length ? ['HG_ADMIN_BAD_INPUT'] : [];
  // Who may call it: write tokens always; read tokens GETs that reveal no secret; portal tokens routes with a scope.
  const readable = r.method === 'GET' && !spec?.revealsSecret;
  const roles = ['write', ...(readable ? ['read'] : []), ...(spec?.portal ? ['portal'] : [])];
  const refusals = [...(readable ? [] : ['HG_ADMIN_FORBIDDEN']), 'HG_PORTAL_SCOPE'];
  Object.assign(responses, errorResponses([...ADMIN_IMPLIED, ...refusals, ...input, ...(spec?.errors ?? [])]));
  const op: Json = {
    operationId: `admin.${r.method.toLowerCase()}.${r.pattern.split('/').filter(Boolean).map((s) => s.replace(/^:/, 'by-')).join('.')}`,
    summary: spec?.summary ?? `${r.method} ${r.pattern}`,
    ...(spec?.description ? { description: spec.description } : {}),
    tags: ['admin'],
    ...(params.length ? { parameters: params } : {}),
    // An absent body is checked as {}: it is required exactly when {} would be refused.
    ...(spec?.body ? { requestBody: { required: ((spec.body.required as string[] | undefined)?.length ?? 0) > 0, content: jsonContent(spec.body) } } : {}),
    responses,
    security: [{ adminToken: [] }],
    'x-hookgate-roles': roles,
    ...(spec?.portal ? { 'x-hookgate-portal-scope': spec.portal.tenantFrom } : {}),
  };
  return op;
}

function adminPaths(routes: RegisteredAdminRoute[], server: Json | undefined): Record<string, Json> {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const path = adminOpenApiPath(r.pattern);
    paths[path] ??= server ? { servers: [server] } : {};
    paths[path]![r.method.toLowerCase()] = adminOperation(r);
  }
  return paths;
}

function webhooks(types: DocumentedEventType[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const t of types) {
    const key = eventKey(t);
    const data = t.schema ? { $ref: `#/components/schemas/${key}` } : { description: 'Any JSON value (the type has no schema).' };
    out[key] = {
      post: {
        operationId: `webhook.${key}`,
        summary: `${t.name} (version ${t.version})`,
        description: [t.description ?? '', t.deprecated ? `Deprecated${t.deprecated.sunset ? `; sunset ${t.deprecated.sunset}` : ''}.` : '', 'Sent by hookgate to each subscribed endpoint, signed per Standard Webhooks.'].filter(Boolean).join(' '),
        tags: ['webhooks'],
        parameters: WEBHOOK_HEADERS.map((h) => ({ name: h.name, in: 'header', required: true, description: h.description, schema: h.schema })),
        requestBody: {
          required: true,
          content: jsonContent(envelopeSchema(t, data), t.examples?.length ? { examples: Object.fromEntries(t.examples.map((e, i) => [`example${i + 1}`, { value: { type: t.name, timestamp: '2026-01-01T00:00:00.000Z', data: e } }])) } : {}),
        },
        responses: {
          '2XX': { description: 'Accepted: any 2xx ends the delivery.' },
          410: { description: 'Gone: the endpoint is disabled at once.' },
          default: { description: 'Anything else (and redirects, timeouts) is retried on the retry schedule; `Retry-After` is honoured.' },
        },
        ...(t.deprecated ? { deprecated: true, 'x-sunset': t.deprecated.sunset ?? null } : {}),
      },
    };
  }
  return out;
}

/** The catalogue's type schemas under `components.schemas`, keyed `<name>.v<version>`, their references rebased. */
export function typeSchemas(types: DocumentedEventType[]): Json {
  const out: Json = {};
  for (const t of types) if (t.schema) out[eventKey(t)] = embedSchema(t.schema, `#/components/schemas/${eventKey(t)}`);
  return out;
}

function serverOf(l: { host: string; port: number }, description: string): Json {
  const host = l.host.includes(':') ? `[${l.host}]` : l.host;
  return { url: `http://${host}:${l.port}`, description };
}

/**
 * One OpenAPI 3.1 document for a running config: the admin API (from the declarations its routes
 * were registered with), every ingress route, and the catalogue's event types as `webhooks`.
 */
export function buildOpenApi(input: ApiDocsInput): Json {
  const { snapshot, adminRoutes, eventTypes, version } = input;
  const cfg = snapshot.config;
  const schemas: Json = { ...errorSchemas(), ...typeSchemas(eventTypes) };
  const ingress = ingressPaths(snapshot, eventTypes, schemas);
  const adminServer = cfg.admin ? serverOf(cfg.admin, 'Admin listener') : undefined;
  return {
    openapi: '3.1.0',
    info: {
      title: 'hookgate',
      version,
      description: `Generated from the running config (generation ${snapshot.id}): the ingress routes of the main listener, the admin API (bearer token) and the event types hookgate sends as webhooks.`,
    },
    servers: [serverOf(cfg.listen, 'Main listener')],
    tags: [
      { name: 'ingress', description: 'Routes of gateway.yaml on the main listener.' },
      { name: 'probes', description: 'Health and readiness.' },
      { name: 'admin', description: 'The admin API (admin listener, `Authorization: Bearer <admin.token>`).' },
      { name: 'webhooks', description: 'Events hookgate delivers to subscribed endpoints.' },
    ],
    paths: { ...ingress.paths, ...adminPaths(adminRoutes, adminServer) },
    webhooks: webhooks(eventTypes),
    components: {
      schemas,
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token (`admin.token`).' },
        ...ingress.securitySchemes,
      },
    },
  };
}

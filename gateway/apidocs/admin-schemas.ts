import type { AdminRouteSpec } from '../admin/server.js';
import { PORTAL_SCOPES } from '../admin/access.js';
import { gatewaySchema } from '../config/load.js';
import { effectivePolicyView, endpointPolicyInput } from './policy-schemas.js';
import { bulkSpecs } from './admin-bulk-schemas.js';
import { endpointHealthView } from './health-schemas.js';

/**
 * The admin API's request and response schemas, declared once: the admin listener checks input
 * against them and the OpenAPI document shows them. Endpoint fields reuse the rules of endpoints
 * declared in gateway.yaml (config/gateway.schema.json), without its defaults: the API never fills
 * in fields the caller did not send.
 */

type Schema = Record<string, unknown>;

function withoutDefaults(schema: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'default') continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? withoutDefaults(v as Schema) : v;
  }
  return out;
}

const CONFIG_ENDPOINT = gatewaySchema().$defs.endpoint.properties as Record<string, Schema>;
const field = (name: string, extra: Schema = {}): Schema => ({ ...withoutDefaults(CONFIG_ENDPOINT[name]!), ...extra });

const ENDPOINT_FIELDS = {
  // No pattern here: the handler's own check answers HG_ENDPOINT_URL_INVALID / _BLOCKED.
  url: { type: 'string', minLength: 1, description: 'Absolute http(s) URL the deliveries are POSTed to (else 400 HG_ENDPOINT_URL_INVALID; a blocked address is HG_ENDPOINT_URL_BLOCKED).' },
  events: field('events', { minItems: 1, items: { type: 'string', minLength: 1, maxLength: 256 }, description: 'Event type patterns: `invoice.paid`, `invoice.*`, `*`.' }),
  headers: field('headers', { description: 'Extra headers sent with every delivery.' }),
  rateLimitPerSec: { type: ['integer', 'null'], minimum: 1, description: 'Deliveries per second at most, across instances (null: no limit).' },
  description: field('description', { maxLength: 1000 }),
  disabled: field('disabled', { description: 'Disable (true) or re-enable (false) the endpoint.' }),
  tls: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: { ca: { type: 'string', minLength: 1 }, cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1, writeOnly: true }, servername: { type: 'string', minLength: 1 } },
    description: 'PEM text: a CA to verify the endpoint with, a client certificate and key to present, a TLS server name; null clears it (PATCH). The key is never shown again.',
  },
  eventVersions: {
    type: 'object',
    propertyNames: withoutDefaults(gatewaySchema().$defs.eventTypeName as Schema),
    additionalProperties: { type: 'integer', minimum: 1 },
    description: 'Catalogue version pinned per event type, e.g. {"invoice.paid": 2}: the endpoint receives only that version.',
  },
  policy: endpointPolicyInput,
  ordering: field('ordering', { description: 'per-key: messages published with the same `orderingKey` reach the endpoint one at a time, in publish order (a failing one blocks its key only; see the skip route); none (the default): no order.' }),
};

const SECRET = field('secret', { description: 'A `whsec_` secret of your own; generated when omitted.' });
const ISO_TIME = { type: 'string', format: 'date-time' };
const NULLABLE_TIME = { type: ['string', 'null'], format: 'date-time' };

/** Body of POST /admin/endpoints. */
export const createEndpointBody: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: { id: field('id', { description: 'Endpoint id; generated when omitted.' }), tenant: { ...(gatewaySchema().$defs.tenantId as Schema), description: 'The owning tenant (must exist, else 404 HG_TENANT_NOT_FOUND); the default tenant when omitted.' }, ...ENDPOINT_FIELDS, secret: SECRET },
};

/** Body of PATCH /admin/endpoints/{id}. */
export const updateEndpointBody: Schema = { type: 'object', additionalProperties: false, properties: ENDPOINT_FIELDS };

/** Body of POST /admin/endpoints/{id}/rotate-secret. */
export const rotateSecretBody: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    graceSec: { type: 'number', minimum: 0, maximum: 604800, description: 'How long the previous secrets keep signing (default 86400).' },
    secret: SECRET,
  },
};

/** Body of POST /admin/messages/{id}/retry. */
export const retryBody: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { endpoint: { type: 'string', description: 'Retry (or resend) for this target only.' } },
};

/** Query of GET /admin/messages. */
export const listMessagesQuery: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { enum: ['pending', 'delivered', 'failed'] },
    endpoint: { type: 'string', description: 'Only messages with this target.' },
    tenant: { type: 'string', description: "Only this tenant's messages (walked on the tenant's own index)." },
    eventType: { type: 'string', description: 'Only events of this type or pattern (`invoice.*`); a page may then hold fewer than `limit`.' },
    since: { type: 'string', description: 'Only messages created at or after this time (ISO 8601 or epoch ms); a page may then hold fewer than `limit`.' },
    until: { type: 'string', description: 'Only messages created at or before this time.' },
    limit: { type: 'integer', minimum: 1, maximum: 500, description: 'Page size (default 50).' },
    cursor: { type: 'string', description: 'The `nextCursor` of the previous page.' },
  },
};

/** An endpoint as the API shows it (secrets never listed). */
export const endpointView: Schema = {
  type: 'object',
  required: ['id', 'tenant', 'url', 'events', 'headers', 'state', 'health', 'source', 'secrets', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string', description: 'The owning tenant.' },
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string' } },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    rateLimitPerSec: { type: ['integer', 'null'] },
    description: { type: ['string', 'null'] },
    tls: { type: ['object', 'null'], description: 'Whether a CA is set, the TLS server name, and the client certificate\'s subject, fingerprint and expiry (never the key).' },
    eventVersions: { type: 'object', additionalProperties: { type: 'integer' } },
    policy: { type: ['object', 'null'], description: "The endpoint's own policy layer (config `policy`, or set here)." },
    ordering: { enum: ['none', 'per-key'], description: 'Ordered delivery per `orderingKey`.' },
    state: { enum: ['enabled', 'disabled'] },
    disabledReason: { type: ['string', 'null'] },
    health: endpointHealthView,
    source: { enum: ['config', 'api'] },
    secrets: { type: 'array', items: { type: 'object', required: ['expiresAt'], properties: { expiresAt: NULLABLE_TIME } } },
    createdAt: ISO_TIME,
    updatedAt: ISO_TIME,
  },
};

const DELIVERY_STATUS = { enum: ['pending', 'delivered', 'failed'] };
const attempt: Schema = {
  type: 'object',
  required: ['target', 'attempt', 'at', 'status'],
  properties: {
    target: { type: 'string' },
    attempt: { type: 'integer', minimum: 1 },
    at: ISO_TIME,
    status: { type: 'integer', description: 'HTTP status; 0 for a network error or timeout.' },
    durationMs: { type: 'number' },
    error: { type: 'string' },
    response: { type: 'string', description: 'First 4 KB of the answer.' },
    request: {
      type: 'object',
      required: ['url', 'headers'],
      description: 'What was sent (the body is the message payload): the URL, password redacted, and the headers, secret-looking values redacted. Absent on attempts recorded before it was kept.',
      properties: { url: { type: 'string' }, headers: { type: 'object', additionalProperties: { type: 'string' } } },
    },
    responseHeaders: { type: 'object', additionalProperties: { type: 'string' }, description: "The response's headers (first 2 KB, secret-looking values redacted)." },
  },
};

/** Responses, by route. */
export const responses = {
  endpointList: { type: 'object', required: ['endpoints'], properties: { endpoints: { type: 'array', items: endpointView } } },
  endpoint: endpointView,
  endpointWithPolicy: { allOf: [endpointView], required: ['effectivePolicy'], properties: { effectivePolicy: effectivePolicyView } },
  endpointWithSecret: { allOf: [endpointView], required: ['secret'], properties: { secret: { type: 'string', description: 'Shown once, here.' } } },
  deleted: { type: 'object', required: ['deleted'], properties: { deleted: { type: 'string' } } },
  rotated: { type: 'object', required: ['id', 'secret', 'previousSecretsExpireAt'], properties: { id: { type: 'string' }, secret: { type: 'string' }, previousSecretsExpireAt: NULLABLE_TIME } },
  messageList: {
    type: 'object',
    required: ['messages', 'nextCursor'],
    properties: {
      messages: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'kind', 'tenant', 'eventType', 'createdAt', 'status', 'deliveries'],
          properties: { id: { type: 'string' }, kind: { enum: ['event', 'ingress'] }, tenant: { type: 'string' }, eventType: { type: ['string', 'null'] }, createdAt: ISO_TIME, status: DELIVERY_STATUS, deliveries: { type: 'object', additionalProperties: DELIVERY_STATUS } },
        },
      },
      nextCursor: { type: ['string', 'null'] },
    },
  },
  message: {
    type: 'object',
    required: ['id', 'kind', 'tenant', 'eventType', 'createdAt', 'status', 'deliveries'],
    properties: {
      id: { type: 'string' },
      kind: { enum: ['event', 'ingress'] },
      tenant: { type: 'string', description: "The message's tenant (ingress: the default tenant)." },
      eventType: { type: ['string', 'null'] },
      createdAt: ISO_TIME,
      orderingKey: { type: ['string', 'null'], description: 'The `orderingKey` it was published with.' },
      status: DELIVERY_STATUS,
      payload: { description: 'The event as published (events), or the request body when it is text.' },
      request: { type: 'object', properties: { method: { type: 'string' }, path: { type: 'string' }, bodyBytes: { type: 'integer' } } },
      deliveries: { type: 'object', additionalProperties: { type: 'object', required: ['status', 'attempts'], properties: { status: DELIVERY_STATUS, attempts: { type: 'array', items: attempt } } } },
    },
  },
  retried: {
    type: 'object',
    required: ['id', 'queued', 'targets'],
    properties: { id: { type: 'string' }, queued: { type: 'integer', minimum: 0, description: 'Deliveries queued again.' }, targets: { type: 'array', items: { type: 'string' }, description: 'Their targets.' } },
  },
  reloaded: {
    type: 'object',
    required: ['reloaded', 'generation', 'routes', 'restartRequired'],
    properties: { reloaded: { const: true }, generation: { type: 'integer' }, routes: { type: 'integer' }, restartRequired: { type: 'array', items: { type: 'string' } } },
  },
  routes: {
    type: 'object',
    required: ['routes'],
    properties: {
      generation: { type: 'integer' },
      routes: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'path', 'action', 'plugins'],
          properties: {
            name: { type: 'string' },
            path: { type: 'string' },
            methods: { type: ['array', 'null'], items: { type: 'string' } },
            host: { type: ['string', 'null'] },
            headers: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
            action: { enum: ['proxy', 'respond', 'deliver', 'publish'] },
            upstream: { type: ['string', 'null'] },
            websocket: { type: 'boolean' },
            plugins: { type: 'array', items: { type: 'string' } },
            deprecated: { type: ['object', 'null'], properties: { sunset: { type: 'string' }, link: { type: 'string' } } },
          },
        },
      },
    },
  },
  config: { type: 'object', description: 'The running gateway.yaml with defaults applied and secrets, keys, tokens and URL passwords replaced by "[redacted]".' },
  document: { type: 'object', description: 'The generated document.' },
} satisfies Record<string, Schema>;

const json = (description: string, schema: Schema) => ({ description, schema });

/**
 * Every admin route's declaration, by name: what it takes, what it answers and which error codes
 * it can give. Passed to `admin.route(...)` where each route is registered.
 */
export const adminSpecs = {
  reload: { summary: 'Reload the config', description: 'Compiles gateway.yaml beside the running config and swaps it in; an invalid config is refused whole and the old one keeps serving.', responses: { 200: json('Reloaded', responses.reloaded) }, errors: ['HG_CONFIG_INVALID', 'HG_STOPPING'] },
  routes: { summary: 'The compiled routes', responses: { 200: json('The routes of the running config', responses.routes) } },
  config: { summary: 'The running config, secrets redacted', responses: { 200: json('The running config', responses.config) } },
  metrics: { summary: 'Prometheus metrics', responses: { 200: { description: 'Prometheus text exposition', contentType: 'text/plain' } } },
  listEndpoints: { portal: PORTAL_SCOPES.query, summary: 'List endpoints', description: 'Secrets are never listed.', query: { type: 'object', additionalProperties: false, properties: { tenant: { type: 'string', description: "Only this tenant's endpoints." } } }, responses: { 200: json('All endpoints, by id', responses.endpointList) } },
  createEndpoint: { portal: PORTAL_SCOPES.body, summary: 'Create an endpoint', body: createEndpointBody, responses: { 201: json('Created; the secret is shown once, here', responses.endpointWithSecret) }, errors: ['HG_ENDPOINT_EXISTS', 'HG_ENDPOINT_URL_BLOCKED', 'HG_TENANT_NOT_FOUND', 'HG_TENANT_QUOTA_EXCEEDED'] },
  getEndpoint: { portal: PORTAL_SCOPES.endpointParam, summary: 'One endpoint', responses: { 200: json('The endpoint: state, live secrets\' expiry and its effective delivery policy', responses.endpointWithPolicy) }, errors: ['HG_ENDPOINT_NOT_FOUND'] },
  updateEndpoint: { portal: PORTAL_SCOPES.endpointParam, summary: 'Change an endpoint', description: 'Endpoints declared in gateway.yaml: only `disabled`.', body: updateEndpointBody, responses: { 200: json('The endpoint as changed', responses.endpoint) }, errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_ENDPOINT_READONLY', 'HG_ENDPOINT_URL_BLOCKED'] },
  deleteEndpoint: { portal: PORTAL_SCOPES.endpointParam, summary: 'Delete an API-created endpoint', responses: { 200: json('Deleted', responses.deleted) }, errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_ENDPOINT_READONLY'] },
  rotateSecret: { portal: PORTAL_SCOPES.endpointParam, summary: "Rotate an endpoint's secret", description: 'During the grace period every live secret signs, all in the one header. A config endpoint whose secret is derived from `egress.secretKey` rotates with its `secretVersion` in gateway.yaml instead (409 HG_ENDPOINT_READONLY).', body: rotateSecretBody, responses: { 200: json('The new secret', responses.rotated) }, errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_ENDPOINT_READONLY'] },
  recoverEndpoint: bulkSpecs.recoverEndpoint,
  listMessages: { portal: PORTAL_SCOPES.query, summary: 'List messages, newest first', query: listMessagesQuery, responses: { 200: json('One page of messages', responses.messageList) } },
  getMessage: { portal: PORTAL_SCOPES.messageParam, summary: 'One message with its attempts per target', responses: { 200: json('The message', responses.message) }, errors: ['HG_MESSAGE_NOT_FOUND'] },
  retryMessage: { portal: PORTAL_SCOPES.messageParam, summary: 'Queue a message again', description: 'All its failed deliveries, or `{"endpoint": id}` for one (even if delivered: a resend).', body: retryBody, responses: { 202: json('Queued', responses.retried) }, errors: ['HG_MESSAGE_NOT_FOUND'] },
  openapi: { portal: PORTAL_SCOPES.none, summary: 'This OpenAPI 3.1 document', description: 'Generated from the running config: the admin API, every ingress route and the catalogue event types as webhooks.', responses: { 200: { description: 'OpenAPI 3.1 document', schema: responses.document } } },
  asyncapi: { summary: 'The AsyncAPI 3.0 document of the event catalogue', description: 'One channel per event type and version; hookgate sends them to subscribed endpoints.', responses: { 200: { description: 'AsyncAPI 3.0 document', schema: responses.document } } },
} satisfies Record<string, AdminRouteSpec>;

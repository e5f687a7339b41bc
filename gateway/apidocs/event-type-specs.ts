import type { AdminRouteSpec } from '../admin/server.js';
import { PORTAL_SCOPES } from '../admin/access.js';
import { gatewaySchema } from '../config/load.js';

/**
 * The declarations of the event catalogue's admin routes (gateway/delivery/admin-event-types.ts):
 * the admin listener checks bodies against them, the handlers check them again with defaults
 * applied, and the OpenAPI document shows them. One source, built from gateway.schema.json's
 * `eventType`, with its `$defs` references inlined (a document cannot resolve the config
 * schema's `#/$defs/...`).
 */
type Schema = Record<string, unknown>;
const json = (description: string, schema: Schema) => ({ description, schema });

const DEFS = gatewaySchema().$defs as Record<string, Schema>;

/** A copy of `schema` with every `#/$defs/X` reference replaced by X itself (the config schema's are not recursive). */
export function inlineDefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(inlineDefs);
  if (!v || typeof v !== 'object') return v;
  const o = v as Schema;
  if (typeof o.$ref === 'string' && o.$ref.startsWith('#/$defs/')) return inlineDefs(DEFS[o.$ref.slice('#/$defs/'.length)]);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, inlineDefs(x)]));
}

const TYPE = inlineDefs(DEFS.eventType) as Schema & { properties: Record<string, Schema> };
const { schemaFile: _serverPathsOnlyInConfig, ...API_TYPE_PROPS } = TYPE.properties;

/** The body of `POST /admin/event-types`: an `eventTypes[]` entry of gateway.yaml, without `schemaFile`. */
export const eventTypeCreateBody: Schema = { type: 'object', additionalProperties: false, required: ['name'], properties: API_TYPE_PROPS };
/** The body of `PATCH /admin/event-types/{name}`: the changeable fields; null removes an optional one. */
export const eventTypePatchBody: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    description: { anyOf: [TYPE.properties.description, { type: 'null' }] },
    schema: { type: ['object', 'boolean', 'null'] },
    deprecated: { anyOf: [TYPE.properties.deprecated, { type: 'null' }] },
    policy: { anyOf: [TYPE.properties.policy, { type: 'null' }] },
    // No default here: a PATCH without examples keeps them.
    examples: { type: 'array' },
  },
};
/** The body of `POST /admin/endpoints/{id}/send-example`. */
export const sendExampleBody: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['eventType'],
  properties: { eventType: inlineDefs({ $ref: '#/$defs/eventTypeName' }), version: { type: 'integer', minimum: 1 } },
};

const eventType: Schema = {
  type: 'object',
  required: ['name', 'version', 'source'],
  properties: {
    name: { type: 'string' },
    version: { type: 'integer', minimum: 1 },
    description: { type: ['string', 'null'] },
    schema: { description: 'JSON Schema 2020-12 of `data`.' },
    deprecated: { type: ['object', 'null'] },
    examples: { type: 'array' },
    policy: { type: ['object', 'null'], description: 'The delivery policy layer of this version (README: Delivery policy layers).' },
    source: { enum: ['config', 'api'] },
  },
};

const VERSION = 'Name a version with `?version=N`; without it, the latest (PATCH and DELETE must name one when the type has several).';

export const eventTypeSpecs = {
  list: { portal: PORTAL_SCOPES.none, summary: 'List event types', description: 'The catalogue: types from gateway.yaml (read-only) and types created here.', responses: { 200: json('Every type and version', { type: 'object', required: ['eventTypes'], properties: { eventTypes: { type: 'array', items: eventType } } }) } },
  create: {
    summary: 'Create an event type',
    body: eventTypeCreateBody,
    description: 'A schema that does not compile, or an example that breaks it, is 400.',
    responses: { 201: json('Created', eventType) },
    errors: ['HG_EVENT_TYPE_EXISTS'],
  },
  get: { portal: PORTAL_SCOPES.none, summary: 'One event type', description: VERSION, responses: { 200: json('The type', eventType) }, errors: ['HG_EVENT_TYPE_NOT_FOUND'] },
  update: { summary: 'Change an event type', body: eventTypePatchBody, description: `${VERSION} Types from gateway.yaml are read-only.`, responses: { 200: json('The type as changed', eventType) }, errors: ['HG_EVENT_TYPE_NOT_FOUND', 'HG_EVENT_TYPE_READONLY'] },
  remove: { summary: 'Delete an API-created event type', description: VERSION, responses: { 200: json('Deleted', { type: 'object', required: ['deleted', 'version'], properties: { deleted: { type: 'string' }, version: { type: 'integer' } } }) }, errors: ['HG_EVENT_TYPE_NOT_FOUND', 'HG_EVENT_TYPE_READONLY'] },
  sendExample: { portal: PORTAL_SCOPES.endpointParam,
    summary: "Send an event type's first example to one endpoint",
    body: sendExampleBody,
    description: 'Without `version`: the endpoint\'s pin, else the latest. Delivered through the normal signed path, to this endpoint only.',
    responses: { 202: json('Queued', { type: 'object', required: ['id', 'endpoint', 'eventType', 'version'], properties: { id: { type: 'string' }, endpoint: { type: 'string' }, eventType: { type: 'string' }, version: { type: 'integer' } } }) },
    errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_EVENT_TYPE_NOT_FOUND'],
  },
} satisfies Record<string, AdminRouteSpec>;

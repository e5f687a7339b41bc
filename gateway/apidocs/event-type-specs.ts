import type { AdminRouteSpec } from '../admin/server.js';

/**
 * The declarations of the event catalogue's admin routes (gateway/delivery/admin-event-types.ts),
 * for the OpenAPI document. Their bodies are checked by that module against gateway.schema.json's
 * `eventType` definition (it carries `$defs` of its own, which an OpenAPI document cannot hold
 * inline), so the declarations describe the body in words and declare no body schema.
 */
type Schema = Record<string, unknown>;
const json = (description: string, schema: Schema) => ({ description, schema });

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
    source: { enum: ['config', 'api'] },
  },
};

const VERSION = 'Name a version with `?version=N`; without it, the latest (PATCH and DELETE must name one when the type has several).';

export const eventTypeSpecs = {
  list: { summary: 'List event types', description: 'The catalogue: types from gateway.yaml (read-only) and types created here.', responses: { 200: json('Every type and version', { type: 'object', required: ['eventTypes'], properties: { eventTypes: { type: 'array', items: eventType } } }) } },
  create: {
    summary: 'Create an event type',
    description: 'Body: `{name, version? (1), description?, schema?, deprecated?: {sunset}, examples?}`; a schema that does not compile, or an example that breaks it, is 400.',
    responses: { 201: json('Created', eventType) },
    errors: ['HG_EVENT_TYPE_EXISTS'],
  },
  get: { summary: 'One event type', description: VERSION, responses: { 200: json('The type', eventType) }, errors: ['HG_EVENT_TYPE_NOT_FOUND'] },
  update: { summary: 'Change an event type', description: `${VERSION} Types from gateway.yaml are read-only.`, responses: { 200: json('The type as changed', eventType) }, errors: ['HG_EVENT_TYPE_NOT_FOUND', 'HG_EVENT_TYPE_READONLY'] },
  remove: { summary: 'Delete an API-created event type', description: VERSION, responses: { 200: json('Deleted', { type: 'object', required: ['deleted', 'version'], properties: { deleted: { type: 'string' }, version: { type: 'integer' } } }) }, errors: ['HG_EVENT_TYPE_NOT_FOUND', 'HG_EVENT_TYPE_READONLY'] },
  sendExample: {
    summary: "Send an event type's first example to one endpoint",
    description: 'Body: `{eventType, version?}` (default: the endpoint\'s pin, else the latest). Delivered through the normal signed path, to this endpoint only.',
    responses: { 202: json('Queued', { type: 'object', required: ['id', 'endpoint', 'eventType', 'version'], properties: { id: { type: 'string' }, endpoint: { type: 'string' }, eventType: { type: 'string' }, version: { type: 'integer' } } }) },
    errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_EVENT_TYPE_NOT_FOUND'],
  },
} satisfies Record<string, AdminRouteSpec>;

import type { AdminRouteSpec } from '../admin/server.js';
import { PORTAL_SCOPES } from '../admin/access.js';
import { gatewaySchema } from '../config/load.js';
import { createEndpointBody, responses } from './admin-schemas.js';
import { endpointPolicyInput } from './policy-schemas.js';

/**
 * The declarations of the tenant admin routes (gateway/delivery/admin-tenants.ts): the admin
 * listener checks bodies against them and the OpenAPI document shows them. Built from
 * gateway.schema.json's `tenant`; `policy` is a `deliveryPolicy` layer, as an endpoint's.
 */
type Schema = Record<string, unknown>;
const json = (description: string, schema: Schema) => ({ description, schema });

const DEFS = gatewaySchema().$defs as Record<string, Schema>;
const PROPS = (DEFS.tenant as { properties: Record<string, Schema> }).properties;
const ID = DEFS.tenantId as Schema;
const orNull = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });

/** A tenant's delivery policy layer in POST / PATCH bodies (null clears it). */
const TENANT_POLICY: Schema = { ...endpointPolicyInput, description: "The tenant's delivery policy layer (retry, attemptTimeoutMs, rateLimitPerSec, maxInFlight, maxPayloadBytes) for all its endpoints; endpoint and event type layers win over it. null clears it." };

/** Body of POST /admin/tenants. */
export const tenantCreateBody: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: ID, name: PROPS.name!, metadata: PROPS.metadata!, quotas: PROPS.quotas!, policy: TENANT_POLICY },
};

/** Body of PATCH /admin/tenants/{id}: null removes a field. */
export const tenantPatchBody: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { name: orNull(PROPS.name!), metadata: orNull(PROPS.metadata!), quotas: orNull(PROPS.quotas!), policy: TENANT_POLICY },
};

/** Body of POST /admin/tenants/{id}/endpoints: an endpoint, its tenant the path's. */
const { tenant: _fromThePath, ...ENDPOINT_PROPS } = (createEndpointBody as { properties: Record<string, Schema> }).properties;
export const tenantEndpointBody: Schema = { ...createEndpointBody, properties: ENDPOINT_PROPS };

const NULLABLE_TIME = { type: ['string', 'null'], format: 'date-time' };
const tenant: Schema = {
  type: 'object',
  required: ['id', 'name', 'metadata', 'quotas', 'policy', 'source'],
  properties: {
    id: { type: 'string' },
    name: { type: ['string', 'null'] },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    quotas: {
      type: 'object',
      properties: { maxEndpoints: { type: ['integer', 'null'] }, publishPerSec: { type: ['integer', 'null'] }, maxPayloadBytes: { type: ['integer', 'null'] } },
    },
    policy: { type: ['object', 'null'], description: "The tenant's own policy layer (gateway.yaml `policy`, or set here)." },
    source: { enum: ['config', 'api', 'implicit'], description: 'config: gateway.yaml (read-only); implicit: the default tenant (read-only); api: created here.' },
    createdAt: NULLABLE_TIME,
    updatedAt: NULLABLE_TIME,
  },
};
const tenantWithCounts: Schema = {
  allOf: [tenant],
  required: ['counts'],
  properties: { counts: { type: 'object', required: ['endpoints', 'messages'], properties: { endpoints: { type: 'integer', minimum: 0 }, messages: { type: 'integer', minimum: 0, description: 'Messages within retention.' } } } },
};

export const tenantSpecs = {
  list: { summary: 'List tenants', description: 'The default tenant, tenants from gateway.yaml (read-only) and tenants created here.', responses: { 200: json('Every tenant, by id', { type: 'object', required: ['tenants'], properties: { tenants: { type: 'array', items: tenant } } }) } },
  create: { summary: 'Create a tenant', body: tenantCreateBody, responses: { 201: json('Created', tenant) }, errors: ['HG_TENANT_EXISTS'] },
  get: { portal: PORTAL_SCOPES.tenantParam, summary: 'One tenant, with its counts', responses: { 200: json('The tenant', tenantWithCounts) }, errors: ['HG_TENANT_NOT_FOUND'] },
  update: { summary: 'Change an API-created tenant', body: tenantPatchBody, responses: { 200: json('The tenant as changed', tenant) }, errors: ['HG_TENANT_NOT_FOUND', 'HG_TENANT_READONLY'] },
  remove: { summary: 'Delete an API-created tenant', description: 'Refused (409 HG_TENANT_READONLY) while the tenant has endpoints.', responses: { 200: json('Deleted', responses.deleted) }, errors: ['HG_TENANT_NOT_FOUND', 'HG_TENANT_READONLY'] },
  listEndpoints: { portal: PORTAL_SCOPES.tenantParam, summary: "A tenant's endpoints", responses: { 200: json('Its endpoints, by id', responses.endpointList) }, errors: ['HG_TENANT_NOT_FOUND'] },
  createEndpoint: { portal: PORTAL_SCOPES.tenantParam, summary: 'Create an endpoint in a tenant', body: tenantEndpointBody, responses: { 201: json('Created; the secret is shown once, here', responses.endpointWithSecret) }, errors: ['HG_TENANT_NOT_FOUND', 'HG_TENANT_QUOTA_EXCEEDED', 'HG_ENDPOINT_EXISTS', 'HG_ENDPOINT_URL_BLOCKED'] },
} satisfies Record<string, AdminRouteSpec>;

import type { AdminRouteSpec } from '../admin/server.js';
import { PORTAL_SCOPES } from '../admin/access.js';
import { gatewaySchema } from '../config/load.js';

/**
 * Request and response schemas of the bulk admin operations on failed deliveries: recover (one
 * endpoint) and the bulk retry (by status, event type, tenant, endpoint). Both take a time range
 * and a dry run, and answer the same shape: a count first (`dryRun`), or what was queued.
 */

type Schema = Record<string, unknown>;

const ISO_TIME = { type: 'string', format: 'date-time' };
const COUNT = { type: 'integer', minimum: 0 };
const time = (what: string): Schema => ({ type: ['string', 'integer'], description: `${what}: ISO 8601 text (\`2026-11-24T00:00:00Z\`, \`2026-11-24\`) or epoch milliseconds.` });
const RANGE = {
  since: time('Deliveries that failed at or after this time'),
  until: time('...and at or before this time (default: now)'),
  dryRun: { type: 'boolean', description: 'Count only: answer `{dryRun: true, count}` and queue nothing.' },
};

/** Body of POST /admin/endpoints/{id}/recover. */
export const recoverBody: Schema = { type: 'object', additionalProperties: false, required: ['since'], properties: RANGE };

/** Body of POST /admin/messages/retry. */
export const bulkRetryBody: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['status', 'since'],
  properties: {
    status: { enum: ['failed'], description: 'Which deliveries: `failed` (pending ones are already queued).' },
    eventType: { type: 'string', pattern: '^(\\*|[A-Za-z0-9_.:-]{1,256}(\\.\\*)?)$', description: 'Only messages of this event type, or of a pattern: `invoice.*`.' },
    tenant: { ...(gatewaySchema().$defs.tenantId as Schema), description: 'Only messages of this tenant (`default` for messages that name none).' },
    endpoint: { type: 'string', minLength: 1, description: 'Only deliveries to this endpoint (or async-ingress target `up_<upstream>`).' },
    ...RANGE,
  },
};

const range = { since: ISO_TIME, until: ISO_TIME };
const scope = { endpoint: { type: 'string', description: 'recover: the endpoint.' } };
const counted: Schema = {
  type: 'object',
  required: ['dryRun', 'count', 'messages', 'since', 'until'],
  properties: { ...scope, ...range, dryRun: { const: true }, count: { ...COUNT, description: 'Deliveries (message × target) the call would queue.' }, messages: { ...COUNT, description: 'Distinct messages among them.' } },
};
const queued: Schema = {
  type: 'object',
  required: ['queued', 'messages', 'since', 'until'],
  properties: { ...scope, ...range, queued: { ...COUNT, description: 'Deliveries (message × target) queued again.' }, messages: { ...COUNT, description: 'Distinct messages among them.' } },
};

const answers = {
  200: { description: 'Dry run: what the call would queue (nothing was queued)', schema: counted },
  202: { description: 'Queued', schema: queued },
};
const BOUND = 'At most 10,000 deliveries per call: a range that matches more is refused whole with 422 `HG_ADMIN_BULK_TOO_LARGE` (dry run too); narrow it and repeat. Attempt numbers continue; each delivery gets a fresh retry schedule.';

export const bulkSpecs = {
  recoverEndpoint: {
    portal: PORTAL_SCOPES.endpointParam,
    summary: "Queue again an endpoint's failed messages in a time range",
    description: `The endpoint's deliveries that are failed now and failed between \`since\` and \`until\`. ${BOUND}`,
    body: recoverBody,
    responses: answers,
    errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_ADMIN_BULK_TOO_LARGE'],
  },
  retryMessages: {
    portal: PORTAL_SCOPES.body,
    summary: 'Queue again the failed deliveries that match a filter',
    description: `Deliveries that are failed now and failed between \`since\` and \`until\`, narrowed by \`eventType\`, \`tenant\` and \`endpoint\`. ${BOUND}`,
    body: bulkRetryBody,
    responses: answers,
    errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_ADMIN_BULK_TOO_LARGE'],
  },
} satisfies Record<string, AdminRouteSpec>;

import type { AdminRouteSpec } from '../admin/server.js';
import { PORTAL_SCOPES } from '../admin/access.js';

/**
 * Declarations of the admin routes the web console reads (whoami, portal links, reload history,
 * the request log and the traffic stats): checked by the admin listener, shown in the OpenAPI
 * document like every other admin route.
 */
type Schema = Record<string, unknown>;
const json = (description: string, schema: Schema) => ({ description, schema });
const ISO = { type: 'string', format: 'date-time' };
const COUNT = { type: 'integer', minimum: 0 };
const time = (what: string): Schema => ({ type: ['string', 'integer'], description: `${what}: ISO 8601 text or epoch milliseconds.` });

const whoami: Schema = {
  type: 'object',
  required: ['role'],
  properties: {
    role: { enum: ['write', 'read', 'portal'] },
    name: { type: 'string', description: "The token's `name` in admin.tokens, when it has one." },
    tenant: { type: 'string', description: 'Portal tokens: the one tenant they may see.' },
    expiresAt: { ...ISO, description: 'Portal tokens: when they stop working.' },
  },
};

const portalLinkBody: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { expiresInSec: { type: 'integer', minimum: 60, maximum: 86400, description: 'How long the link works (default 3600).' } },
};

const portalLink: Schema = {
  type: 'object',
  required: ['url', 'token', 'expiresAt'],
  properties: {
    url: { type: 'string', description: 'The console in portal mode; the token is in the fragment, so it never reaches a server log.' },
    token: { type: 'string', pattern: '^hgp_', description: 'The signed portal token (a bearer token for the admin API, scoped to the tenant).' },
    expiresAt: ISO,
  },
};

const reload: Schema = {
  type: 'object',
  required: ['at', 'trigger', 'ok'],
  properties: {
    at: ISO,
    trigger: { type: 'string', description: 'startup, file change, admin, signal, ...' },
    ok: { type: 'boolean' },
    generation: { type: 'integer', description: 'The generation it made (ok only).' },
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
};

const requestEntry: Schema = {
  type: 'object',
  required: ['id', 'at', 'method', 'path', 'route', 'status', 'durationMs', 'clientIp', 'headers'],
  properties: {
    id: { type: 'string', description: 'The request id (X-Request-Id).' },
    at: ISO,
    method: { type: 'string' },
    path: { type: 'string', description: 'The path, without the query string.' },
    route: { type: ['string', 'null'], description: 'null: no route matched.' },
    status: { type: 'integer', description: '499: the client left before the answer.' },
    durationMs: { type: 'number', minimum: 0 },
    clientIp: { type: 'string' },
    errorCode: { type: ['string', 'null'] },
    messageId: { type: ['string', 'null'], description: 'The message the request queued (deliver/publish).' },
    headers: { type: 'object', description: 'As received, credentials and signatures redacted as in the access log.' },
    body: { type: 'string', description: 'Only on routes whose log plugin has `captureBody: true`: the first 16 KB, as UTF-8 text.' },
    bodyTruncated: { type: 'boolean' },
  },
};

const requestsQuery: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    route: { type: 'string', description: 'Only this route (`(unmatched)` for requests no route matched).' },
    status: { type: 'string', pattern: '^([1-5][0-9][0-9]|[1-5]xx)$', description: 'A status (`502`) or a class (`5xx`).' },
    since: time('At or after this time'),
    until: time('At or before this time'),
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'At most this many (default 100).' },
  },
};

const routeStats: Schema = {
  type: 'object',
  required: ['requests', 'errors', 'p50Ms', 'p99Ms'],
  properties: { requests: COUNT, errors: { ...COUNT, description: 'Answers with status 500 or above.' }, p50Ms: { type: ['number', 'null'] }, p99Ms: { type: ['number', 'null'] } },
};

const stats: Schema = {
  type: 'object',
  required: ['bucketSec', 'shared', 'buckets'],
  properties: {
    bucketSec: { type: 'integer' },
    shared: { type: 'boolean', description: 'True when the counts are every instance\'s (the redis store), false for this process only.' },
    buckets: {
      type: 'array',
      items: {
        type: 'object',
        required: ['at', 'routes', 'deliveries', 'lagSeconds', 'queue'],
        properties: {
          at: { ...ISO, description: 'The start of the bucket.' },
          routes: { type: 'object', additionalProperties: routeStats },
          deliveries: { type: 'object', required: ['succeeded', 'failed'], properties: { succeeded: COUNT, failed: COUNT } },
          lagSeconds: { type: ['number', 'null'], description: 'The oldest due delivery\'s age (the largest over tenants), sampled in the bucket.' },
          queue: { type: ['object', 'null'], properties: { waiting: COUNT, delayed: COUNT, failed: COUNT } },
        },
      },
    },
  },
};

export const consoleSpecs = {
  whoami: { summary: 'Who this token is', description: 'The role of the bearer token: write, read or portal (with its tenant and expiry).', portal: PORTAL_SCOPES.none, responses: { 200: json('The principal', whoami) } },
  portalLink: {
    summary: 'A signed link to the customer portal of a tenant',
    description: 'Write tokens only. The token is HMAC-SHA256 signed (console.portal.signingKey, or a key derived from admin.token) and works until `expiresAt`; it sees only this tenant.',
    body: portalLinkBody,
    responses: { 201: json('The link', portalLink) },
    errors: ['HG_TENANT_NOT_FOUND'],
  },
  reloads: {
    summary: 'The last reload attempts',
    description: 'The last 50, newest first: at start, on a file change, from the admin API or a signal; failures carry their error code.',
    responses: { 200: json('The running generation and the reloads', { type: 'object', required: ['generation', 'reloads'], properties: { generation: { type: ['integer', 'null'] }, reloads: { type: 'array', items: reload } } }) },
  },
  requests: {
    summary: 'The recent ingress requests, newest first',
    description: 'A ring buffer of the last `console.requestLog.size` requests of this instance.',
    query: requestsQuery,
    responses: { 200: json('The requests that match', { type: 'object', required: ['requests', 'total'], properties: { requests: { type: 'array', items: requestEntry }, total: { ...COUNT, description: 'How many match (before `limit`).' } } }) },
  },
  request: { summary: 'One recent ingress request', responses: { 200: json('The request', requestEntry) }, errors: ['HG_REQUEST_NOT_FOUND'] },
  stats: {
    summary: 'Traffic and delivery time series',
    description: 'Per 10 s bucket over the last `minutes` (1..60, default 60): requests, errors and p50/p99 latency per route, deliveries, lag and queue depth. With the redis store the counts of every instance are merged.',
    query: { type: 'object', additionalProperties: false, properties: { minutes: { type: 'integer', minimum: 1, maximum: 60 } } },
    responses: { 200: json('The buckets, oldest first', stats) },
  },
} satisfies Record<string, AdminRouteSpec>;

/**
 * Schemas of delivery policy in the admin API: an endpoint's own `policy` layer (input, the
 * rules of gateway.yaml's `$defs/deliveryPolicy`) and the resolved `effectivePolicy` that
 * `GET /admin/endpoints/{id}` shows (gateway/delivery/effective-policy.ts).
 */
import { inlineDefs } from './event-type-specs.js';

type Schema = Record<string, unknown>;

/** `policy` in POST / PATCH /admin/endpoints: a `deliveryPolicy` layer; null clears it (PATCH). */
export const endpointPolicyInput: Schema = {
  anyOf: [inlineDefs({ $ref: '#/$defs/deliveryPolicy' }) as Schema, { type: 'null' }],
  description: "The endpoint's delivery policy layer (retry, attemptTimeoutMs, rateLimitPerSec, maxInFlight, maxPayloadBytes); the most specific layer wins. null clears it.",
};

const LAYER = { enum: ['endpoint', 'eventType', 'tenant', 'route', 'global', 'default'], description: 'The layer the value came from.' };
const resolved = (value: Schema): Schema => ({ type: 'object', required: ['value', 'from'], properties: { value, from: LAYER } });
const FIELDS = {
  retry: resolved({ type: 'array', items: { type: 'integer', minimum: 0 }, description: 'The retry schedule: ms before each attempt (the first is the first attempt).' }),
  attemptTimeoutMs: resolved({ type: 'integer', minimum: 1 }),
  rateLimitPerSec: resolved({ type: ['integer', 'null'], description: 'null: no limit.' }),
  maxInFlight: resolved({ type: 'integer', minimum: 1 }),
  maxPayloadBytes: resolved({ type: ['integer', 'null'], description: 'null: only the route\'s body limit.' }),
};
const NAMES = Object.keys(FIELDS);

/** `effectivePolicy` of `GET /admin/endpoints/{id}`. */
export const effectivePolicyView: Schema = {
  type: 'object',
  required: [...NAMES, 'eventTypes'],
  description: 'The resolved policy of the endpoint for an event without a policy of its own type, and for each event type it subscribes to whose received version has a policy, the resolved policy for that type. A route\'s publish.retry (between tenant and global) applies per message and is not shown.',
  properties: {
    ...FIELDS,
    eventTypes: { type: 'object', additionalProperties: { type: 'object', required: ['version', ...NAMES], properties: { version: { type: 'integer', minimum: 1 }, ...FIELDS } } },
  },
};

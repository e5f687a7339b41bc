import type { AdminRouteSpec } from '../admin/server.js';

/** The declarations of the ordered-delivery admin route (gateway/delivery/admin-ordering.ts). */
type Schema = Record<string, unknown>;

/** The answer of a skip: which delivery became a dead letter. */
export const skippedHeadView: Schema = {
  type: 'object',
  required: ['endpoint', 'key', 'skipped', 'status'],
  properties: {
    endpoint: { type: 'string' },
    key: { type: 'string', description: 'The ordering key.' },
    skipped: { type: 'string', description: 'The message whose delivery was ended (its head).' },
    status: { enum: ['failed', 'delivered'], description: 'failed: the skipped delivery is a dead letter now, in the failed index (a retry or recover queues it again, at the key\'s tail). delivered: its delivery had just succeeded; it stays delivered.' },
  },
};

export const orderingSpecs = {
  skipKey: {
    summary: "Skip an ordering key's blocked head",
    description: 'For an endpoint with `ordering: per-key`: the delivery at the head of the key (the one the key waits on, usually failing) becomes a dead letter without another attempt, and the key\'s next message goes. The key is URL-encoded in the path.',
    responses: { 200: { description: 'Skipped', schema: skippedHeadView } },
    errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_ORDERING_KEY_NOT_FOUND'],
  },
} satisfies Record<string, AdminRouteSpec>;

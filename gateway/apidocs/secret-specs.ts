import type { AdminRouteSpec } from '../admin/server.js';
import { PORTAL_SCOPES } from '../admin/access.js';

/** The declarations of the endpoint secret admin routes (gateway/delivery/admin-secrets.ts). */
type Schema = Record<string, unknown>;

/** The live signing secrets of one endpoint, the current one first. */
export const endpointSecretsView: Schema = {
  type: 'object',
  required: ['id', 'key', 'secrets'],
  properties: {
    id: { type: 'string' },
    key: { type: ['string', 'null'], description: 'The current signing secret (`whsec_...`), what new receivers should verify with.' },
    secrets: {
      type: 'array',
      description: 'Every secret that signs now, the current one first; a rotated-out one until its grace period ends (`expiresAt`).',
      items: { type: 'object', required: ['secret', 'expiresAt'], properties: { secret: { type: 'string' }, expiresAt: { type: ['string', 'null'], format: 'date-time' } } },
    },
  },
};

export const secretSpecs = {
  reveal: { portal: PORTAL_SCOPES.endpointParam, revealsSecret: true,
    summary: "An endpoint's live signing secrets",
    description: 'Svix\'s `GET .../secret`: `key` is the current secret; `secrets` lists every live one with its expiry. Never logged.',
    responses: { 200: { description: 'The live secrets', schema: endpointSecretsView } },
    errors: ['HG_ENDPOINT_NOT_FOUND', 'HG_ENDPOINT_UNREADABLE'],
  },
} satisfies Record<string, AdminRouteSpec>;

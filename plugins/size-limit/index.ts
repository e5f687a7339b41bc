import { definePlugin } from '../../gateway/plugin-api.js';

/**
 * Caps the request body for a route. The core enforces the cap (413 HG_BODY_TOO_LARGE) on the
 * declared Content-Length, while buffering, and while streaming a chunked body.
 */
export const sizeLimitPlugin = definePlugin<{ bytes: number }>({
  name: 'size-limit',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['bytes'],
    properties: { bytes: { type: 'integer', minimum: 0 } },
  },
  create(params) {
    return { maxBodyBytes: params.bytes };
  },
});

import { randomUUID } from 'node:crypto';
import { definePlugin } from '../../gateway/plugin.js';

export interface RequestIdParams {
  header: string;
  trustIncoming: boolean;
  responseHeader: boolean;
}

// Reused ids end up in logs and upstream headers: accept only short, printable tokens.
const SAFE_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/** `X-Request-Id`: reuse a well-formed incoming one, else generate a UUID; echo it on the response. */
export const requestIdPlugin = definePlugin<RequestIdParams>({
  name: 'request-id',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      header: { type: 'string', pattern: '^[A-Za-z0-9-]+$', default: 'x-request-id' },
      trustIncoming: { type: 'boolean', default: true },
      responseHeader: { type: 'boolean', default: true },
    },
  },
  create(params) {
    const header = params.header.toLowerCase();
    return {
      onRequest(ctx) {
        const incoming = params.trustIncoming ? ctx.header(header) : undefined;
        ctx.requestId = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
        // The core forwards it as X-Request-Id; a custom header name is forwarded as well.
        if (header !== 'x-request-id') ctx.headers[header] = ctx.requestId;
      },
      onResponse(ctx, headers) {
        if (params.responseHeader) headers[header] = ctx.requestId;
      },
    };
  },
});

import { definePlugin, requestIdFrom, type Context } from '../../gateway/plugin-api.js';

export interface RequestIdParams {
  header: string;
  trustIncoming: boolean;
  responseHeader: boolean;
}

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
    const resolveId = (ctx: Context): string => requestIdFrom(params.trustIncoming ? ctx.header(header) : undefined);
    return {
      onRequest(ctx) {
        ctx.requestId = resolveId(ctx);
        // The core forwards it as X-Request-Id; a custom header name is forwarded as well.
        if (header !== 'x-request-id') ctx.headers[header] = ctx.requestId;
      },
      onResponse(ctx, headers) {
        // The core may answer before the request phase ran (e.g. 413 on Content-Length):
        // give that answer, and its log line, an id too, never an empty header.
        if (!ctx.requestId) ctx.requestId = resolveId(ctx);
        if (params.responseHeader) headers[header] = ctx.requestId;
      },
    };
  },
});

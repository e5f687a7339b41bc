import { definePlugin } from '../../gateway/plugin-api.js';

export interface HeadersParams {
  request: { add: Record<string, string>; remove: string[] };
  response: { add: Record<string, string>; remove: string[] };
}

const side = {
  type: 'object',
  additionalProperties: false,
  properties: {
    add: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    remove: { type: 'array', items: { type: 'string' }, default: [] },
  },
  default: {},
};

/** Adds (overwriting) and removes request headers before forwarding, and response headers before sending. */
export const headersPlugin = definePlugin<HeadersParams>({
  name: 'headers',
  schema: { type: 'object', additionalProperties: false, properties: { request: side, response: side } },
  create(params) {
    const reqAdd = Object.entries(params.request.add).map(([k, v]) => [k.toLowerCase(), v] as const);
    const reqRemove = params.request.remove.map((k) => k.toLowerCase());
    const resAdd = Object.entries(params.response.add).map(([k, v]) => [k.toLowerCase(), v] as const);
    const resRemove = params.response.remove.map((k) => k.toLowerCase());
    return {
      onRequest(ctx) {
        const h = ctx.headers;
        for (const k of reqRemove) delete h[k];
        for (const [k, v] of reqAdd) h[k] = v;
      },
      onResponse(_ctx, headers) {
        for (const k of resRemove) delete headers[k];
        for (const [k, v] of resAdd) headers[k] = v;
      },
    };
  },
});

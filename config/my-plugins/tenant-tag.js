// A worked example of a custom plugin: tags each request with a tenant taken from the path
// (/webhook/v1/tenants/<tenant>/...), forwards it as a header, and rejects unknown tenants.
// Load it with `customPlugins: [./my-plugins/tenant-tag.js]`; edit it while hookgate runs and
// the next reload (automatic on save) uses the new code.

/** @type {import('hookgate').PluginDefinition<{ header: string, allowed: string[] }>} */
export default {
  name: 'tenant-tag',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      header: { type: 'string', default: 'x-tenant' },
      allowed: { type: 'array', items: { type: 'string' }, default: [] },
    },
  },
  create(params) {
    const allowed = new Set(params.allowed);
    return {
      onRequest(ctx) {
        const m = /^\/webhook\/v1\/tenants\/([^/]+)/.exec(ctx.path);
        const tenant = m ? m[1] : undefined;
        if (!tenant || (allowed.size > 0 && !allowed.has(tenant))) {
          // Returning a response stops the pipeline; the core writes it.
          return { status: 403, body: { error: { code: 'TENANT_UNKNOWN', message: `unknown tenant ${tenant ?? '(none)'}` } } };
        }
        ctx.headers[params.header] = tenant;
        ctx.state.tenant = tenant;
      },
      onResponse(ctx, headers) {
        // The response phase runs for refused requests too, where there is no tenant: a header
        // set to undefined cannot be written (the core would answer 500 instead of the 403).
        if (ctx.state.tenant !== undefined) headers[params.header] = ctx.state.tenant;
      },
    };
  },
};

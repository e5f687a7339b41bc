import type { Snapshot } from '../compile.js';
import type { Metrics } from '../metrics.js';
import { adminSpecs } from '../apidocs/admin-schemas.js';
import { registerApiDocs } from '../apidocs/serve.js';
import type { AdminServer } from './server.js';
import { redactSecrets } from '../security/redact.js';

// Moved to security/redact.ts (endpoint answers and the SSRF guard's messages use it too).
export { redactSecrets };

/** What the gateway's own admin routes read and do; the runtime provides it. */
export interface GatewayAdminSource {
  snapshot(): Snapshot | undefined;
  reload(trigger: string): Promise<{ generation: number; routes: number; restartRequired: string[] }>;
  readonly metrics: Metrics;
}

/** Registers reload, routes, config and metrics on the admin listener. */
export function registerGatewayAdmin(admin: AdminServer, gw: GatewayAdminSource): void {
  admin.route('POST', '/admin/reload', async () => {
    // A rejected config throws a ConfigError: a GatewayError with HG_CONFIG_INVALID and 400.
    const r = await gw.reload('admin');
    return { status: 200, body: { reloaded: true, ...r } };
  }, adminSpecs.reload);
  admin.route('GET', '/admin/routes', () => {
    const snap = gw.snapshot();
    return {
      status: 200,
      body: {
        generation: snap?.id,
        routes: (snap?.routes ?? []).map((r) => ({
          name: r.name,
          path: r.config.path,
          methods: r.config.methods ?? null,
          host: r.config.host ?? null,
          headers: r.config.headers ?? null,
          action: r.action.kind,
          upstream: r.action.kind === 'proxy' ? r.action.upstream.name : r.action.kind === 'deliver' ? r.action.upstream : null,
          websocket: r.config.websocket,
          plugins: r.pluginNames,
          deprecated: r.config.deprecated ?? null,
        })),
      },
    };
  }, adminSpecs.routes);
  admin.route('GET', '/admin/config', () => ({ status: 200, body: redactSecrets(gw.snapshot()?.config) }), adminSpecs.config);
  const metrics = async () => ({ status: 200, text: await gw.metrics.exposition(), contentType: gw.metrics.registry.contentType });
  admin.route('GET', '/metrics', metrics, adminSpecs.metrics);
  admin.route('GET', '/admin/metrics', metrics, adminSpecs.metrics);
  registerApiDocs(admin, () => gw.snapshot());
}

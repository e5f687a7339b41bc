/**
 * Admin route of endpoint secrets: `GET /admin/endpoints/{id}/secret` reveals the live signing
 * secrets (the admin token is required, as on every admin route; the answer is never logged).
 * The endpoint directory owns the secrets; this maps HTTP onto it.
 */
import type { AdminServer } from '../admin/server.js';
import { secretSpecs } from '../apidocs/secret-specs.js';
import { Errors } from '../errors.js';
import type { DeliveryEngine } from './engine.js';

/** Registers `GET /admin/endpoints/{id}/secret`. */
export function registerSecretAdmin(admin: AdminServer, engine: DeliveryEngine): void {
  const endpoints = engine.endpoints;
  admin.route('GET', '/admin/endpoints/:id/secret', async (req) => {
    const ep = await endpoints.find(req.params.id!);
    if (!ep) throw Errors.ENDPOINT_NOT_FOUND(req.params.id!);
    const live = endpoints.revealSecrets(ep);
    return {
      status: 200,
      // Secrets: no cache on the way may keep a copy.
      headers: { 'cache-control': 'no-store' },
      body: { id: ep.id, key: live[0]?.secret ?? null, secrets: live.map((s) => ({ secret: s.secret, expiresAt: s.expiresAt === undefined ? null : new Date(s.expiresAt).toISOString() })) },
    };
  }, secretSpecs.reveal);
}

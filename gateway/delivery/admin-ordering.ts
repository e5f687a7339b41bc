/**
 * Admin route of ordered delivery: `POST /admin/endpoints/{id}/keys/{key}/skip` ends a key's
 * blocked head (ordering.ts owns what a skip does; this checks input and maps HTTP).
 */
import type { AdminServer } from '../admin/server.js';
import { orderingSpecs } from '../apidocs/ordering-specs.js';
import { Errors } from '../errors.js';
import type { DeliveryEngine } from './engine.js';
import { ORDERING_KEY, ORDERING_KEY_RULE, skipHead } from './ordering.js';
import { retentionMs } from './repository.js';

/** Registers `POST /admin/endpoints/{id}/keys/{key}/skip`. */
export function registerOrderingAdmin(admin: AdminServer, engine: DeliveryEngine): void {
  admin.route('POST', '/admin/endpoints/:id/keys/:key/skip', async (req) => {
    const key = req.params.key!;
    if (!ORDERING_KEY.test(key)) throw Errors.ADMIN_BAD_INPUT(`the ordering key must be ${ORDERING_KEY_RULE}`);
    const ep = await engine.endpoints.find(req.params.id!);
    if (!ep) throw Errors.ENDPOINT_NOT_FOUND(req.params.id!);
    const head = await skipHead(engine.queue, engine.repo, ep, key, retentionMs(engine.currentSnapshot().egress));
    return { status: 200, body: { endpoint: ep.id, key, skipped: head.msgId, status: head.status } };
  }, orderingSpecs.skipKey);
}

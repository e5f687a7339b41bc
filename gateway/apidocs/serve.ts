import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AdminServer, RegisteredAdminRoute } from '../admin/server.js';
import type { Snapshot } from '../compile.js';
import { Errors } from '../errors.js';
import { packageRoot } from '../paths.js';
import { adminSpecs } from './admin-schemas.js';
import { buildAsyncApi } from './asyncapi.js';
import { documentedCatalogue, documentedEventTypes } from './event-types.js';
import { buildOpenApi } from './openapi.js';

let versionCache: string | undefined;

/** hookgate's version (package.json), for the documents' `info.version`. */
export function packageVersion(): string {
  versionCache ??= (JSON.parse(readFileSync(resolve(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  return versionCache;
}

/** Both documents for a snapshot and the admin routes of the listener that serves them. */
export function apiDocuments(snapshot: Snapshot, adminRoutes: RegisteredAdminRoute[]): { openapi: Record<string, unknown>; asyncapi: Record<string, unknown> } {
  const eventTypes = documentedEventTypes(snapshot);
  const version = packageVersion();
  return { openapi: buildOpenApi({ snapshot, adminRoutes, eventTypes, version }), asyncapi: buildAsyncApi({ snapshot, eventTypes, version }) };
}

/**
 * Registers GET /admin/openapi.json and GET /admin/asyncapi.json. They are built on each call
 * from the running snapshot and the routes registered at that moment, so a reload or a route
 * added later (the delivery engine's) shows at once.
 */
export function registerApiDocs(admin: AdminServer, snapshot: () => Snapshot | undefined): void {
  const input = async () => {
    const snap = snapshot();
    if (!snap) throw Errors.NOT_READY('no config is loaded');
    // The live catalogue when the delivery engine runs: API-created types are documented too.
    const eventTypes = admin.eventCatalogue ? documentedCatalogue(await admin.eventCatalogue()) : documentedEventTypes(snap);
    return { snapshot: snap, eventTypes, version: packageVersion() };
  };
  admin.route('GET', '/admin/openapi.json', async () => ({ status: 200, body: buildOpenApi({ ...(await input()), adminRoutes: admin.registeredRoutes() }) }), adminSpecs.openapi);
  admin.route('GET', '/admin/asyncapi.json', async () => ({ status: 200, body: buildAsyncApi(await input()) }), adminSpecs.asyncapi);
}

import { consoleSpecs } from '../apidocs/console-specs.js';
import type { ReloadHistory } from '../console/reload-history.js';
import type { RequestLog } from '../console/request-log.js';
import type { TrafficStats } from '../console/traffic.js';
import { Errors } from '../errors.js';
import type { AdminServer } from './server.js';
import { signPortalToken } from './portal-token.js';

/** What the console's read routes show; the runtime owns them. */
export interface ConsoleSources {
  reloads: ReloadHistory;
  requests: RequestLog;
  stats: TrafficStats;
  /** The running generation. */
  generation(): number | undefined;
}

/** `since` / `until` of `GET /admin/requests`: ISO 8601 text or epoch milliseconds. */
function timeParam(v: string | null, field: string): number | undefined {
  if (v === null) return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw Errors.ADMIN_BAD_INPUT(`query parameter "${field}" must be an ISO 8601 time or epoch milliseconds`);
  return t;
}

/** Registers `GET /admin/whoami`, `/admin/reloads`, `/admin/requests`, `/admin/requests/{id}` and `/admin/stats`. */
export function registerConsoleAdmin(admin: AdminServer, src: ConsoleSources): void {
  admin.route('GET', '/admin/whoami', (req) => {
    const p = req.principal;
    const body = p.role === 'portal' ? { role: p.role, tenant: p.tenant, expiresAt: new Date(p.expiresAt).toISOString() } : p.name ? { role: p.role, name: p.name } : { role: p.role };
    return { status: 200, body, headers: { 'cache-control': 'no-store' } };
  }, consoleSpecs.whoami);

  admin.route('GET', '/admin/reloads', () => ({ status: 200, body: { generation: src.generation() ?? null, reloads: src.reloads.list().map((r) => ({ ...r, at: new Date(r.at).toISOString() })) } }), consoleSpecs.reloads);

  admin.route('GET', '/admin/requests', (req) => {
    const q = req.url.searchParams;
    const since = timeParam(q.get('since'), 'since');
    const until = timeParam(q.get('until'), 'until');
    const limit = q.get('limit') === null ? 100 : Number(q.get('limit'));
    const body = src.requests.list({ route: q.get('route') ?? undefined, status: q.get('status') ?? undefined, since, until, limit });
    return { status: 200, body, headers: { 'cache-control': 'no-store' } };
  }, consoleSpecs.requests);

  admin.route('GET', '/admin/requests/:id', (req) => {
    const found = src.requests.get(req.params.id!);
    if (!found) throw Errors.REQUEST_NOT_FOUND(req.params.id!);
    return { status: 200, body: found, headers: { 'cache-control': 'no-store' } };
  }, consoleSpecs.request);

  admin.route('GET', '/admin/stats', async (req) => {
    const minutes = Number(req.url.searchParams.get('minutes') ?? 60);
    return { status: 200, body: await src.stats.read(minutes) };
  }, consoleSpecs.stats);
}

/**
 * The answer of `POST /admin/tenants/{id}/portal-link` for an existing tenant: a signed token and
 * the console URL holding it in the fragment (`#/portal?token=`), which browsers never send.
 */
export function portalLink(admin: AdminServer, tenant: string, expiresInSec: number, now = Date.now()): { url: string; token: string; expiresAt: string } {
  const expiresAt = Math.floor(now / 1000) * 1000 + expiresInSec * 1000;
  const token = signPortalToken(admin.credentials.signingKey, tenant, expiresAt);
  return { url: `${admin.publicUrl()}/console/#/portal?token=${encodeURIComponent(token)}`, token, expiresAt: new Date(expiresAt).toISOString() };
}

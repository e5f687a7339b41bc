import type { AdminConfig, ConsoleConfig } from '../config/types.js';
import { Errors } from '../errors.js';
import { safeEqual } from '../security/compare.js';
import { PORTAL_TOKEN_PREFIX, portalSigningKey, verifyPortalToken } from './portal-token.js';

/**
 * Who an admin call comes from, resolved from its bearer token: a write token (`admin.token` and
 * `admin.tokens[]` with `role: write`), a read token, or a portal token scoped to one tenant.
 */
export type Principal = { role: 'write' | 'read'; name?: string } | { role: 'portal'; tenant: string; expiresAt: number };

/**
 * How a route finds the tenant of what it addresses, for portal tokens (declared in its
 * AdminRouteSpec as `portal`). A route without one is refused to every portal token.
 * - `none`: the route holds no tenant data (the catalogue, the API document, whoami);
 * - `param`: the path parameter is the tenant id;
 * - `endpoint` / `message`: the path parameter is an endpoint / message id, whose tenant must match;
 * - `query`: a list; its `tenant` query parameter is forced to the token's tenant;
 * - `body`: the body's `tenant` field is set to the token's tenant (another tenant's is refused).
 */
export type PortalScope = { tenantFrom: 'none' } | { tenantFrom: 'param' | 'endpoint' | 'message'; param: string } | { tenantFrom: 'query' } | { tenantFrom: 'body' };

/** How the scope check finds the tenant of an endpoint or a message (the delivery engine provides it). */
export interface TenantLookup {
  endpointTenant(id: string): Promise<string | undefined>;
  messageTenant(id: string): Promise<string | undefined>;
}

/** What the access check needs of a route and of the call. */
export interface AccessInput {
  method: string;
  revealsSecret?: boolean;
  portal?: PortalScope;
  params: Record<string, string>;
  url: URL;
  /** The parsed body; a `body` scope may set its `tenant`. */
  body: unknown;
}

/** The admin tokens of the running config and the portal signing key; replaced whole on reload. */
export class AdminCredentials {
  private tokens: { token: string; role: 'read' | 'write'; name?: string }[] = [];
  private portalKey: Buffer = Buffer.alloc(0);
  private adminToken = '';

  constructor(token: string) {
    this.configure({ token, tokens: [] });
  }

  /** The write token of `admin.token`. */
  get token(): string {
    return this.adminToken;
  }

  configure(admin: Pick<AdminConfig, 'token'> & { tokens?: AdminConfig['tokens'] }, console?: ConsoleConfig): void {
    this.adminToken = admin.token;
    this.tokens = [{ token: admin.token, role: 'write' as const }, ...(admin.tokens ?? [])];
    this.portalKey = portalSigningKey(admin.token, console?.portal?.signingKey);
  }

  /** The key portal tokens are signed with. */
  get signingKey(): Buffer {
    return this.portalKey;
  }

  /**
   * The principal of an `Authorization` header, or undefined. Every configured token is compared
   * (in constant time, and without stopping at the first match), so timing tells neither which
   * token matched nor how many there are before it.
   */
  resolve(authorization: string | undefined, now = Date.now()): Principal | undefined {
    if (!authorization || !authorization.startsWith('Bearer ')) return undefined;
    const presented = authorization.slice(7).trim();
    if (!presented) return undefined;
    if (presented.startsWith(PORTAL_TOKEN_PREFIX)) {
      const grant = verifyPortalToken(this.portalKey, presented, now);
      return grant && { role: 'portal', tenant: grant.tenant, expiresAt: grant.expiresAt };
    }
    let found: Principal | undefined;
    for (const t of this.tokens) {
      const hit = safeEqual(presented, t.token);
      // The strongest role wins when a value is listed twice.
      if (hit && (!found || (found.role === 'read' && t.role === 'write'))) found = t.name ? { role: t.role, name: t.name } : { role: t.role };
    }
    return found;
  }
}

/**
 * Refuses a call its principal may not make: read tokens make GET calls that reveal no secret
 * (403 HG_ADMIN_FORBIDDEN); portal tokens only call routes that declare a scope, on their own
 * tenant's things (403 HG_PORTAL_SCOPE, also for ids that do not exist, so a portal learns nothing
 * of other tenants). Lists and bodies scoped by tenant are forced to the portal's tenant.
 */
export async function checkAccess(principal: Principal, call: AccessInput, lookup: TenantLookup | undefined): Promise<void> {
  if (principal.role !== 'portal') {
    if (principal.role === 'read' && (call.method !== 'GET' || call.revealsSecret)) throw Errors.ADMIN_FORBIDDEN();
    return;
  }
  const scope = call.portal;
  const mine = principal.tenant;
  const deny = () => Errors.PORTAL_SCOPE(mine);
  if (!scope) throw deny();
  switch (scope.tenantFrom) {
    case 'none':
      return;
    case 'param':
      if (call.params[scope.param] !== mine) throw deny();
      return;
    case 'endpoint':
    case 'message': {
      const id = call.params[scope.param] ?? '';
      const owner = await (scope.tenantFrom === 'endpoint' ? lookup?.endpointTenant(id) : lookup?.messageTenant(id))?.catch(() => undefined);
      if (owner !== mine) throw deny();
      return;
    }
    case 'query':
      call.url.searchParams.set('tenant', mine);
      return;
    case 'body': {
      const b = call.body;
      if (b === undefined) {
        call.body = { tenant: mine };
        return;
      }
      if (!b || typeof b !== 'object' || Array.isArray(b)) return; // the body check refuses it
      const o = b as Record<string, unknown>;
      if (o.tenant !== undefined && o.tenant !== mine) throw deny();
      o.tenant = mine;
      return;
    }
  }
}

/** The scopes routes declare, by what their tenant is found from. */
export const PORTAL_SCOPES = {
  none: { tenantFrom: 'none' },
  tenantParam: { tenantFrom: 'param', param: 'id' },
  endpointParam: { tenantFrom: 'endpoint', param: 'id' },
  messageParam: { tenantFrom: 'message', param: 'id' },
  query: { tenantFrom: 'query' },
  body: { tenantFrom: 'body' },
} as const satisfies Record<string, PortalScope>;

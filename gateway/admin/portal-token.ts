import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { signatureEqual } from '../security/compare.js';

/**
 * Portal tokens: `hgp_` + base64url(JSON payload) + `.` + base64url(HMAC-SHA256 of that payload
 * text). The payload is `{ t: tenant, exp: unix seconds, n: nonce }`. Nothing is stored: a token
 * is valid while its signature checks and `exp` is in the future, so a link cannot be revoked one
 * by one; changing the signing key (or, when it is derived, the admin token) revokes them all.
 */
export const PORTAL_TOKEN_PREFIX = 'hgp_';

/** What a valid portal token grants: one tenant, until `expiresAt` (ms since the epoch). */
export interface PortalGrant {
  tenant: string;
  expiresAt: number;
}

/**
 * The HMAC key: `console.portal.signingKey` when set, else derived from the admin token with
 * HKDF-SHA256 (its own `info`, so the key is never the token itself nor usable as one).
 */
export function portalSigningKey(adminToken: string, signingKey: string | undefined): Buffer {
  if (signingKey) return Buffer.from(signingKey, 'utf8');
  return Buffer.from(hkdfSync('sha256', Buffer.from(adminToken, 'utf8'), Buffer.from('hookgate-portal-salt'), Buffer.from('hookgate portal token v1'), 32));
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

/** Signs a token for `tenant` valid until `expiresAt` (ms). */
export function signPortalToken(key: Buffer, tenant: string, expiresAt: number): string {
  const payload = Buffer.from(JSON.stringify({ t: tenant, exp: Math.floor(expiresAt / 1000), n: randomBytes(9).toString('base64url') })).toString('base64url');
  return `${PORTAL_TOKEN_PREFIX}${payload}.${mac(key, payload).toString('base64url')}`;
}

/**
 * The grant of a token, or undefined when it is malformed, its signature does not match (checked
 * in constant time before the payload is read) or it has expired.
 */
export function verifyPortalToken(key: Buffer, token: string, now = Date.now()): PortalGrant | undefined {
  if (!token.startsWith(PORTAL_TOKEN_PREFIX) || token.length > 2048) return undefined;
  const body = token.slice(PORTAL_TOKEN_PREFIX.length);
  const dot = body.indexOf('.');
  if (dot <= 0) return undefined;
  const payload = body.slice(0, dot);
  const given = Buffer.from(body.slice(dot + 1), 'base64url');
  if (!signatureEqual(mac(key, payload), given)) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const { t, exp } = (claims ?? {}) as { t?: unknown; exp?: unknown };
  if (typeof t !== 'string' || !t || typeof exp !== 'number' || !Number.isFinite(exp)) return undefined;
  if (exp * 1000 <= now) return undefined;
  return { tenant: t, expiresAt: exp * 1000 };
}

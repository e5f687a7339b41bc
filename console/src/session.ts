/**
 * The token lives in sessionStorage only: never in a cookie, and a portal link's token is moved
 * out of the location as soon as the app starts, so it stays out of history and screenshots.
 */
const KEY = 'hookgate.token';

export type Role = 'write' | 'read' | 'portal';

export interface Principal {
  role: Role;
  tenant?: string;
  expiresAt?: string;
  /** The token's name from admin.tokens, when it has one. */
  name?: string;
  /** True when the server has no /admin/whoami yet and the role was assumed. */
  assumed?: boolean;
}

export function getToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/**
 * `#/portal?token=...`: keeps the token in sessionStorage and strips it from the location
 * (replaceState, so the back button does not bring it back). Returns true when a token was taken.
 */
export function takePortalToken(): boolean {
  const hash = location.hash;
  if (!hash.startsWith('#/portal')) return false;
  const q = hash.indexOf('?');
  if (q < 0) return false;
  const params = new URLSearchParams(hash.slice(q + 1));
  const token = params.get('token');
  if (!token) return false;
  setToken(token);
  history.replaceState(null, '', `${location.pathname}${location.search}#/portal`);
  return true;
}

/** Whether the principal may change things (portal tokens manage their own tenant's endpoints). */
export function canWrite(p: Principal | null): boolean {
  return p?.role === 'write' || p?.role === 'portal';
}

export const READ_ONLY_NOTE = 'This token is read-only: it can look but not change, replay or reveal secrets.';

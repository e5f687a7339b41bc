/** The hookgate console and customer portal: one app, operator or portal mode by the token's role. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, onUnauthorized } from './api.js';
import { href, navigate, useLocation } from './router.js';
import { clearToken, getToken, setToken, takePortalToken, type Principal } from './session.js';
import { ErrorBox } from './ui.js';
import { Pages } from './pages/index.js';
import './style.css';

/** Learns the token's role from GET /admin/whoami; an older gateway without it: any valid token is the admin token. */
async function whoami(): Promise<Principal> {
  try {
    return await api<Principal>('GET', '/admin/whoami');
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.code === 'HG_ADMIN_NOT_FOUND') {
      await api('GET', '/admin/routes');
      return { role: 'write', assumed: true };
    }
    throw e;
  }
}

function SignIn({ onSignedIn, reason }: { onSignedIn(p: Principal): void; reason?: string }) {
  const [token, setTok] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(undefined);
    setToken(token.trim());
    try {
      onSignedIn(await whoami());
    } catch (e) {
      clearToken();
      setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>hookgate console</h1>
      <form onSubmit={submit} class="card">
        <h2>Sign in</h2>
        {reason ? <p class="notice" role="status">{reason}</p> : null}
        <p class="muted">Use the admin token (admin.token or one of admin.tokens). It is kept in this tab's session storage only.</p>
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autoComplete="off" required value={token} onInput={(e) => setTok((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

const OPERATOR_NAV: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['requests', 'Requests'],
  ['messages', 'Messages'],
  ['endpoints', 'Endpoints'],
  ['catalogue', 'Event catalogue'],
  ['api', 'API reference'],
  ['config', 'Config'],
];

function Nav({ principal, current, onSignOut }: { principal: Principal; current: string; onSignOut(): void }) {
  const items: Array<[string, string]> =
    principal.role === 'portal'
      ? [
          [href('tenants', principal.tenant ?? '', 'endpoints'), 'Endpoints'],
          [href('tenants', principal.tenant ?? '', 'messages'), 'Messages'],
          [href('catalogue'), 'Event catalogue'],
        ]
      : OPERATOR_NAV.map(([k, v]) => [href(k), v]);
  return (
    <header class="top">
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <span class="brand">hookgate {principal.role === 'portal' ? 'portal' : 'console'}</span>
      <nav aria-label="Main">
        <ul>
          {items.map(([to, label]) => (
            <li key={to}>
              <a href={to} aria-current={current === to.split('?')[0] ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <span class="who" aria-label="Signed in as">
        {principal.role === 'portal' ? `tenant ${principal.tenant}` : `${principal.role} token${principal.name ? ` (${principal.name})` : ''}`}
        {principal.assumed ? ' (assumed)' : ''}
      </span>
      <button type="button" class="secondary" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}

function App() {
  const loc = useLocation();
  const [principal, setPrincipal] = useState<Principal | null>(null);
  const [checking, setChecking] = useState(true);
  const [reason, setReason] = useState<string | undefined>();
  const [fatal, setFatal] = useState<ApiError | undefined>();

  useEffect(() => {
    const portal = takePortalToken();
    if (!getToken()) {
      setChecking(false);
      return;
    }
    whoami().then(
      (p) => {
        setPrincipal(p);
        setChecking(false);
        if (portal || (p.role === 'portal' && !location.hash.startsWith('#/tenants'))) navigate(href('tenants', p.tenant ?? '', 'endpoints'));
      },
      (e: ApiError) => {
        if (e.status === 401) {
          clearToken();
          setReason(portal ? 'This portal link has expired or is not valid: ask for a new one.' : 'Your session ended: sign in again.');
        } else setFatal(e);
        setChecking(false);
      },
    );
  }, []);

  useEffect(
    () =>
      onUnauthorized(() => {
        clearToken();
        setPrincipal(null);
        setReason('The gateway refused the token (expired or revoked): sign in again.');
      }),
    [],
  );

  if (checking) return <p role="status">Loading…</p>;
  if (fatal) return <ErrorBox error={fatal} />;
  if (!principal)
    return (
      <SignIn
        reason={reason}
        onSignedIn={(p) => {
          setPrincipal(p);
          setReason(undefined);
          navigate(p.role === 'portal' ? href('tenants', p.tenant ?? '', 'endpoints') : href('overview'));
        }}
      />
    );
  const signOut = () => {
    clearToken();
    setPrincipal(null);
    navigate(href('signin'));
  };
  const current = `#/${loc.parts.slice(0, principal.role === 'portal' ? 3 : 1).map(encodeURIComponent).join('/')}`;
  return (
    <>
      <Nav principal={principal} current={current} onSignOut={signOut} />
      <main id="main" tabIndex={-1}>
        {/* Keyed by the path: a new path mounts its page afresh, so no page keeps another's state
            (the create form's result and fields showed in the edit form it led to). */}
        <Pages key={loc.parts.join('/')} loc={loc} principal={principal} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);

/** Endpoints: every endpoint (or one tenant's) with its state and health. */
import { api, enc } from '../api.js';
import { useLoad } from '../hooks.js';
import { href, type Location } from '../router.js';
import { canWrite, type Principal } from '../session.js';
import { ErrorBox, Loading, ReadOnlyNote, Status } from '../ui.js';

export interface Endpoint {
  id: string;
  tenant: string;
  url: string;
  events: string[] | null;
  headers: Record<string, string>;
  rateLimitPerSec: number | null;
  description: string | null;
  state: string;
  disabledReason: string | null;
  health?: { state: string; reason: string | null; since: string | null; nextProbeAt: string | null };
  source: string;
  secrets: Array<{ expiresAt: string | null }>;
  ordering?: string;
  createdAt?: string;
  updatedAt?: string;
}

export function EndpointsPage({ principal, tenant }: { loc: Location; principal: Principal; tenant?: string }) {
  const list = useLoad(
    () => api<{ endpoints: Endpoint[] }>('GET', tenant ? `/admin/tenants/${enc(tenant)}/endpoints` : '/admin/endpoints'),
    [tenant],
  );
  const writable = canWrite(principal);
  const newHref = tenant ? href('tenants', tenant, 'endpoints', 'new') : href('endpoints', 'new');
  return (
    <>
      <h1>Endpoints{tenant ? ` of tenant ${tenant}` : ''}</h1>
      <ReadOnlyNote show={!writable} />
      <p class="actions">
        {writable ? (
          <a class="button" href={newHref}>
            New endpoint
          </a>
        ) : null}
        <button type="button" class="secondary" onClick={list.reload}>
          Refresh
        </button>
      </p>
      <Loading when={list.loading && !list.data} />
      <ErrorBox error={list.error} />
      {list.data ? (
        <table class="endpoints">
          <caption>
            {list.data.endpoints.length} {list.data.endpoints.length === 1 ? 'endpoint' : 'endpoints'}
          </caption>
          <thead>
            <tr>
              <th scope="col">Endpoint</th>
              {tenant ? null : <th scope="col">Tenant</th>}
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">State</th>
              <th scope="col">Health</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {list.data.endpoints.map((e) => (
              <tr key={e.id} data-endpoint={e.id}>
                <td>
                  <a href={href('endpoints', e.id)}>{e.id}</a>
                </td>
                {tenant ? null : <td>{e.tenant}</td>}
                <td>
                  <code>{e.url}</code>
                </td>
                <td>{e.events ? e.events.join(', ') : 'all'}</td>
                <td>
                  <Status value={e.state} />
                </td>
                <td>
                  <Status value={e.health?.state ?? '—'} />
                  {e.health?.reason ? <span class="muted"> {e.health.reason}</span> : null}
                </td>
                <td>{e.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

/** Endpoints: every endpoint (or one tenant's) with its state and health. */
import { api, enc } from '../api.js';
import { useLoad } from '../hooks.js';
import { href, type Location } from '../router.js';
import { canWrite, type Principal } from '../session.js';
import { Table } from '../table.js';
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
        <Table
          class="endpoints"
          caption={`${list.data.endpoints.length} ${list.data.endpoints.length === 1 ? 'endpoint' : 'endpoints'}`}
          rows={list.data.endpoints}
          rowKey={(e) => e.id}
          rowData={(e) => ({ 'data-endpoint': e.id })}
          columns={[
            { head: 'Endpoint', cell: (e) => <a href={href('endpoints', e.id)}>{e.id}</a> },
            !tenant && { head: 'Tenant', cell: (e) => e.tenant },
            { head: 'URL', cell: (e) => <code>{e.url}</code> },
            { head: 'Events', cell: (e) => (e.events ? e.events.join(', ') : 'all') },
            { head: 'State', cell: (e) => <Status value={e.state} /> },
            {
              head: 'Health',
              cell: (e) => (
                <>
                  <Status value={e.health?.state ?? '—'} />
                  {e.health?.reason ? <span class="muted"> {e.health.reason}</span> : null}
                </>
              ),
            },
            { head: 'Source', cell: (e) => e.source },
          ]}
        />
      ) : null}
    </>
  );
}

/** Messages: filter by status, tenant, endpoint, event type and time; bulk retry of a filter. */
import { useState } from 'preact/hooks';
import { api, qs } from '../api.js';
import { FilterForm, TIME_RANGE_FIELDS, type FilterField } from '../filter-form.js';
import { useLoad } from '../hooks.js';
import { href, navigate, type Location } from '../router.js';
import { canWrite, type Principal } from '../session.js';
import { Table, type Column } from '../table.js';
import { ErrorBox, Loading, ReadOnlyNote, Status, localToIso, time } from '../ui.js';
import { BulkRetry } from './bulk.js';

interface MessageRow {
  id: string;
  kind: string;
  tenant: string;
  eventType: string | null;
  createdAt: string;
  status: string;
  deliveries: Record<string, string>;
}
interface Page {
  messages: MessageRow[];
  nextCursor: string | null;
}

type MessageFilterName = 'status' | 'tenant' | 'endpoint' | 'eventType' | 'since' | 'until';

/** The filter fields; a tenant's own pages (the portal) have no tenant field. */
function filterFields(tenantFixed: boolean): Array<FilterField<MessageFilterName>> {
  return [
    { name: 'status', label: 'Status', options: ['pending', 'delivered', 'failed'] },
    ...(tenantFixed ? [] : [{ name: 'tenant', label: 'Tenant' } as const]),
    { name: 'endpoint', label: 'Endpoint' },
    { name: 'eventType', label: 'Event type', placeholder: 'invoice.*' },
    ...TIME_RANGE_FIELDS,
  ];
}

const COLUMNS: ReadonlyArray<Column<MessageRow>> = [
  { head: 'Message', cell: (m) => <a href={href('messages', m.id)}>{m.id}</a> },
  { head: 'Created', cell: (m) => time(m.createdAt) },
  { head: 'Event type', cell: (m) => m.eventType ?? m.kind },
  { head: 'Tenant', cell: (m) => m.tenant },
  { head: 'Status', cell: (m) => <Status value={m.status} /> },
  {
    head: 'Deliveries',
    cell: (m) =>
      Object.entries(m.deliveries).map(([ep, st]) => (
        <span key={ep} class="delivery">
          {ep}: <Status value={st} />{' '}
        </span>
      )),
  },
];

/** `invoice.*` matches invoice.paid; otherwise exact. */
function typeMatches(pattern: string, type: string | null): boolean {
  if (!pattern) return true;
  if (!type) return false;
  return pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern;
}

export function MessagesPage({ loc, principal, tenant }: { loc: Location; principal: Principal; tenant?: string }) {
  const q = loc.query;
  const filter = {
    status: q.get('status') ?? '',
    tenant: tenant ?? q.get('tenant') ?? '',
    endpoint: q.get('endpoint') ?? '',
    eventType: q.get('eventType') ?? '',
    since: q.get('since') ?? '',
    until: q.get('until') ?? '',
  };
  const since = localToIso(filter.since);
  const until = localToIso(filter.until);
  const apiFilter = { status: filter.status, tenant: filter.tenant, endpoint: filter.endpoint, eventType: filter.eventType, since, until };
  const [pages, setPages] = useState<Page[]>([]);
  const list = useLoad(async () => {
    const p = await api<Page>('GET', `/admin/messages${qs({ ...apiFilter, limit: 100 })}`);
    setPages([p]);
    return p;
  }, [q.toString(), tenant]);
  const more = async () => {
    const last = pages.at(-1);
    if (!last?.nextCursor) return;
    const p = await api<Page>('GET', `/admin/messages${qs({ ...apiFilter, limit: 100, cursor: last.nextCursor })}`);
    setPages([...pages, p]);
  };
  // The API filters; the same test here keeps a page from showing stale rows while the next loads.
  const rows = pages
    .flatMap((p) => p.messages)
    .filter((m) => typeMatches(filter.eventType, m.eventType) && (!since || m.createdAt >= since) && (!until || m.createdAt <= until));
  const base = tenant ? ['tenants', tenant, 'messages'] : ['messages'];
  const writable = canWrite(principal);
  return (
    <>
      <h1>Messages{tenant ? ` of tenant ${tenant}` : ''}</h1>
      <FilterForm
        label="Filter messages"
        fields={filterFields(!!tenant)}
        values={filter}
        onApply={(form) => navigate(href(...base, { ...form, tenant: tenant ? undefined : form.tenant }))}
        onRefresh={list.reload}
      />
      <Loading when={list.loading && pages.length === 0} />
      <ErrorBox error={list.error} />
      {list.data ? <Table class="messages" caption={`${rows.length} messages, newest first`} columns={COLUMNS} rows={rows} rowKey={(m) => m.id} rowData={(m) => ({ 'data-message': m.id })} /> : null}
      {pages.at(-1)?.nextCursor ? (
        <button type="button" class="secondary" onClick={() => void more()}>
          Load more messages
        </button>
      ) : null}
      <ReadOnlyNote show={!writable} />
      <BulkRetry disabled={!writable} filter={{ tenant: filter.tenant || undefined, endpoint: filter.endpoint || undefined, eventType: filter.eventType || undefined }} />
    </>
  );
}

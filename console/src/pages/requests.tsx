/** Requests: the recent ingress requests (GET /admin/requests, a ring buffer) and one request's detail. */
import type { RequestLogEntry, RequestLogPage } from '../../../gateway/console/answers.js';
import { api, enc, qs } from '../api.js';
import { FilterForm, TIME_RANGE_FIELDS, type FilterField } from '../filter-form.js';
import { useLoad } from '../hooks.js';
import { href, navigate, type Location } from '../router.js';
import { Table, type Column } from '../table.js';
import { ErrorBox, Facts, Json, Loading, Section, Status, localToIso, time } from '../ui.js';

type RequestFilterName = 'route' | 'status' | 'since' | 'until';

const FIELDS: ReadonlyArray<FilterField<RequestFilterName>> = [
  { name: 'route', label: 'Route' },
  { name: 'status', label: 'Status', inputMode: 'numeric', placeholder: 'e.g. 500' },
  ...TIME_RANGE_FIELDS,
];

const COLUMNS: ReadonlyArray<Column<RequestLogEntry>> = [
  {
    head: 'Time',
    cell: (r) => (
      <a href={href('requests', r.id)} aria-label={`Request ${r.id}`}>
        {time(r.at)}
      </a>
    ),
  },
  { head: 'Method', cell: (r) => r.method },
  { head: 'Path', cell: (r) => <code>{r.path}</code> },
  { head: 'Route', cell: (r) => r.route ?? '—' },
  { head: 'Status', cell: (r) => <Status value={r.status} /> },
  { head: 'Duration', cell: (r) => `${r.durationMs} ms` },
  { head: 'Client', cell: (r) => r.clientIp },
];

export function RequestsPage({ loc }: { loc: Location }) {
  const q = loc.query;
  const filter = { route: q.get('route') ?? '', status: q.get('status') ?? '', since: q.get('since') ?? '', until: q.get('until') ?? '' };
  const list = useLoad(
    () => api<RequestLogPage>('GET', `/admin/requests${qs({ ...filter, since: localToIso(filter.since), until: localToIso(filter.until), limit: 200 })}`),
    [loc.query.toString()],
  );
  return (
    <>
      <h1>Requests</h1>
      <FilterForm label="Filter requests" fields={FIELDS} values={filter} onApply={(form) => navigate(href('requests', form))} onRefresh={list.reload} />
      <Loading when={list.loading && !list.data} />
      <ErrorBox error={list.error} what="The request log (GET /admin/requests)" />
      {list.data ? (
        <Table
          caption={`${list.data.requests.length} of ${list.data.total} recent requests, newest first`}
          columns={COLUMNS}
          rows={list.data.requests}
          rowKey={(r) => r.id}
        />
      ) : null}
    </>
  );
}

export function RequestDetailPage({ id }: { id: string }) {
  const r = useLoad(() => api<RequestLogEntry>('GET', `/admin/requests/${enc(id)}`), [id]);
  return (
    <>
      <p>
        <a href={href('requests')}>← Requests</a>
      </p>
      <h1>Request {id}</h1>
      <Loading when={r.loading && !r.data} />
      <ErrorBox error={r.error} what="The request log (GET /admin/requests)" />
      {r.data ? (
        <>
          <Section title="Summary">
            <Facts
              items={[
                ['Time', time(r.data.at)],
                ['Method', r.data.method],
                ['Path', <code>{r.data.path}</code>],
                ['Route', r.data.route ?? '—'],
                ['Status', <Status value={r.data.status} />],
                ['Duration', `${r.data.durationMs} ms`],
                ['Client IP', r.data.clientIp],
              ]}
            />
          </Section>
          <Section title="Headers (redacted as in the log)">
            <Json label="Request headers" value={r.data.headers} />
          </Section>
          <Section title="Body">
            {r.data.body !== undefined ? (
              <>
                <Json label="Request body" value={r.data.body} />
                {r.data.bodyTruncated ? <p class="muted">Truncated to 16 KB.</p> : null}
              </>
            ) : (
              <p class="muted">Not captured: the route's log plugin needs captureBody: true.</p>
            )}
          </Section>
        </>
      ) : null}
    </>
  );
}

/** Requests: the recent ingress requests (GET /admin/requests, a ring buffer) and one request's detail. */
import { useState } from 'preact/hooks';
import { api, enc, qs } from '../api.js';
import { useLoad } from '../hooks.js';
import { href, navigate, type Location } from '../router.js';
import { ErrorBox, Facts, Json, Loading, Section, Status, localToIso, time } from '../ui.js';

interface RequestEntry {
  id: string;
  at: string;
  method: string;
  path: string;
  route: string | null;
  status: number;
  durationMs: number;
  clientIp: string;
  headers: Record<string, string | string[]>;
  body?: string;
  bodyTruncated?: boolean;
}

export function RequestsPage({ loc }: { loc: Location }) {
  const q = loc.query;
  const filter = { route: q.get('route') ?? '', status: q.get('status') ?? '', since: q.get('since') ?? '', until: q.get('until') ?? '' };
  const [form, setForm] = useState(filter);
  const list = useLoad(
    () => api<{ requests: RequestEntry[]; total: number }>('GET', `/admin/requests${qs({ ...filter, since: localToIso(filter.since), until: localToIso(filter.until), limit: 200 })}`),
    [loc.query.toString()],
  );
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  return (
    <>
      <h1>Requests</h1>
      <form
        class="filters card"
        aria-label="Filter requests"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href('requests', form));
        }}
      >
        <label>
          Route <input name="route" value={form.route} onInput={set('route')} />
        </label>
        <label>
          Status <input name="status" inputMode="numeric" placeholder="e.g. 500" value={form.status} onInput={set('status')} />
        </label>
        <label>
          Since <input name="since" type="datetime-local" value={form.since} onInput={set('since')} />
        </label>
        <label>
          Until <input name="until" type="datetime-local" value={form.until} onInput={set('until')} />
        </label>
        <button type="submit">Apply filters</button>
        <button type="button" class="secondary" onClick={list.reload}>
          Refresh
        </button>
      </form>
      <Loading when={list.loading && !list.data} />
      <ErrorBox error={list.error} what="The request log (GET /admin/requests)" />
      {list.data ? (
        <table>
          <caption>
            {list.data.requests.length} of {list.data.total} recent requests, newest first
          </caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Method</th>
              <th scope="col">Path</th>
              <th scope="col">Route</th>
              <th scope="col">Status</th>
              <th scope="col">Duration</th>
              <th scope="col">Client</th>
            </tr>
          </thead>
          <tbody>
            {list.data.requests.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={href('requests', r.id)} aria-label={`Request ${r.id}`}>
                    {time(r.at)}
                  </a>
                </td>
                <td>{r.method}</td>
                <td>
                  <code>{r.path}</code>
                </td>
                <td>{r.route ?? '—'}</td>
                <td>
                  <Status value={r.status} />
                </td>
                <td>{r.durationMs} ms</td>
                <td>{r.clientIp}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export function RequestDetailPage({ id }: { id: string }) {
  const r = useLoad(() => api<RequestEntry>('GET', `/admin/requests/${enc(id)}`), [id]);
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

/** Messages: filter by status, tenant, endpoint, event type and time; bulk retry of a filter. */
import { useState } from 'preact/hooks';
import { api, qs } from '../api.js';
import { useLoad } from '../hooks.js';
import { href, navigate, type Location } from '../router.js';
import { canWrite, type Principal } from '../session.js';
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
  const [form, setForm] = useState(filter);
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
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const base = tenant ? ['tenants', tenant, 'messages'] : ['messages'];
  const writable = canWrite(principal);
  return (
    <>
      <h1>Messages{tenant ? ` of tenant ${tenant}` : ''}</h1>
      <form
        class="filters card"
        aria-label="Filter messages"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href(...base, { ...form, tenant: tenant ? undefined : form.tenant }));
        }}
      >
        <label>
          Status
          <select name="status" value={form.status} onChange={set('status')}>
            <option value="">any</option>
            <option value="pending">pending</option>
            <option value="delivered">delivered</option>
            <option value="failed">failed</option>
          </select>
        </label>
        {tenant ? null : (
          <label>
            Tenant <input name="tenant" value={form.tenant} onInput={set('tenant')} />
          </label>
        )}
        <label>
          Endpoint <input name="endpoint" value={form.endpoint} onInput={set('endpoint')} />
        </label>
        <label>
          Event type <input name="eventType" placeholder="invoice.*" value={form.eventType} onInput={set('eventType')} />
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
      <Loading when={list.loading && pages.length === 0} />
      <ErrorBox error={list.error} />
      {list.data ? (
        <table class="messages">
          <caption>{rows.length} messages, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Message</th>
              <th scope="col">Created</th>
              <th scope="col">Event type</th>
              <th scope="col">Tenant</th>
              <th scope="col">Status</th>
              <th scope="col">Deliveries</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.id} data-message={m.id}>
                <td>
                  <a href={href('messages', m.id)}>{m.id}</a>
                </td>
                <td>{time(m.createdAt)}</td>
                <td>{m.eventType ?? m.kind}</td>
                <td>{m.tenant}</td>
                <td>
                  <Status value={m.status} />
                </td>
                <td>
                  {Object.entries(m.deliveries).map(([ep, st]) => (
                    <span key={ep} class="delivery">
                      {ep}: <Status value={st} />{' '}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
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

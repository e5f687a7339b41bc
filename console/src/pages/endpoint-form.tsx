/** Create or edit an endpoint; the server's validation errors (HG_* code and message) are shown as they come. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, enc } from '../api.js';
import { useAction, useLoad } from '../hooks.js';
import { href } from '../router.js';
import { canWrite, type Principal } from '../session.js';
import { ErrorBox, Loading, ReadOnlyNote } from '../ui.js';
import type { Endpoint } from './endpoints.js';

interface Form {
  id: string;
  tenant: string;
  url: string;
  events: string;
  description: string;
  rateLimitPerSec: string;
  headers: string;
}

const EMPTY: Form = { id: '', tenant: '', url: '', events: '', description: '', rateLimitPerSec: '', headers: '' };

function bodyOf(f: Form, create: boolean, fixedTenant: string | undefined): Record<string, unknown> {
  const b: Record<string, unknown> = { url: f.url.trim() };
  if (create && f.id.trim()) b.id = f.id.trim();
  if (create && !fixedTenant && f.tenant.trim()) b.tenant = f.tenant.trim();
  const events = f.events.split(',').map((s) => s.trim()).filter(Boolean);
  if (events.length || !create) b.events = events.length ? events : null;
  if (f.description.trim() || !create) b.description = f.description.trim() || null;
  if (f.rateLimitPerSec.trim()) b.rateLimitPerSec = Number(f.rateLimitPerSec);
  else if (!create) b.rateLimitPerSec = null;
  if (f.headers.trim()) {
    try {
      b.headers = JSON.parse(f.headers);
    } catch {
      throw new ApiError(0, 'FORM', 'Headers must be a JSON object, e.g. {"x-team": "billing"}');
    }
  }
  return b;
}

export function EndpointFormPage({ principal, id, tenant }: { principal: Principal; id?: string; tenant?: string }) {
  const create = id === undefined;
  const existing = useLoad(() => (create ? Promise.resolve(undefined) : api<Endpoint>('GET', `/admin/endpoints/${enc(id)}`)), [id]);
  const [form, setForm] = useState<Form>(EMPTY);
  useEffect(() => {
    const e = existing.data;
    if (e)
      setForm({
        id: e.id,
        tenant: e.tenant,
        url: e.url,
        events: (e.events ?? []).join(', '),
        description: e.description ?? '',
        rateLimitPerSec: e.rateLimitPerSec === null ? '' : String(e.rateLimitPerSec),
        headers: Object.keys(e.headers ?? {}).length ? JSON.stringify(e.headers) : '',
      });
  }, [existing.data]);
  const save = useAction(async () => {
    const body = bodyOf(form, create, tenant);
    if (!create) return api<Endpoint & { secret?: string }>('PATCH', `/admin/endpoints/${enc(id)}`, body);
    const path = tenant ? `/admin/tenants/${enc(tenant)}/endpoints` : '/admin/endpoints';
    return api<Endpoint & { secret?: string }>('POST', path, body);
  });
  const writable = canWrite(principal);
  const set = (k: keyof Form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const readonlyConfig = existing.data?.source === 'config';
  const saved = save.result;
  return (
    <>
      <p>
        <a href={tenant ? href('tenants', tenant, 'endpoints') : href('endpoints')}>← Endpoints</a>
      </p>
      <h1>{create ? 'New endpoint' : `Edit endpoint ${id}`}</h1>
      <ReadOnlyNote show={!writable} />
      <Loading when={existing.loading && !create} />
      <ErrorBox error={existing.error} />
      {readonlyConfig ? (
        <p class="notice" role="note">
          This endpoint is declared in gateway.yaml: change it there. Here it can only be paused and resumed.
        </p>
      ) : null}
      {saved ? (
        <div class="card" role="status">
          <p class="good-text">
            Endpoint <a href={href('endpoints', saved.id)}>{saved.id}</a> {create ? 'created' : 'saved'}.
          </p>
          {saved.secret ? (
            <p>
              Its signing secret (shown once here; reveal it again on the endpoint's page): <code class="secret">{saved.secret}</code>
            </p>
          ) : null}
        </div>
      ) : null}
      <form
        class="card form"
        aria-label={create ? 'New endpoint' : `Edit endpoint ${id}`}
        onSubmit={(e) => {
          e.preventDefault();
          void save.go();
        }}
      >
        {create ? (
          <label>
            Id (optional) <input name="id" value={form.id} onInput={set('id')} placeholder="generated when empty" />
          </label>
        ) : null}
        {create && !tenant ? (
          <label>
            Tenant <input name="tenant" value={form.tenant} onInput={set('tenant')} placeholder="default" />
          </label>
        ) : null}
        <label>
          URL <input name="url" required value={form.url} onInput={set('url')} placeholder="https://hooks.example.com/billing" />
        </label>
        <label>
          Event types (comma-separated patterns) <input name="events" value={form.events} onInput={set('events')} placeholder="invoice.*, customer.created (empty: all)" />
        </label>
        <label>
          Description <input name="description" value={form.description} onInput={set('description')} />
        </label>
        <label>
          Rate limit per second <input name="rateLimitPerSec" inputMode="numeric" value={form.rateLimitPerSec} onInput={set('rateLimitPerSec')} />
        </label>
        <label>
          Custom headers (JSON object) <textarea name="headers" rows={2} value={form.headers} onInput={set('headers')} />
        </label>
        <button type="submit" disabled={!writable || save.busy || readonlyConfig} aria-describedby={writable ? undefined : 'read-only-note'}>
          {create ? 'Create endpoint' : 'Save changes'}
        </button>
        <ErrorBox error={save.error} />
      </form>
    </>
  );
}

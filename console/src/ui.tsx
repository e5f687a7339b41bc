/** Small shared pieces: error and empty states, JSON blocks, time and status formatting. */
import type { ComponentChildren } from 'preact';
import type { ApiError } from './api.js';
import { READ_ONLY_NOTE } from './session.js';

/** A route the running gateway does not have (an older server): the page says so instead of failing. */
export function isMissingRoute(e: ApiError | undefined): boolean {
  return !!e && e.status === 404 && e.code === 'HG_ADMIN_NOT_FOUND';
}

export function ErrorBox({ error, what }: { error: ApiError | undefined; what?: string }) {
  if (!error) return null;
  if (isMissingRoute(error)) return <NotAvailable what={what ?? 'This view'} />;
  return (
    <div class="error" role="alert">
      <strong>{error.code}</strong>
      {error.status ? ` (${error.status})` : ''}: {error.message}
    </div>
  );
}

export function NotAvailable({ what }: { what: string }) {
  return (
    <p class="notice" role="status">
      {what} is not available: this gateway's admin API does not have the route it needs (an older hookgate version).
    </p>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? (
    <p class="muted" role="status">
      Loading…
    </p>
  ) : null;
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" tabIndex={0} aria-label={label}>
      {typeof value === 'string' ? value : JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function Status({ value }: { value: string | number | null | undefined }) {
  const v = value === null || value === undefined ? '—' : String(value);
  const cls = /^(delivered|enabled|healthy|ok|true|2\d\d)$/.test(v)
    ? 'good'
    : /^(failed|disabled|unhealthy|open|error|false|[45]\d\d|0)$/.test(v)
      ? 'bad'
      : 'warn';
  return <span class={`badge ${cls}`}>{v}</span>;
}

export function time(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** The explanation shown beside write controls a read-only token cannot use. */
export function ReadOnlyNote({ show }: { show: boolean }) {
  return show ? (
    <p class="notice" id="read-only-note" role="note">
      {READ_ONLY_NOTE}
    </p>
  ) : null;
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-labelledby={id ? `${id}-h` : undefined}>
      <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
      {children}
    </section>
  );
}

/** A <dl> of label/value pairs. */
export function Facts({ items }: { items: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Turns a datetime-local input value (local time, no zone) into ISO 8601 UTC for the API. */
export function localToIso(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** A datetime-local value for `ms` ago. */
export function localAgo(ms: number): string {
  const d = new Date(Date.now() - ms - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/**
 * Retry in bulk (POST /admin/messages/retry) and recover an endpoint (POST /admin/endpoints/{id}/recover):
 * a dry run first shows how many deliveries would be queued, then a second press confirms.
 */
import { useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { useAction } from '../hooks.js';
import { ErrorBox, localAgo, localToIso } from '../ui.js';

interface Counted {
  dryRun?: boolean;
  count?: number;
  queued?: number;
  messages: number;
  since: string;
  until: string;
}

export function BulkRetry({ filter, disabled, endpointFixed }: { filter: { tenant?: string; endpoint?: string; eventType?: string }; disabled: boolean; endpointFixed?: string }) {
  const [since, setSince] = useState(localAgo(3600_000));
  const [until, setUntil] = useState('');
  const [endpoint, setEndpoint] = useState(endpointFixed ?? filter.endpoint ?? '');
  const [counted, setCounted] = useState<Counted | null>(null);
  const recover = endpointFixed !== undefined;
  const call = (dryRun: boolean) => {
    const range = { since: localToIso(since), until: localToIso(until), dryRun };
    if (recover) return api<Counted>('POST', `/admin/endpoints/${enc(endpointFixed)}/recover`, range);
    return api<Counted>('POST', '/admin/messages/retry', {
      status: 'failed',
      ...range,
      ...(filter.eventType ? { eventType: filter.eventType } : {}),
      ...(filter.tenant ? { tenant: filter.tenant } : {}),
      ...(endpoint ? { endpoint } : {}),
    });
  };
  const count = useAction(async () => {
    const r = await call(true);
    setCounted(r);
    return r;
  });
  const confirm = useAction(async () => {
    const r = await call(false);
    setCounted(null);
    return r;
  });
  const title = recover ? `Recover endpoint ${endpointFixed}` : 'Retry failed deliveries in bulk';
  const idp = recover ? 'recover' : 'bulk';
  return (
    <form
      class="card bulk"
      aria-label={title}
      onSubmit={(e) => {
        e.preventDefault();
        confirm.reset();
        void count.go();
      }}
    >
      <h2>{title}</h2>
      <p class="muted">
        {recover
          ? `Queues again the failed deliveries to ${endpointFixed} whose last failure is in the chosen time range.`
          : `Queues again the failed deliveries whose last failure is in the chosen time range, for ${filter.tenant ? `tenant ${filter.tenant}` : 'any tenant'}, ${filter.eventType ? `event type ${filter.eventType}` : 'any event type'} and ${endpoint ? `endpoint ${endpoint}` : 'any endpoint'}.`}
      </p>
      <div class="row">
        <label>
          Failed since <input name={`${idp}-since`} type="datetime-local" required value={since} onInput={(e) => (setSince((e.target as HTMLInputElement).value), setCounted(null))} />
        </label>
        <label>
          Until <input name={`${idp}-until`} type="datetime-local" value={until} onInput={(e) => (setUntil((e.target as HTMLInputElement).value), setCounted(null))} />
        </label>
        {recover ? null : (
          <label>
            Endpoint <input name="bulk-endpoint" value={endpoint} placeholder="any" onInput={(e) => (setEndpoint((e.target as HTMLInputElement).value), setCounted(null))} />
          </label>
        )}
        <button type="submit" disabled={disabled || count.busy} aria-describedby={disabled ? 'read-only-note' : undefined}>
          Count failed deliveries
        </button>
      </div>
      {counted ? (
        <p role="status" class="confirm">
          <span class="count">
            {counted.count} failed {counted.count === 1 ? 'delivery' : 'deliveries'} in {counted.messages} {counted.messages === 1 ? 'message' : 'messages'}
          </span>{' '}
          would be queued again.{' '}
          <button type="button" disabled={disabled || confirm.busy || !counted.count} onClick={() => void confirm.go()}>
            Retry {counted.count} {counted.count === 1 ? 'delivery' : 'deliveries'}
          </button>{' '}
          <button type="button" class="secondary" onClick={() => setCounted(null)}>
            Cancel
          </button>
        </p>
      ) : null}
      {confirm.result ? (
        <p role="status" class="good-text">
          Queued {confirm.result.queued} {confirm.result.queued === 1 ? 'delivery' : 'deliveries'} ({confirm.result.messages} messages).
        </p>
      ) : null}
      <ErrorBox error={count.error ?? confirm.error} />
    </form>
  );
}

/** A message: its payload and, per target, the attempts with the request sent and the response received. */
import { api, enc } from '../api.js';
import { useAction, useInterval, useLoad } from '../hooks.js';
import { href } from '../router.js';
import { canWrite, type Principal } from '../session.js';
import { ErrorBox, Facts, Json, Loading, ReadOnlyNote, Section, Status, time } from '../ui.js';

export interface Attempt {
  target: string;
  attempt: number;
  at: string;
  status: number;
  durationMs: number;
  error?: string;
  response?: string;
  request?: { url: string; headers: Record<string, string> };
  responseHeaders?: Record<string, string | string[]>;
}
interface Delivery {
  status: string;
  attempts: Attempt[];
}
interface Message {
  id: string;
  kind: string;
  tenant: string;
  eventType: string | null;
  createdAt: string;
  orderingKey: string | null;
  status: string;
  payload?: unknown;
  /** Async ingress: what was received. */
  request?: { method: string; path: string; bodyBytes: number };
  deliveries: Record<string, Delivery>;
}

export function AttemptList({ attempts }: { attempts: Attempt[] }) {
  if (attempts.length === 0) return <p class="muted">No attempt yet.</p>;
  return (
    <ol class="attempts">
      {attempts.map((a) => (
        <li key={a.attempt} class="attempt" data-attempt={a.attempt}>
          <div class="attempt-head">
            Attempt {a.attempt} at {time(a.at)}: <Status value={a.status} /> in {a.durationMs} ms{a.error ? <span class="bad-text"> — {a.error}</span> : null}
          </div>
          <details>
            <summary>Request sent</summary>
            {a.request ? (
              <>
                <p>
                  POST <code>{a.request.url}</code>
                </p>
                <Json label={`Headers sent in attempt ${a.attempt}`} value={a.request.headers} />
              </>
            ) : (
              <p class="muted">Not recorded by this gateway version (the body sent is the payload above).</p>
            )}
          </details>
          <details>
            <summary>Response received</summary>
            {a.responseHeaders ? <Json label={`Response headers of attempt ${a.attempt}`} value={a.responseHeaders} /> : null}
            {a.response !== undefined && a.response !== null && a.response !== '' ? (
              <Json label={`Response body of attempt ${a.attempt}`} value={a.response} />
            ) : (
              <p class="muted">No response body.</p>
            )}
          </details>
        </li>
      ))}
    </ol>
  );
}

export function MessageDetailPage({ id, principal }: { id: string; principal: Principal }) {
  const msg = useLoad(() => api<Message>('GET', `/admin/messages/${enc(id)}`), [id]);
  const pending = msg.data && Object.values(msg.data.deliveries).some((d) => d.status === 'pending');
  useInterval(() => {
    if (pending) msg.reload();
  }, 1000);
  const retry = useAction(async (endpoint?: string) => {
    const r = await api<{ queued: number }>('POST', `/admin/messages/${enc(id)}/retry`, endpoint ? { endpoint } : {});
    msg.reload();
    return r;
  });
  const writable = canWrite(principal);
  const m = msg.data;
  return (
    <>
      <p>
        <a href={principal.role === 'portal' ? href('tenants', principal.tenant ?? '', 'messages') : href('messages')}>← Messages</a>
      </p>
      <h1>Message {id}</h1>
      <Loading when={msg.loading && !m} />
      <ErrorBox error={msg.error} />
      {m ? (
        <>
          <Section title="Summary">
            <Facts
              items={[
                ['Status', <Status value={m.status} />],
                ['Kind', m.kind],
                ['Event type', m.eventType ?? '—'],
                ['Tenant', m.tenant],
                ['Created', time(m.createdAt)],
                ['Ordering key', m.orderingKey ?? '—'],
              ]}
            />
            <ReadOnlyNote show={!writable} />
            <button
              type="button"
              disabled={!writable || retry.busy || !Object.values(m.deliveries).some((d) => d.status === 'failed')}
              aria-describedby={writable ? undefined : 'read-only-note'}
              onClick={() => void retry.go()}
            >
              Retry all failed deliveries
            </button>
            {retry.result ? (
              <p role="status" class="good-text">
                Queued {retry.result.queued} {retry.result.queued === 1 ? 'delivery' : 'deliveries'}.
              </p>
            ) : null}
            <ErrorBox error={retry.error} />
          </Section>
          {m.request ? (
            <Section title="Received request">
              <p>
                {m.request.method} <code>{m.request.path}</code> ({m.request.bodyBytes} bytes), forwarded to each target as received.
              </p>
            </Section>
          ) : null}
          {m.payload !== undefined ? (
            <Section title="Payload">
              <Json label="Message payload" value={m.payload} />
            </Section>
          ) : null}
          {Object.entries(m.deliveries).map(([target, d]) => (
            <section class="card delivery-card" key={target} data-target={target} aria-labelledby={`t-${target}`}>
              <h2 id={`t-${target}`}>
                Delivery to {target}: <Status value={d.status} />
              </h2>
              <button
                type="button"
                disabled={!writable || retry.busy}
                aria-describedby={writable ? undefined : 'read-only-note'}
                aria-label={`${d.status === 'delivered' ? 'Resend' : 'Retry'} delivery to ${target}`}
                onClick={() => void retry.go(target)}
              >
                {d.status === 'delivered' ? 'Resend' : 'Retry'}
              </button>
              <AttemptList attempts={d.attempts} />
            </section>
          ))}
        </>
      ) : null}
    </>
  );
}

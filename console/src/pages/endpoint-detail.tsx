/** One endpoint: state and health, pause/resume, secrets (rotate, reveal), send an example, recover. */
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { useAction, useLoad } from '../hooks.js';
import { href, navigate } from '../router.js';
import { canWrite, type Principal } from '../session.js';
import { ErrorBox, Facts, Loading, ReadOnlyNote, Section, Status, time } from '../ui.js';
import { BulkRetry } from './bulk.js';
import type { Endpoint } from './endpoints.js';
import { AttemptList, type Attempt } from './message-detail.js';

function Secrets({ id, writable }: { id: string; writable: boolean }) {
  const [grace, setGrace] = useState('86400');
  const rotate = useAction(() => api<{ secret: string; previousSecretsExpireAt: string | null }>('POST', `/admin/endpoints/${enc(id)}/rotate-secret`, { graceSec: Number(grace) }));
  const reveal = useAction(() => api<{ secrets: Array<{ secret: string; expiresAt: string | null }> }>('GET', `/admin/endpoints/${enc(id)}/secret`));
  return (
    <Section title="Signing secret" id="secret">
      {writable ? (
        <>
          <form
            class="row"
            aria-label="Rotate the signing secret"
            onSubmit={(e) => {
              e.preventDefault();
              void rotate.go().then(() => reveal.result && reveal.go());
            }}
          >
            <label>
              Grace period for the old secret (seconds) <input name="graceSec" inputMode="numeric" value={grace} onInput={(e) => setGrace((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit" disabled={rotate.busy}>
              Rotate secret
            </button>
          </form>
          {rotate.result ? (
            <p role="status" class="good-text">
              Rotated. New secret: <code class="secret new-secret">{rotate.result.secret}</code>
              {rotate.result.previousSecretsExpireAt ? `; the previous one is still accepted until ${time(rotate.result.previousSecretsExpireAt)}.` : '.'}
            </p>
          ) : null}
          <ErrorBox error={rotate.error} />
          <button type="button" class="secondary" disabled={reveal.busy} onClick={() => void (reveal.result ? reveal.reset() : reveal.go())}>
            {reveal.result ? 'Hide secrets' : 'Reveal secrets'}
          </button>
          {reveal.result ? (
            <ul class="secrets" aria-label="Live signing secrets">
              {reveal.result.secrets.map((s, i) => (
                <li key={s.secret}>
                  <code class="secret">{s.secret}</code> {i === 0 ? '(current)' : ''} {s.expiresAt ? `expires ${time(s.expiresAt)}` : 'no expiry'}
                </li>
              ))}
            </ul>
          ) : null}
          <ErrorBox error={reveal.error} />
        </>
      ) : (
        <p class="muted">Rotating and revealing secrets needs a write token.</p>
      )}
    </Section>
  );
}

function SendExample({ ep, writable }: { ep: Endpoint; writable: boolean }) {
  const types = useLoad(() => api<{ eventTypes: Array<{ name: string; version: number; examples?: unknown[] }> }>('GET', '/admin/event-types'), []);
  const names = [...new Set((types.data?.eventTypes ?? []).filter((t) => t.examples?.length).map((t) => t.name))];
  const [type, setType] = useState('');
  const [attempts, setAttempts] = useState<Attempt[] | null>(null);
  const send = useAction(async () => {
    setAttempts(null);
    const r = await api<{ id: string }>('POST', `/admin/endpoints/${enc(ep.id)}/send-example`, { eventType: type || names[0] });
    return r;
  });
  const messageId = send.result?.id;
  useEffect(() => {
    if (!messageId) return;
    let live = true;
    const deadline = Date.now() + 30000;
    const poll = async () => {
      while (live && Date.now() < deadline) {
        const m = await api<{ deliveries: Record<string, { status: string; attempts: Attempt[] }> }>('GET', `/admin/messages/${enc(messageId)}`).catch(() => null);
        const d = m?.deliveries[ep.id];
        if (d && d.attempts.length > 0) {
          if (live) setAttempts(d.attempts);
          if (d.status !== 'pending') return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    void poll();
    return () => {
      live = false;
    };
  }, [messageId]);
  return (
    <Section title="Send an example event" id="example">
      <form
        class="row"
        aria-label="Send an example event"
        onSubmit={(e) => {
          e.preventDefault();
          void send.go();
        }}
      >
        <label>
          Event type
          <select name="eventType" value={type || names[0]} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={!writable || send.busy || names.length === 0} aria-describedby={writable ? undefined : 'read-only-note'}>
          Send example
        </button>
      </form>
      {names.length === 0 && types.data ? <p class="muted">No event type in the catalogue has an example.</p> : null}
      {messageId ? (
        <p role="status">
          Sent as message <a href={href('messages', messageId)}>{messageId}</a>
          {attempts ? '' : '; waiting for the attempt…'}
        </p>
      ) : null}
      {attempts ? <AttemptList attempts={attempts} /> : null}
      <ErrorBox error={send.error ?? types.error} />
    </Section>
  );
}

export function EndpointDetailPage({ id, principal }: { id: string; principal: Principal }) {
  const ep = useLoad(() => api<Endpoint & { effectivePolicy?: unknown }>('GET', `/admin/endpoints/${enc(id)}`), [id]);
  const writable = canWrite(principal);
  const toggle = useAction(async (disabled: boolean) => {
    const r = await api('PATCH', `/admin/endpoints/${enc(id)}`, { disabled });
    ep.reload();
    return r;
  });
  const remove = useAction(async () => {
    await api('DELETE', `/admin/endpoints/${enc(id)}`);
    navigate(principal.role === 'portal' ? href('tenants', principal.tenant ?? '', 'endpoints') : href('endpoints'));
  });
  const e = ep.data;
  const back = principal.role === 'portal' ? href('tenants', principal.tenant ?? '', 'endpoints') : href('endpoints');
  return (
    <>
      <p>
        <a href={back}>← Endpoints</a>
      </p>
      <h1>Endpoint {id}</h1>
      <Loading when={ep.loading && !e} />
      <ErrorBox error={ep.error} />
      <ReadOnlyNote show={!writable} />
      {e ? (
        <>
          <Section title="Summary">
            <Facts
              items={[
                ['URL', <code>{e.url}</code>],
                ['Tenant', e.tenant],
                ['Events', e.events ? e.events.join(', ') : 'all'],
                ['State', <><Status value={e.state} />{e.disabledReason ? ` (${e.disabledReason})` : ''}</>],
                ['Health', <><Status value={e.health?.state ?? '—'} />{e.health?.reason ? ` ${e.health.reason}` : ''}{e.health?.since ? ` since ${time(e.health.since)}` : ''}</>],
                ['Next probe', time(e.health?.nextProbeAt)],
                ['Source', e.source],
                ['Description', e.description ?? '—'],
                ['Secrets', `${e.secrets.length} live`],
              ]}
            />
            <p class="actions">
              <button type="button" disabled={!writable || toggle.busy} aria-describedby={writable ? undefined : 'read-only-note'} onClick={() => void toggle.go(e.state !== 'disabled')}>
                {e.state === 'disabled' ? 'Resume endpoint' : 'Pause endpoint'}
              </button>
              {writable && e.source !== 'config' ? (
                <a class="button secondary" href={href('endpoints', id, 'edit')}>
                  Edit endpoint
                </a>
              ) : null}
              <a class="button secondary" href={principal.role === 'portal' ? href('tenants', e.tenant, 'messages', { endpoint: id }) : href('messages', { endpoint: id })}>
                Messages to this endpoint
              </a>
              {writable && e.source !== 'config' ? (
                <button type="button" class="danger" disabled={remove.busy} onClick={() => confirm(`Delete endpoint ${id}?`) && void remove.go()}>
                  Delete endpoint
                </button>
              ) : null}
            </p>
            <ErrorBox error={toggle.error ?? remove.error} />
          </Section>
          <Secrets id={id} writable={writable} />
          <SendExample ep={e} writable={writable} />
          <BulkRetry disabled={!writable} filter={{}} endpointFixed={id} />
        </>
      ) : null}
    </>
  );
}

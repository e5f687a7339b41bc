/** Config: the running config (redacted by the server), its generation, the reload history, a reload button. */
import { api } from '../api.js';
import { useAction, useLoad } from '../hooks.js';
import { canWrite, type Principal } from '../session.js';
import { Table } from '../table.js';
import { ErrorBox, Json, Loading, NotAvailable, ReadOnlyNote, Section, Status, isMissingRoute, time } from '../ui.js';

interface Reloads {
  generation: number;
  reloads: Array<{ at: string; trigger: string; ok: boolean; generation?: number; error?: { code: string; message: string } }>;
}

export function ConfigPage({ principal }: { principal: Principal }) {
  const config = useLoad(() => api<unknown>('GET', '/admin/config'), []);
  const routes = useLoad(() => api<{ generation: number }>('GET', '/admin/routes'), []);
  const reloads = useLoad(() => api<Reloads>('GET', '/admin/reloads'), []);
  const writable = principal.role === 'write' && canWrite(principal);
  const reload = useAction(async () => {
    try {
      return await api<{ generation: number; routes: number; restartRequired: string[] }>('POST', '/admin/reload');
    } finally {
      config.reload();
      routes.reload();
      reloads.reload();
    }
  });
  return (
    <>
      <h1>Config</h1>
      <Section title="Generation and reload" id="gen">
        <p>
          Running config generation: <strong class="generation">{reloads.data?.generation ?? routes.data?.generation ?? '…'}</strong>
        </p>
        <ReadOnlyNote show={!writable} />
        <button type="button" disabled={!writable || reload.busy} aria-describedby={writable ? undefined : 'read-only-note'} onClick={() => void reload.go()}>
          Reload config
        </button>
        {reload.result ? (
          <p role="status" class="good-text">
            Reloaded: generation {reload.result.generation}, {reload.result.routes} routes
            {reload.result.restartRequired?.length ? `; needs a restart for ${reload.result.restartRequired.join(', ')}` : ''}.
          </p>
        ) : null}
        <ErrorBox error={reload.error} />
      </Section>
      <Section title="Last reloads" id="reloads">
        {isMissingRoute(reloads.error) ? <NotAvailable what="The reload history (GET /admin/reloads)" /> : <ErrorBox error={reloads.error} />}
        {reloads.data ? (
          <Table
            caption={`The last reload attempts (${reloads.data.reloads.length}), newest first`}
            rows={[...reloads.data.reloads].sort((a, b) => b.at.localeCompare(a.at))}
            rowKey={(_, i) => i}
            columns={[
              { head: 'Time', cell: (r) => time(r.at) },
              { head: 'Trigger', cell: (r) => r.trigger },
              { head: 'Result', cell: (r) => <Status value={r.ok ? 'ok' : 'failed'} /> },
              { head: 'Generation', cell: (r) => r.generation ?? '—' },
              { head: 'Error', cell: (r) => (r.error ? `${r.error.code}: ${r.error.message}` : '') },
            ]}
          />
        ) : null}
      </Section>
      <Section title="Running config (secrets redacted)" id="config">
        <Loading when={config.loading && !config.data} />
        <ErrorBox error={config.error} />
        {config.data ? <Json label="Running config" value={config.data} /> : null}
      </Section>
    </>
  );
}

/** The event catalogue: every type and version with its schema and examples. */
import { api } from '../api.js';
import { useLoad } from '../hooks.js';
import { ErrorBox, Json, Loading } from '../ui.js';

interface EventType {
  name: string;
  version: number;
  description: string | null;
  schema: unknown;
  deprecated: unknown;
  examples: unknown[] | null;
  source: string;
}

export function CataloguePage() {
  const types = useLoad(() => api<{ eventTypes: EventType[] }>('GET', '/admin/event-types'), []);
  return (
    <>
      <h1>Event catalogue</h1>
      <Loading when={types.loading && !types.data} />
      <ErrorBox error={types.error} />
      {types.data?.eventTypes.length === 0 ? <p class="muted">The catalogue is empty.</p> : null}
      {types.data?.eventTypes.map((t) => (
        <section class="card" key={`${t.name}@${t.version}`} aria-labelledby={`et-${t.name}-${t.version}`}>
          <h2 id={`et-${t.name}-${t.version}`}>
            {t.name} <span class="muted">v{t.version}</span>
            {t.deprecated ? <span class="badge warn">deprecated</span> : null}
          </h2>
          <p>{t.description ?? <span class="muted">No description.</span>}</p>
          <p class="muted">Source: {t.source}</p>
          <details open>
            <summary>Schema</summary>
            {t.schema ? <Json label={`Schema of ${t.name} v${t.version}`} value={t.schema} /> : <p class="muted">No schema: any data is accepted.</p>}
          </details>
          <details>
            <summary>Examples ({t.examples?.length ?? 0})</summary>
            {(t.examples ?? []).map((ex, i) => (
              <Json key={i} label={`Example ${i + 1} of ${t.name}`} value={ex} />
            ))}
          </details>
        </section>
      ))}
    </>
  );
}

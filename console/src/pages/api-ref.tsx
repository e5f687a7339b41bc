/** The OpenAPI document (GET /admin/openapi.json) rendered here: paths, operations, parameters, schemas. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useLoad } from '../hooks.js';
import { Table } from '../table.js';
import { ErrorBox, Json, Loading } from '../ui.js';

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'];

interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: unknown }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
  'x-hookgate-roles'?: string[];
  'x-hookgate-portal-scope'?: string;
}

function Op({ method, path, op }: { method: string; path: string; op: Operation }) {
  const body = op.requestBody?.content ? Object.entries(op.requestBody.content)[0] : undefined;
  return (
    <details class="op">
      <summary>
        <span class={`method m-${method}`}>{method.toUpperCase()}</span> <code>{path}</code> {op.summary ? <span class="muted">{op.summary}</span> : null}
      </summary>
      {op.description ? <p>{op.description}</p> : null}
      {op['x-hookgate-roles'] ? (
        <p class="muted">
          Tokens: {op['x-hookgate-roles'].join(', ')}
          {op['x-hookgate-portal-scope'] ? ` (portal scope: ${op['x-hookgate-portal-scope']})` : ''}
        </p>
      ) : null}
      {op.parameters?.length ? (
        <Table
          caption="Parameters"
          rows={op.parameters}
          rowKey={(p) => `${p.in}:${p.name}`}
          columns={[
            { head: 'Name', cell: (p) => <code>{p.name}</code> },
            { head: 'In', cell: (p) => p.in },
            { head: 'Required', cell: (p) => (p.required ? 'yes' : 'no') },
            { head: 'Description', cell: (p) => p.description ?? '' },
          ]}
        />
      ) : null}
      {body ? (
        <>
          <h4>Request body ({body[0]})</h4>
          <Json label={`Request body schema of ${method.toUpperCase()} ${path}`} value={body[1].schema ?? {}} />
        </>
      ) : null}
      <h4>Responses</h4>
      <ul>
        {Object.entries(op.responses ?? {}).map(([code, r]) => (
          <li key={code}>
            <strong>{code}</strong> {r.description ?? ''}
          </li>
        ))}
      </ul>
    </details>
  );
}

export function ApiRefPage() {
  const doc = useLoad(() => api<any>('GET', '/admin/openapi.json'), []);
  const [filter, setFilter] = useState('');
  const d = doc.data;
  const ops: Array<{ tag: string; method: string; path: string; op: Operation }> = [];
  for (const [path, item] of Object.entries<Record<string, Operation>>(d?.paths ?? {}))
    for (const m of METHODS) {
      const op = item[m];
      if (op && `${m} ${path} ${op.summary ?? ''}`.toLowerCase().includes(filter.toLowerCase())) ops.push({ tag: op.tags?.[0] ?? 'other', method: m, path, op });
    }
  const tags: Array<{ name: string; description?: string }> = d?.tags ?? [];
  const tagNames = [...new Set([...tags.map((t) => t.name), ...ops.map((o) => o.tag)])];
  const schemas = Object.entries<unknown>(d?.components?.schemas ?? {});
  return (
    <>
      <h1>API reference</h1>
      <Loading when={doc.loading && !d} />
      <ErrorBox error={doc.error} />
      {d ? (
        <>
          <p>
            {d.info?.title} {d.info?.version} (OpenAPI {d.openapi}). {d.info?.description}
          </p>
          <label class="inline">
            Filter operations <input type="search" name="filter" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
          </label>
          {tagNames.map((tag) => {
            const mine = ops.filter((o) => o.tag === tag);
            if (mine.length === 0) return null;
            return (
              <section class="card" key={tag} aria-labelledby={`tag-${tag}`}>
                <h2 id={`tag-${tag}`}>{tag}</h2>
                <p class="muted">{tags.find((t) => t.name === tag)?.description}</p>
                {mine.map((o) => (
                  <Op key={`${o.method} ${o.path}`} {...o} />
                ))}
              </section>
            );
          })}
          <section class="card" aria-labelledby="schemas-h">
            <h2 id="schemas-h">Schemas ({schemas.length})</h2>
            {schemas.map(([name, s]) => (
              <details key={name}>
                <summary>
                  <code>{name}</code>
                </summary>
                <Json label={`Schema ${name}`} value={s} />
              </details>
            ))}
          </section>
        </>
      ) : null}
    </>
  );
}

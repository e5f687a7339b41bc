import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Catalogue } from '../catalogue/catalogue.js';
import type { Snapshot } from '../compile.js';

/** One catalogue event type at one version, as the API documents need it. */
export interface DocumentedEventType {
  name: string;
  version: number;
  description?: string;
  /** JSON Schema 2020-12 of `data`; undefined: any JSON value. */
  schema?: Record<string, unknown>;
  deprecated?: { sunset?: string };
  examples?: unknown[];
}

/**
 * The catalogue's event types, for the documents: the snapshot's compiled catalogue (the types
 * gateway.yaml declares, schema files already read). A boolean schema (`true`) documents as "any".
 */
export function documentedEventTypes(snapshot: Snapshot): DocumentedEventType[] {
  return documentedCatalogue(snapshot.catalogue);
}

/** The same from any catalogue, e.g. the live one with API-created types. */
export function documentedCatalogue(catalogue: Pick<Catalogue, 'list'>): DocumentedEventType[] {
  return catalogue
    .list()
    .map((e) => ({
      name: e.name,
      version: e.version,
      description: e.description,
      schema: typeof e.schema === 'object' ? e.schema : undefined,
      deprecated: e.deprecated,
      examples: e.examples,
    }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
}

/** Reads a JSON or YAML schema file relative to the config's folder. */
export function readSchemaFile(dir: string, file: string): Record<string, unknown> {
  const text = readFileSync(isAbsolute(file) ? file : resolve(dir, file), 'utf8');
  return parseYaml(text) as Record<string, unknown>;
}

/** `invoice.paid` v2 → `invoice.paid.v2`: a key for components, channels and webhooks (the suffix is always there, so keys never collide). */
export function eventKey(t: { name: string; version: number }): string {
  return `${t.name}.v${t.version}`;
}

/**
 * Moves a standalone schema under `base` (a JSON pointer such as `#/components/schemas/x`) of a
 * bigger document: its own `#/...` references are rewritten to point under `base`, and `$schema`
 * / `$id` are dropped, since the document, not the fragment, names the dialect.
 */
export function embedSchema(schema: Record<string, unknown>, base: string): Record<string, unknown> {
  const walk = (v: unknown, top: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, false));
    if (!v || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (top && (k === '$schema' || k === '$id')) continue;
      if (k === '$ref' && typeof x === 'string' && x.startsWith('#')) out[k] = base + x.slice(1);
      else out[k] = walk(x, false);
    }
    return out;
  };
  return walk(schema, true) as Record<string, unknown>;
}

/** Standard Webhooks headers of every delivery, as JSON Schemas. */
export const WEBHOOK_HEADERS: { name: string; description: string; schema: Record<string, unknown> }[] = [
  { name: 'webhook-id', description: 'The message id, the same on every retry: deduplicate on it.', schema: { type: 'string', pattern: '^msg_' } },
  { name: 'webhook-timestamp', description: 'Unix seconds of this attempt; reject old ones.', schema: { type: 'string', pattern: '^[0-9]+$' } },
  { name: 'webhook-signature', description: 'Space-separated `v1,<base64>` HMAC-SHA256 signatures of `{webhook-id}.{webhook-timestamp}.{body}`, one per live secret of the endpoint (Standard Webhooks).', schema: { type: 'string', pattern: '^v1,' } },
];

/** The delivered body: `{type, timestamp, data}`, with `data` as `dataSchema`. */
export function envelopeSchema(t: DocumentedEventType, dataSchema: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    required: ['type', 'timestamp', 'data'],
    properties: {
      type: { const: t.name, description: 'The event type.' },
      timestamp: { type: 'string', format: 'date-time', description: 'When the event was published.' },
      data: dataSchema,
    },
  };
}

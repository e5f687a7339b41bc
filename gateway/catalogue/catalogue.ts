/**
 * The event catalogue: the event types gateway.yaml declares (`eventTypes`), each version with its
 * JSON Schema compiled once per config generation. `compileCatalogue` is called by `compile`, so a
 * bad schema, a missing schema file or an example that breaks its own schema rejects the config
 * with a located error, and `validate` refuses exactly what `start` would.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import type { EventTypeConfig, LoadedConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { compilePayloadSchema, formatFailures, payloadAjv, type PayloadValidator } from './payload-schema.js';

/** One version of an event type as declared (config) or created (admin API): the config's shape. */
export type EventTypeDefinition = EventTypeConfig;

/** A catalogue entry: a definition with its compiled validator. */
export interface CatalogueEntry extends EventTypeDefinition {
  /** `config` entries come from gateway.yaml and are read-only through the admin API. */
  readonly source: 'config' | 'api';
  /** Checks an event's `data` (failure pointers start with `/data`); undefined without a schema. */
  readonly validate: PayloadValidator | undefined;
  readonly createdAt?: number;
  readonly updatedAt?: number;
}

/** The compiled catalogue of one snapshot (or the merged view with API-created types). */
export interface Catalogue {
  /** Every entry, by name then version. */
  list(): CatalogueEntry[];
  /** One version, or the latest (highest) when `version` is omitted. */
  get(name: string, version?: number): CatalogueEntry | undefined;
  /** The versions of a type, ascending ([] when unknown). */
  versions(name: string): number[];
}

/** Builds the lookup structure over entries (later entries never replace earlier ones). */
export function catalogueOf(entries: readonly CatalogueEntry[]): Catalogue {
  const byName = new Map<string, Map<number, CatalogueEntry>>();
  for (const e of entries) {
    let m = byName.get(e.name);
    if (!m) byName.set(e.name, (m = new Map()));
    if (!m.has(e.version)) m.set(e.version, e);
  }
  const sorted = [...byName.keys()].sort().flatMap((n) => [...byName.get(n)!.values()].sort((a, b) => a.version - b.version));
  return {
    list: () => sorted.slice(),
    get(name, version) {
      const m = byName.get(name);
      if (!m) return undefined;
      if (version !== undefined) return m.get(version);
      let best: CatalogueEntry | undefined;
      for (const e of m.values()) if (!best || e.version > best.version) best = e;
      return best;
    },
    versions: (name) => [...(byName.get(name)?.keys() ?? [])].sort((a, b) => a - b),
  };
}

/** An empty catalogue (a config without `eventTypes`). */
export const EMPTY_CATALOGUE: Catalogue = catalogueOf([]);

/**
 * Compiles one definition: the schema, then each example against it.
 * @throws Error naming what is wrong (`schema: ...`, `examples[1]: /amount: must be integer`).
 */
export function compileEventType(def: EventTypeDefinition, source: CatalogueEntry['source'], ajv: Ajv2020 = payloadAjv(), times: { createdAt?: number; updatedAt?: number } = {}): CatalogueEntry {
  let validate: PayloadValidator | undefined;
  if (def.schema !== undefined) {
    try {
      validate = compilePayloadSchema(def.schema, { ajv, prefix: '/data' });
    } catch (err) {
      throw new EventTypeError('schema', `the schema of ${def.name} v${def.version} is not a valid JSON Schema: ${(err as Error).message}`);
    }
    const check = compilePayloadSchema(def.schema, { ajv });
    def.examples.forEach((ex, j) => {
      const failures = check(ex);
      if (failures.length) throw new EventTypeError(`examples[${j}]`, `example ${j} of ${def.name} v${def.version} does not fit its schema: ${formatFailures(failures)}`);
    });
  }
  return { ...def, source, validate, ...times };
}

/** A definition that does not compile; `field` is the key at fault (`schema`, `examples[0]`). */
export class EventTypeError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'EventTypeError';
  }
}

function readSchemaFile(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  // YAML is a superset of JSON: one parser for .json, .yaml and .yml.
  return parseYaml(text) as unknown;
}

/** Compiles `eventTypes` of a config: one ajv for the whole generation, every schema once. */
export function compileCatalogue(loaded: LoadedConfig): Catalogue {
  const list: EventTypeConfig[] = loaded.config.eventTypes ?? [];
  if (list.length === 0) return EMPTY_CATALOGUE;
  const ajv = payloadAjv();
  const seen = new Map<string, number>();
  const entries: CatalogueEntry[] = [];
  list.forEach((t, i) => {
    const where = (sub: (string | number)[] = []) => ({
      file: loaded.file,
      line: loaded.lineOf(['eventTypes', i, ...sub]),
      path: `eventTypes[${i}]${sub.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('')}`,
    });
    const key = `${t.name}@${t.version}`;
    const prev = seen.get(key);
    if (prev !== undefined) throw new ConfigError(`duplicate event type ${t.name} version ${t.version} (first declared at eventTypes[${prev}])`, where(['version']));
    seen.set(key, i);
    if (t.schema !== undefined && t.schemaFile !== undefined) throw new ConfigError(`event type ${t.name}: give "schema" or "schemaFile", not both`, where(['schemaFile']));
    if (t.deprecated && Number.isNaN(Date.parse(t.deprecated.sunset))) throw new ConfigError(`invalid sunset date "${t.deprecated.sunset}"`, where(['deprecated', 'sunset']));
    let schema = t.schema;
    if (t.schemaFile !== undefined) {
      const file = isAbsolute(t.schemaFile) ? t.schemaFile : resolve(loaded.dir, t.schemaFile);
      let read: unknown;
      try {
        read = readSchemaFile(file);
      } catch (err) {
        throw new ConfigError(`cannot read the schema file ${file}: ${(err as Error).message}`, where(['schemaFile']));
      }
      if (typeof read !== 'boolean' && (!read || typeof read !== 'object' || Array.isArray(read))) throw new ConfigError(`the schema file ${file} does not hold a JSON Schema object`, where(['schemaFile']));
      schema = read as Record<string, unknown> | boolean;
    }
    const def: EventTypeDefinition = { name: t.name, version: t.version, examples: t.examples ?? [] };
    if (t.description !== undefined) def.description = t.description;
    if (schema !== undefined) def.schema = schema;
    if (t.schemaFile !== undefined) def.schemaFile = t.schemaFile;
    if (t.deprecated) def.deprecated = t.deprecated;
    if (t.policy) def.policy = t.policy;
    try {
      entries.push(compileEventType(def, 'config', ajv));
    } catch (err) {
      if (!(err instanceof EventTypeError)) throw err;
      const field = err.field === 'schema' && t.schemaFile !== undefined ? ['schemaFile'] : err.field.startsWith('examples[') ? ['examples', Number(err.field.slice(9, -1))] : [err.field];
      throw new ConfigError(err.message, where(field));
    }
  });
  return catalogueOf(entries);
}

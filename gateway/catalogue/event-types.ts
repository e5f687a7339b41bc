/**
 * The event type directory: the one owner of the catalogue as publishing sees it. It merges the
 * snapshot's compiled config types (read-only) with the types created through the admin API (kept
 * in the store, shared by instances), caches the merged view for a second, compiles each API type
 * once per change, makes every change, and admits published events (type, version, schema).
 */
import type { Logger } from 'pino';
import type { Snapshot } from '../compile.js';
import type { DeliveryPolicyConfig } from '../config/types.js';
import { Errors } from '../errors.js';
import { catalogueOf, compileEventType, EventTypeError, type Catalogue, type CatalogueEntry, type EventTypeDefinition } from './catalogue.js';
import { formatFailures, type PayloadFailure } from './payload-schema.js';
import type { EventTypeRecord, EventTypeStore } from './store.js';

/** How long the merged catalogue stands: changes from other instances apply within a second. */
const CACHE_MS = 1000;
/** At most this many failures are listed in an answer (a large array can fail once per item). */
export const MAX_LISTED_FAILURES = 100;

/** What an event is checked with: its type, the version asked for, its data. */
export interface EventToAdmit {
  type: string;
  version?: number;
  data: unknown;
}

/** The verdict on an admitted event: the version it is, and which endpoints receive it. */
export interface EventAdmission {
  /** The catalogue version of the event, or undefined for a type the catalogue does not know. */
  version: number | undefined;
  /** True when an endpoint receives this version: its pin for the type, else the latest version. */
  receives(endpoint: { eventVersions?: Record<string, number> }): boolean;
  /** Set when that version is deprecated: the publisher is told (Deprecation / Sunset headers). */
  deprecated?: { sunset: string };
}

const EVERYONE: EventAdmission = { version: undefined, receives: () => true };

/** The fields the admin API may change on an API-created type (null removes an optional one). */
export interface EventTypeChanges {
  description?: string | null;
  schema?: Record<string, unknown> | boolean | null;
  deprecated?: { sunset: string } | null;
  examples?: unknown[];
  /** The type's delivery policy layer (see gateway/delivery/effective-policy.ts). */
  policy?: DeliveryPolicyConfig | null;
}

export interface EventTypeDirectoryOptions {
  store: EventTypeStore;
  /** The current snapshot: its compiled catalogue and `egress.validation` / `strictTypes`. */
  snapshot: () => Snapshot;
  logger: Logger;
  now: () => number;
}

export class EventTypeDirectory {
  private cached: { catalogue: Catalogue; at: number; snap: Snapshot } | undefined;
  /** Compiled API types by `name@version`, recompiled only when the record changed. */
  private readonly compiled = new Map<string, { updatedAt: number; entry: CatalogueEntry }>();

  constructor(private readonly opts: EventTypeDirectoryOptions) {}

  /** The merged catalogue (config types win over a stored type of the same version), cached for a second. */
  async catalogue(): Promise<Catalogue> {
    return this.current();
  }

  /** `catalogue()`, as a plain value while the cached one stands (no promise on the attempt path). */
  current(): Catalogue | Promise<Catalogue> {
    const c = this.cached;
    if (c && c.snap === this.opts.snapshot() && this.opts.now() - c.at < CACHE_MS) return c.catalogue;
    return this.fresh();
  }

  /** The merged catalogue as stored now, uncached (for the admin API). */
  async fresh(): Promise<Catalogue> {
    const snap = this.opts.snapshot();
    const records = await this.opts.store.list();
    const live = new Set<string>();
    const api: CatalogueEntry[] = [];
    for (const r of records) {
      const key = `${r.name}@${r.version}`;
      live.add(key);
      try {
        api.push(this.entryOf(r));
      } catch (err) {
        // Only reachable if a stored record was changed behind the API's back: skip it, say so.
        this.opts.logger.error({ eventType: r.name, version: r.version, err: (err as Error).message }, 'a stored event type does not compile; ignoring it');
      }
    }
    for (const k of this.compiled.keys()) if (!live.has(k)) this.compiled.delete(k);
    const catalogue = catalogueOf([...snap.catalogue.list(), ...api]);
    this.cached = { catalogue, at: this.opts.now(), snap };
    return catalogue;
  }

  private entryOf(r: EventTypeRecord): CatalogueEntry {
    const key = `${r.name}@${r.version}`;
    const c = this.compiled.get(key);
    if (c && c.updatedAt === r.updatedAt) return c.entry;
    const entry = compileEventType(definitionOf(r), 'api', undefined, { createdAt: r.createdAt, updatedAt: r.updatedAt });
    this.compiled.set(key, { updatedAt: r.updatedAt, entry });
    return entry;
  }

  private changed(): void {
    this.cached = undefined;
  }

  /**
   * Creates an API event type version.
   * @throws GatewayError HG_EVENT_TYPE_EXISTS when that version exists (config or store),
   *   HG_ADMIN_BAD_INPUT when its schema does not compile or an example does not fit it.
   */
  async create(def: EventTypeDefinition): Promise<CatalogueEntry> {
    if (this.opts.snapshot().catalogue.get(def.name, def.version)) throw Errors.EVENT_TYPE_EXISTS(def.name, def.version);
    const t = this.opts.now();
    const rec: EventTypeRecord = { ...definitionOf(def), createdAt: t, updatedAt: t };
    const entry = compileOrBadInput(rec);
    if (!(await this.opts.store.create(rec))) throw Errors.EVENT_TYPE_EXISTS(def.name, def.version);
    this.changed();
    return entry;
  }

  /** Changes an API-created type. @throws HG_EVENT_TYPE_READONLY for a config type. */
  async update(entry: CatalogueEntry, changes: EventTypeChanges): Promise<CatalogueEntry> {
    assertWritable(entry);
    const cur = await this.opts.store.get(entry.name, entry.version);
    if (!cur) throw Errors.EVENT_TYPE_NOT_FOUND(`no event type ${entry.name} version ${entry.version}`);
    const next: EventTypeRecord = { ...cur, updatedAt: Math.max(this.opts.now(), cur.updatedAt + 1) };
    for (const k of ['description', 'schema', 'deprecated', 'policy'] as const) {
      const v = changes[k];
      if (v === null) delete next[k];
      else if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
    }
    if (changes.examples !== undefined) next.examples = changes.examples;
    const compiled = compileOrBadInput(next);
    await this.opts.store.put(next);
    this.changed();
    return compiled;
  }

  /** Deletes an API-created type version. @throws HG_EVENT_TYPE_READONLY for a config type. */
  async remove(entry: CatalogueEntry): Promise<void> {
    assertWritable(entry);
    await this.opts.store.delete(entry.name, entry.version);
    this.changed();
  }

  /**
   * Admits a published event: its version (the one asked for, else the latest), its data against
   * that version's schema (`egress.validation`), and an unknown type (`egress.strictTypes`).
   * @throws GatewayError HG_EVENT_SCHEMA_MISMATCH (with the failures as details), HG_EVENT_TYPE_UNKNOWN;
   *   synchronously when the catalogue is cached, else as the promise's rejection.
   */
  admit(event: EventToAdmit): EventAdmission | Promise<EventAdmission> {
    // A plain value (or a plain throw) while the catalogue is cached: no promise per publish.
    const c = this.current();
    return c instanceof Promise ? c.then((catalogue) => this.admitIn(catalogue, event)) : this.admitIn(c, event);
  }

  private admitIn(catalogue: Catalogue, event: EventToAdmit): EventAdmission {
    const egress = this.opts.snapshot().egress;
    const versions = catalogue.versions(event.type);
    if (versions.length === 0) {
      if (event.version !== undefined) throw Errors.EVENT_TYPE_UNKNOWN(`event type ${event.type} is not in the catalogue, so it has no version ${event.version}`);
      if (egress.strictTypes) throw Errors.EVENT_TYPE_UNKNOWN(`event type ${event.type} is not in the catalogue (egress.strictTypes is on)`);
      return EVERYONE;
    }
    const entry = catalogue.get(event.type, event.version);
    if (!entry) throw Errors.EVENT_TYPE_UNKNOWN(`event type ${event.type} has no version ${event.version} (versions: ${versions.join(', ')})`);
    if (entry.validate && egress.validation !== 'off') {
      const failures = entry.validate(event.data);
      if (failures.length) this.refuseOrWarn(entry, failures, egress.validation === 'enforce');
    }
    const latest = versions[versions.length - 1]!;
    const version = entry.version;
    return { version, deprecated: entry.deprecated, receives: (ep) => (ep.eventVersions?.[event.type] ?? latest) === version };
  }

  private refuseOrWarn(entry: CatalogueEntry, failures: PayloadFailure[], enforce: boolean): void {
    const listed = failures.slice(0, MAX_LISTED_FAILURES);
    const more = failures.length - listed.length;
    const what = `data of ${entry.name} v${entry.version} breaks its schema (${failures.length} failure${failures.length === 1 ? '' : 's'}${more ? `, first ${listed.length} listed` : ''}): ${formatFailures(listed.slice(0, 5))}${listed.length > 5 ? '; ...' : ''}`;
    if (enforce) throw Errors.EVENT_SCHEMA_MISMATCH(what).withDetails(listed);
    this.opts.logger.warn({ code: 'HG_EVENT_SCHEMA_MISMATCH', eventType: entry.name, version: entry.version, details: listed }, `${what}; delivered anyway (egress.validation: warn)`);
  }
}

function definitionOf(d: EventTypeDefinition | EventTypeRecord): EventTypeDefinition {
  const out: EventTypeDefinition = { name: d.name, version: d.version, examples: d.examples ?? [] };
  if (d.description !== undefined) out.description = d.description;
  if (d.schema !== undefined) out.schema = d.schema;
  if (d.deprecated !== undefined) out.deprecated = d.deprecated;
  if (d.policy !== undefined) out.policy = d.policy;
  return out;
}

function compileOrBadInput(rec: EventTypeRecord): CatalogueEntry {
  try {
    return compileEventType(definitionOf(rec), 'api', undefined, { createdAt: rec.createdAt, updatedAt: rec.updatedAt });
  } catch (err) {
    if (err instanceof EventTypeError) throw Errors.ADMIN_BAD_INPUT(`"${err.field}": ${err.message}`);
    throw err;
  }
}

function assertWritable(entry: CatalogueEntry): void {
  if (entry.source === 'config') throw Errors.EVENT_TYPE_READONLY(`event type ${entry.name} version ${entry.version} is declared in gateway.yaml; change it there`);
}

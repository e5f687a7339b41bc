import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Context, CredentialLocations } from './context.js';
import type { Store } from './store/types.js';

/** A plugin's way to answer and stop the pipeline. The core writes it, so every exit is uniform. */
export interface PluginResponse {
  status: number;
  headers?: OutgoingHttpHeaders;
  /** A Buffer or string is sent as is; anything else as JSON. */
  body?: unknown;
}

/** What a plugin instance may do, in three fixed phases. */
export interface PluginInstance {
  /** Ask the core to buffer the raw body before `onRequest` (it is then in `ctx.body`). */
  readonly needsBody?: boolean;
  /** A body cap for this route; the smallest of all caps and `limits.bodyBytes` applies. */
  readonly maxBodyBytes?: number;
  /**
   * Where this instance reads credentials (auth plugins): header names and query parameter
   * names. Collected per route at compile time; the access log redacts them on that route.
   */
  readonly credentials?: Partial<CredentialLocations>;
  /** Request phase: may answer (return a response, or throw a GatewayError) and stop the pipeline. */
  onRequest?(ctx: Context): void | PluginResponse | Promise<void | PluginResponse>;
  /** Response phase: synchronous; may change the response status headers before they are written. */
  onResponse?(ctx: Context, headers: OutgoingHttpHeaders): void;
  /** Log phase: after the response has been sent. Never blocks the response; errors are logged. */
  onLog?(ctx: Context): void;
  /** Called once the generation that owns this instance has drained, on reload or stop. */
  close?(): void | Promise<void>;
}

/** A Prometheus counter a plugin increments; `labels` names every label it was declared with. */
export interface PluginCounter<L extends string = string> {
  inc(labels: Record<L, string>, value?: number): void;
}

/** The gateway's metrics registry, as plugins reach it (scraped at the admin `GET /metrics`). */
export interface PluginMetrics {
  /**
   * The counter `name` (Prometheus naming, e.g. `hookgate_signature_failures_total`). Asking again
   * with the same name and labels, as every reload does, returns the same counter, so counts
   * survive reloads. @throws Error if the name is taken by another metric or other labels.
   */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): PluginCounter<L>;
}

/** Metrics that count nothing: for `hookgate validate`, and compiles outside a running gateway. */
export const NO_METRICS: PluginMetrics = { counter: () => ({ inc() {} }) };

/** What the core hands a plugin when it creates an instance. */
export interface PluginEnv {
  store: Store;
  logger: Logger;
  /** The gateway's metrics registry. */
  metrics: PluginMetrics;
  /** Directory of the config file, to resolve relative paths in params. */
  configDir: string;
  /** The route this instance serves, or undefined for a global plugin. */
  routeName: string | undefined;
  /** The route's `publicUrl`, when declared (used by schemes that sign the URL). */
  publicUrl: string | undefined;
  /**
   * True when the config is only being checked (`hookgate validate`): check the params, but open,
   * create or connect to nothing (no files, directories, sockets or timers). The instance is
   * closed without serving a request.
   */
  dryRun?: boolean;
}

export type JsonSchema = Record<string, unknown>;

/** A plugin: a named module with a params schema and a factory. No base class, no registry. */
export interface PluginDefinition<P = any> {
  name: string;
  /** JSON Schema (draft 2020-12) for the params; defaults are applied before `create`. */
  schema: JsonSchema;
  create(params: P, env: PluginEnv): PluginInstance | Promise<PluginInstance>;
}

const PHASES = new Set(['needsBody', 'maxBodyBytes', 'credentials', 'onRequest', 'onResponse', 'onLog', 'close']);

/** Identity with a type, plus a check that the definition is well formed. */
export function definePlugin<P>(def: PluginDefinition<P>): PluginDefinition<P> {
  assertPluginDefinition(def);
  return def;
}

export function assertPluginDefinition(def: unknown, source = 'plugin'): asserts def is PluginDefinition {
  const d = def as PluginDefinition;
  if (!d || typeof d !== 'object') throw new TypeError(`${source}: a plugin module must export a plugin definition object`);
  if (typeof d.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(d.name))
    throw new TypeError(`${source}: plugin name must be lowercase letters, digits and dashes`);
  if (!d.schema || typeof d.schema !== 'object') throw new TypeError(`${source}: plugin "${d.name}" has no params schema`);
  if (typeof d.create !== 'function') throw new TypeError(`${source}: plugin "${d.name}" has no create(params, env)`);
}

/** Checks an instance only uses the known phases, so a typo (`onRequst`) fails at load, not silently. */
export function assertPluginInstance(name: string, inst: unknown): asserts inst is PluginInstance {
  if (!inst || typeof inst !== 'object') throw new TypeError(`plugin "${name}": create() must return an object`);
  for (const k of Object.keys(inst)) {
    if (!PHASES.has(k)) throw new TypeError(`plugin "${name}": unknown phase or property "${k}" (known: ${[...PHASES].join(', ')})`);
  }
}

/** The union of the credential locations a route's plugins declare, lower-cased. */
export function credentialsOf(instances: PluginInstance[]): CredentialLocations {
  const headers = new Set<string>();
  const query = new Set<string>();
  for (const p of instances) {
    for (const h of p.credentials?.headers ?? []) headers.add(h.toLowerCase());
    for (const q of p.credentials?.query ?? []) query.add(q);
  }
  return Object.freeze({ headers: [...headers], query: [...query] });
}

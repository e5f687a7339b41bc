import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { Logger } from 'pino';
import { compileAlerts, type CompiledAlerts } from './alerts/rules.js';
import { ClientIpResolver } from './client-ip.js';
import { compileEndpointTls, compileUpstreamTls, type ClientTls } from './client-tls.js';
import type { CredentialLocations } from './context.js';
import { compileCatalogue, type Catalogue } from './catalogue/catalogue.js';
import { ajv, describeAjvError, formatPath, pickError, toPointer, validateWithEnvTypes } from './config/load.js';
import type { EgressConfig, GatewayConfig, LoadedConfig, PluginEntry, RetryPolicyConfig, RouteConfig } from './config/types.js';
import { endpointHeadersProblem } from './delivery/endpoint-headers.js';
import { recordSealerOf, type RecordSealer } from './delivery/secret-keys.js';
import { SsrfGuard } from './delivery/ssrf.js';
import { checkTenants } from './delivery/tenant-config.js';
import { ConfigError } from './errors.js';
import { assertPluginDefinition, assertPluginInstance, credentialsOf, NO_METRICS, type PluginDefinition, type PluginEnv, type PluginInstance, type PluginMetrics } from './plugin.js';
import { Router } from './router.js';
import { checkListenerTls } from './tls.js';
import { unmatchedRoute } from './unmatched-route.js';
import type { Store } from './store/types.js';
import { UpstreamPool } from './upstream.js';

export type RouteAction =
  | { kind: 'proxy'; upstream: UpstreamPool; websocket: boolean }
  | { kind: 'respond'; status: number; headers: Record<string, string>; body: Buffer }
  | { kind: 'deliver'; upstream: string; retry: RetryPolicyConfig | undefined; timeoutMs: number | undefined }
  | { kind: 'publish'; retry: RetryPolicyConfig | undefined; tenantFrom: 'body' | 'consumer' };

/** A route compiled once: its plugin phases as plain arrays, its action resolved. */
export interface CompiledRoute {
  readonly name: string;
  readonly config: RouteConfig;
  readonly action: RouteAction;
  readonly onRequest: PluginInstance[];
  readonly onResponse: PluginInstance[];
  readonly onLog: PluginInstance[];
  readonly needsBody: boolean;
  readonly bodyLimit: number;
  readonly stripPrefix: boolean;
  /** Deprecation/Sunset headers, precomputed. */
  readonly extraHeaders: Record<string, string> | undefined;
  /** Plugin names in order, for /admin/routes. */
  readonly pluginNames: string[];
  /** Where this route's plugins read credentials: the access log redacts those. */
  readonly credentials: CredentialLocations;
  /** The core puts `X-Request-Id` on responses: no request-id plugin on the route decides instead. */
  readonly echoRequestId: boolean;
}

/**
 * Everything one config means, compiled once: routes and router, one upstream pool per name
 * (shared by the proxy and `deliver`), the egress settings and endpoints, the SSRF guard. Start,
 * reload and `validate` all call `compile`; the runtime swaps one reference to it. Requests count
 * themselves in `inflight` and delivery attempts in `attempts`, so a retired snapshot is closed
 * only once nothing uses it.
 */
export interface Snapshot {
  readonly id: number;
  readonly loaded: LoadedConfig;
  readonly config: GatewayConfig;
  readonly router: Router<CompiledRoute>;
  readonly routes: CompiledRoute[];
  /**
   * What requests that match no route (404/405/400) run: the global plugins' response and log
   * phases (never their request phase), plus the core's access line when no global `log` exists.
   */
  readonly unmatched: CompiledRoute;
  /** `listen.trustedProxies`, compiled: every request's Context resolves its client with it. */
  readonly clientIp: ClientIpResolver;
  readonly upstreams: ReadonlyMap<string, UpstreamPool>;
  /** Egress settings with defaults applied; `endpoints` are the ones gateway.yaml declares. */
  readonly egress: EgressConfig;
  /** Guards every egress connection (endpoint URLs and their DNS answers). */
  readonly ssrf: SsrfGuard;
  /** TLS settings of the endpoints gateway.yaml declares (PEM read from their files), by id. */
  readonly endpointTls: ReadonlyMap<string, ClientTls>;
  /** Seals endpoint records at rest (`egress.encryptionKey`) and opens them (and `previousEncryptionKeys`). */
  readonly recordSealer: RecordSealer;
  /** The event types gateway.yaml declares, their schemas compiled (API-created ones live in the store). */
  readonly catalogue: Catalogue;
  /** The alert rules (`alerts`, `alerting`) and their channels. */
  readonly alerts: CompiledAlerts;
  readonly instances: { name: string; instance: PluginInstance }[];
  /** Custom plugin files (absolute) to watch. */
  readonly pluginFiles: string[];
  /** Requests of the main listener running on this snapshot. */
  inflight: number;
  /** Delivery attempts running on this snapshot's pools and SSRF guard. */
  attempts: number;
  retired: boolean;
}

export interface CompileOptions {
  builtins: Map<string, PluginDefinition>;
  store: Store;
  logger: Logger;
  id: number;
  /** Writes the access line of unmatched requests when the global plugins have no `log`. */
  unmatchedLog?: PluginInstance;
  /** Only check the config (`hookgate validate`): plugins see `env.dryRun` and open nothing. */
  dryRun?: boolean;
  /** The running gateway's metrics, which plugins may add counters to (default: counting nothing). */
  metrics?: PluginMetrics;
}

const schemaCache = new WeakMap<object, ValidateFunction>();

function paramsValidator(def: PluginDefinition): ValidateFunction {
  let v = schemaCache.get(def.schema);
  if (!v) {
    v = ajv.compile(def.schema);
    schemaCache.set(def.schema, v);
  }
  return v;
}

/** Loads custom plugin modules. A content hash in the URL makes a changed file a new module. */
export async function loadCustomPlugins(loaded: LoadedConfig, builtins: Map<string, PluginDefinition>): Promise<{ defs: Map<string, PluginDefinition>; files: string[] }> {
  const defs = new Map(builtins);
  const files: string[] = [];
  const list = loaded.config.customPlugins ?? [];
  for (let i = 0; i < list.length; i++) {
    const rel = list[i]!;
    const file = isAbsolute(rel) ? rel : resolve(loaded.dir, rel);
    const where = { file: loaded.file, line: loaded.lineOf(['customPlugins', i]), path: `customPlugins[${i}]` };
    let source: Buffer;
    try {
      source = readFileSync(file);
    } catch (err) {
      throw new ConfigError(`cannot read custom plugin ${file}: ${(err as Error).message}`, where);
    }
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(`${pathToFileURL(file).href}?v=${hash}`)) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`custom plugin ${file} failed to load: ${(err as Error).message}`, where);
    }
    const def = (mod.default ?? mod.plugin) as unknown;
    try {
      assertPluginDefinition(def, file);
    } catch (err) {
      throw new ConfigError((err as Error).message, where);
    }
    if (builtins.has(def.name)) throw new ConfigError(`custom plugin ${file} uses the name "${def.name}" of a built-in plugin`, where);
    if (defs.has(def.name)) throw new ConfigError(`two custom plugins are named "${def.name}"`, where);
    defs.set(def.name, def);
    files.push(file);
  }
  return { defs, files };
}

async function instantiate(
  entries: PluginEntry[] | undefined,
  basePath: (string | number)[],
  defs: Map<string, PluginDefinition>,
  loaded: LoadedConfig,
  env: Omit<PluginEnv, 'configDir'> & { dryRun: boolean },
  created: { name: string; instance: PluginInstance }[],
): Promise<{ name: string; instance: PluginInstance }[]> {
  const out: { name: string; instance: PluginInstance }[] = [];
  for (let i = 0; i < (entries ?? []).length; i++) {
    const entry = entries![i]!;
    const name = Object.keys(entry)[0]!;
    const path = [...basePath, i, name];
    const where = (sub: (string | number)[] = []) => ({ file: loaded.file, line: loaded.lineOf([...path, ...sub]), path: formatPath([...path, ...sub]) });
    const def = defs.get(name);
    if (!def) throw new ConfigError(`unknown plugin "${name}" (known: ${[...defs.keys()].sort().join(', ')})`, where());
    const params = structuredClone(entry[name] ?? {}) as Record<string, unknown>;
    const validate = paramsValidator(def);
    // `bytes: "${MAX:-1024}"` in a flow map is a string until the plugin's schema says integer.
    const base = toPointer(path);
    const envScalars = new Map<string, string>();
    for (const [ptr, text] of loaded.envScalars ?? []) if (ptr.startsWith(base + '/')) envScalars.set(ptr.slice(base.length), text);
    if (!validateWithEnvTypes(validate, params, envScalars)) {
      const e = describeAjvError(pickError(validate.errors ?? []));
      throw new ConfigError(`plugin "${name}": ${e.message}`, where(e.path));
    }
    let instance: PluginInstance;
    try {
      instance = await def.create(params, { ...env, configDir: loaded.dir });
      assertPluginInstance(name, instance);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`plugin "${name}": ${(err as Error).message}`, where());
    }
    out.push({ name, instance });
    created.push({ name, instance });
  }
  return out;
}

function compileAction(r: RouteConfig, i: number, loaded: LoadedConfig, upstreams: Map<string, UpstreamPool>): RouteAction {
  const where = (key: string) => ({ file: loaded.file, line: loaded.lineOf(['routes', i, key]), path: `routes[${i}].${key}` });
  const present = (['upstream', 'respond', 'deliver', 'publish'] as const).filter((k) => r[k] !== undefined);
  if (present.length !== 1) {
    throw new ConfigError(
      present.length === 0
        ? `route "${r.name}" has no action: expected one of upstream, respond, deliver, publish`
        : `route "${r.name}" has ${present.length} actions (${present.join(', ')}): expected exactly one`,
      { file: loaded.file, line: loaded.lineOf(['routes', i]), path: `routes[${i}]` },
    );
  }
  const known = () => [...upstreams.keys()].join(', ') || 'none declared';
  if (r.upstream !== undefined) {
    const up = upstreams.get(r.upstream);
    if (!up) throw new ConfigError(`unknown upstream "${r.upstream}" (declared: ${known()})`, where('upstream'));
    return { kind: 'proxy', upstream: up, websocket: r.websocket };
  }
  if (r.deliver) {
    if (!upstreams.has(r.deliver.upstream)) throw new ConfigError(`unknown upstream "${r.deliver.upstream}" (declared: ${known()})`, where('deliver'));
    return { kind: 'deliver', upstream: r.deliver.upstream, retry: r.deliver.retry, timeoutMs: r.deliver.timeoutMs };
  }
  if (r.websocket) throw new ConfigError(`route "${r.name}": websocket: true needs an upstream action`, where('websocket'));
  // `publish: null` gets no schema defaults, so its tenantFrom is the schema's default spelled here.
  if (r.publish !== undefined) return { kind: 'publish', retry: r.publish?.retry, tenantFrom: r.publish?.tenantFrom ?? 'body' };
  const resp = r.respond!;
  const body = resp.body === undefined ? Buffer.alloc(0) : Buffer.from(typeof resp.body === 'string' ? resp.body : JSON.stringify(resp.body));
  const headers: Record<string, string> = {};
  if (resp.body !== undefined) headers['content-type'] = typeof resp.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
  for (const [k, v] of Object.entries(resp.headers ?? {})) headers[k.toLowerCase()] = v;
  return { kind: 'respond', status: resp.status ?? 200, headers, body };
}

/** Checks egress endpoints (unique ids, URLs the SSRF guard allows, headers, TLS files, tenants) and builds the guard. */
function compileEgress(loaded: LoadedConfig): { egress: EgressConfig; ssrf: SsrfGuard; endpointTls: Map<string, ClientTls>; recordSealer: RecordSealer } {
  const endpointTls = new Map<string, ClientTls>();
  const e = loaded.config.egress;
  let recordSealer: RecordSealer;
  try {
    recordSealer = recordSealerOf(e);
  } catch (err) {
    const path = ['egress', ...(err as { path: (string | number)[] }).path];
    throw new ConfigError((err as Error).message, { file: loaded.file, line: loaded.lineOf(path), path: formatPath(path) });
  }
  let ssrf: SsrfGuard;
  try {
    ssrf = new SsrfGuard({ allowCidrs: e.allowCidrs, agentOptions: { maxSockets: 64 } });
  } catch (err) {
    throw new ConfigError((err as Error).message, { file: loaded.file, line: loaded.lineOf(['egress', 'allowCidrs']), path: 'egress.allowCidrs' });
  }
  try {
    const seen = new Set<string>();
    e.endpoints.forEach((ep, i) => {
      const where = { file: loaded.file, line: loaded.lineOf(['egress', 'endpoints', i]), path: `egress.endpoints[${i}]` };
      if (seen.has(ep.id)) throw new ConfigError(`duplicate endpoint id "${ep.id}"`, where);
      seen.add(ep.id);
      try {
        ssrf.checkUrl(ep.url);
      } catch (err) {
        throw new ConfigError((err as Error).message, { ...where, path: `${where.path}.url` });
      }
      const headerProblem = ep.headers && endpointHeadersProblem(ep.headers);
      if (headerProblem) throw new ConfigError(headerProblem, { ...where, line: loaded.lineOf(['egress', 'endpoints', i, 'headers']), path: `${where.path}.headers` });
      const tls = compileEndpointTls(loaded, i);
      if (tls) endpointTls.set(ep.id, tls);
    });
    checkTenants(loaded);
  } catch (err) {
    ssrf.destroy();
    throw err;
  }
  return { egress: e, ssrf, endpointTls, recordSealer };
}

function deprecationHeaders(r: RouteConfig, i: number, loaded: LoadedConfig): Record<string, string> | undefined {
  if (!r.deprecated) return undefined;
  const headers: Record<string, string> = { deprecation: 'true' };
  if (r.deprecated.sunset) {
    const d = new Date(r.deprecated.sunset);
    if (Number.isNaN(d.getTime())) {
      throw new ConfigError(`invalid sunset date "${r.deprecated.sunset}"`, { file: loaded.file, line: loaded.lineOf(['routes', i, 'deprecated', 'sunset']), path: `routes[${i}].deprecated.sunset` });
    }
    headers.sunset = d.toUTCString();
  }
  if (r.deprecated.link) headers.link = `<${r.deprecated.link}>; rel="deprecation"`;
  return headers;
}

function compileClientIp(loaded: LoadedConfig): ClientIpResolver {
  const { trustedProxies, forwardedHeader } = loaded.config.listen;
  try {
    return new ClientIpResolver(trustedProxies, forwardedHeader);
  } catch (err) {
    const i = trustedProxies.findIndex((c) => (err as Error).message.includes(`"${c}"`));
    const path: (string | number)[] = i === -1 ? ['listen', 'trustedProxies'] : ['listen', 'trustedProxies', i];
    throw new ConfigError((err as Error).message, { file: loaded.file, line: loaded.lineOf(path), path: formatPath(path) });
  }
}

/**
 * Compiles a config into a snapshot beside the running one. Nothing here touches the serving
 * state, so a failure leaves the old snapshot serving; whatever was opened before the failure
 * (plugin instances, upstream pools, the SSRF guard) is closed before the error is thrown.
 */
export async function compile(loaded: LoadedConfig, opts: CompileOptions): Promise<Snapshot> {
  const { config } = loaded;
  const created: { name: string; instance: PluginInstance }[] = [];
  const upstreams = new Map<string, UpstreamPool>();
  let ssrf: SsrfGuard | undefined;
  try {
    // Certificate files are read again by the listener at start; this makes validate and a
    // reload refuse unusable ones with a located error.
    checkListenerTls(loaded);
    const catalogue = compileCatalogue(loaded);
    const { defs, files } = await loadCustomPlugins(loaded, opts.builtins);
    for (const [name, cfg] of Object.entries(config.upstreams)) upstreams.set(name, new UpstreamPool(name, cfg, Date.now, compileUpstreamTls(loaded, name, opts.logger)));
    const egress = compileEgress(loaded);
    ssrf = egress.ssrf;
    const alerts = compileAlerts(loaded, ssrf);
    const baseEnv = { store: opts.store, logger: opts.logger, metrics: opts.metrics ?? NO_METRICS, dryRun: opts.dryRun === true };
    const globals = await instantiate(config.plugins, ['plugins'], defs, loaded, { ...baseEnv, routeName: undefined, publicUrl: undefined }, created);
    const names = new Map<string, number>();
    const routes: CompiledRoute[] = [];
    for (let i = 0; i < config.routes.length; i++) {
      const r = config.routes[i]!;
      const prev = names.get(r.name);
      if (prev !== undefined) {
        throw new ConfigError(`duplicate route name "${r.name}" (first used at routes[${prev}])`, {
          file: loaded.file,
          line: loaded.lineOf(['routes', i, 'name']),
          path: `routes[${i}].name`,
        });
      }
      names.set(r.name, i);
      const action = compileAction(r, i, loaded, upstreams);
      const own = await instantiate(r.plugins, ['routes', i, 'plugins'], defs, loaded, { ...baseEnv, routeName: r.name, publicUrl: r.publicUrl }, created);
      const all = [...globals, ...own].map((p) => p.instance);
      const caps = all.map((p) => p.maxBodyBytes).filter((n): n is number => typeof n === 'number');
      routes.push({
        name: r.name,
        config: r,
        action,
        onRequest: all.filter((p) => p.onRequest),
        onResponse: all.filter((p) => p.onResponse),
        onLog: all.filter((p) => p.onLog),
        // deliver and publish keep the raw bytes, so they always buffer.
        needsBody: all.some((p) => p.needsBody) || action.kind === 'deliver' || action.kind === 'publish',
        bodyLimit: Math.min(config.limits.bodyBytes, ...caps),
        stripPrefix: r.stripPrefix,
        extraHeaders: deprecationHeaders(r, i, loaded),
        pluginNames: [...globals, ...own].map((p) => p.name),
        credentials: credentialsOf(all),
        echoRequestId: ![...globals, ...own].some((p) => p.name === 'request-id'),
      });
    }
    const router = new Router(routes.map((r) => ({ path: r.config.path, methods: r.config.methods, host: r.config.host, headers: r.config.headers, route: r })));
    const clientIp = compileClientIp(loaded);
    const unmatched = unmatchedRoute(globals, opts.unmatchedLog);
    return { id: opts.id, loaded, config, router, routes, unmatched, clientIp, upstreams, egress: egress.egress, ssrf, endpointTls: egress.endpointTls, recordSealer: egress.recordSealer, catalogue, alerts, instances: created, pluginFiles: files, inflight: 0, attempts: 0, retired: false };
  } catch (err) {
    await closeInstances(created, opts.logger);
    await Promise.all([...upstreams.values()].map((u) => u.close()));
    ssrf?.destroy();
    throw err;
  }
}

async function closeInstances(list: { name: string; instance: PluginInstance }[], logger: Logger): Promise<void> {
  for (const { name, instance } of list) {
    try {
      await instance.close?.();
    } catch (err) {
      logger.warn({ plugin: name, err: (err as Error).message }, 'plugin close failed');
    }
  }
}

/** Closes a snapshot's plugin instances, upstream pools and SSRF guard. Call once it drained. */
export async function closeSnapshot(snap: Snapshot, logger: Logger): Promise<void> {
  await closeInstances(snap.instances, logger);
  await Promise.all([...snap.upstreams.values()].map((u) => u.close()));
  snap.ssrf.destroy();
}

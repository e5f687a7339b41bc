import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { builtinPlugins } from '../plugins/index.js';
import { AdminServer, redactSecrets } from './admin.js';
import { loadConfigFile, loadConfigText } from './config/load.js';
import type { GatewayConfig, LoadedConfig } from './config/types.js';
import { ConfigError, Errors } from './errors.js';
import { buildGeneration, closeGeneration, type Generation } from './generation.js';
import { Metrics } from './metrics.js';
import type { PluginDefinition } from './plugin.js';
import { RequestHandler, type DeliveryActions } from './server.js';
import { createStore, RedisStore, type Store } from './store/index.js';

/** A long-lived companion to the gateway (the delivery engine) that follows config reloads. */
export interface GatewayService {
  readonly actions: DeliveryActions;
  /** Called with each new config, after it has been validated and before it is swapped in. */
  update(config: GatewayConfig, loaded: LoadedConfig): Promise<void>;
  stop(deadlineMs: number): Promise<void>;
}

export type ServiceFactory = (deps: { config: GatewayConfig; loaded: LoadedConfig; store: Store; logger: Logger; metrics: Metrics; admin: AdminServer | undefined }) => Promise<GatewayService | undefined>;

export interface GatewayOptions {
  /** Path to gateway.yaml. */
  configFile?: string;
  /** Or the YAML text itself (with `configDir` for relative paths); used by tests and embedding. */
  configText?: string;
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Watch the config and custom plugin files and reload on change (default true with a file). */
  watch?: boolean;
  /** Extra built-in plugins (embedding). */
  plugins?: PluginDefinition[];
  /** Creates the delivery engine when the config needs one. */
  services?: ServiceFactory;
}

export interface ReloadResult {
  generation: number;
  routes: number;
  /** Keys that changed but only take effect after a restart. */
  restartRequired: string[];
}

/**
 * The running gateway: a main listener, an admin listener, a store and one current generation.
 * Reload builds a new generation beside the old one, swaps one reference and retires the old
 * one once its in-flight requests have finished.
 */
export class Gateway {
  readonly logger: Logger;
  readonly metrics = new Metrics();
  readonly handler: RequestHandler;
  admin: AdminServer | undefined;
  service: GatewayService | undefined;
  private server: Server | undefined;
  private generationSeq = 0;
  private reloading: Promise<unknown> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private watchTimer: NodeJS.Timeout | undefined;
  private lastSourceHash = '';
  private stopping = false;
  private readonly builtins: Map<string, PluginDefinition>;

  private constructor(
    private readonly opts: GatewayOptions,
    readonly store: Store,
    loaded: LoadedConfig,
    logger: Logger,
  ) {
    this.logger = logger;
    this.builtins = new Map(builtinPlugins.map((p) => [p.name, p]));
    for (const p of opts.plugins ?? []) this.builtins.set(p.name, p);
    this.handler = new RequestHandler(store, logger, this.metrics);
    this.loaded = loaded;
  }

  loaded: LoadedConfig;

  get generation(): Generation | undefined {
    return this.handler.generation;
  }

  private load(): LoadedConfig {
    return loadFrom(this.opts);
  }

  /** Loads, validates and serves a config. Throws ConfigError on an invalid config. */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const logger = opts.logger ?? pino({ level: process.env.HOOKGATE_LOG_LEVEL ?? 'info', base: { service: 'hookgate' } });
    const loaded = loadFrom(opts);
    const { config } = loaded;
    const store = createStore(config.store, logger);
    const gw = new Gateway(opts, store, loaded, logger);
    try {
      if (store instanceof RedisStore) {
        // Start even when Redis is down: /readyz says so and ioredis keeps retrying.
        await store.waitReady(3000).catch((err: Error) => logger.warn({ err: err.message, code: 'HG_STORE_UNAVAILABLE' }, 'redis store not reachable at start; retrying in the background'));
      }
      const gen = await buildGeneration(loaded, { builtins: gw.builtins, store, logger, id: ++gw.generationSeq });
      if (config.admin) {
        gw.admin = new AdminServer(config.admin.token, logger);
        gw.registerAdminRoutes();
      }
      gw.service = await opts.services?.({ config, loaded, store, logger, metrics: gw.metrics, admin: gw.admin });
      gw.handler.delivery = gw.service?.actions;
      gw.handler.generation = gen;
      gw.server = createServer({ keepAliveTimeout: 65_000, headersTimeout: config.limits.headersTimeoutMs, requestTimeout: 0 }, gw.handler.handle);
      await new Promise<void>((res, rej) => {
        gw.server!.once('error', rej);
        gw.server!.listen(config.listen.port, config.listen.host, () => res());
      });
      if (gw.admin && config.admin) await gw.admin.listen(config.admin.host, config.admin.port);
      gw.lastSourceHash = gw.sourceHash(gen);
      if (opts.configFile && opts.watch !== false) gw.watchFiles(gen);
      logger.info({ listen: gw.address(), admin: gw.admin?.address(), routes: gen.routes.length, store: store.driver }, 'hookgate started');
      return gw;
    } catch (err) {
      await gw.stop(0).catch(() => {});
      throw err;
    }
  }

  address(): AddressInfo {
    return this.server!.address() as AddressInfo;
  }

  adminAddress(): AddressInfo | undefined {
    return this.admin?.address();
  }

  private registerAdminRoutes(): void {
    const admin = this.admin!;
    admin.route('POST', '/admin/reload', async () => {
      const r = await this.reload('admin');
      return { status: 200, body: { reloaded: true, ...r } };
    });
    admin.route('GET', '/admin/routes', () => ({
      status: 200,
      body: {
        generation: this.generation?.id,
        routes: (this.generation?.routes ?? []).map((r) => ({
          name: r.name,
          path: r.config.path,
          methods: r.config.methods ?? null,
          host: r.config.host ?? null,
          headers: r.config.headers ?? null,
          action: r.action.kind,
          upstream: r.action.kind === 'proxy' ? r.action.upstream.name : r.action.kind === 'deliver' ? r.action.upstream : null,
          plugins: r.pluginNames,
          deprecated: r.config.deprecated ?? null,
        })),
      },
    }));
    admin.route('GET', '/admin/config', () => ({ status: 200, body: redactSecrets(this.generation?.loaded.config) }));
    const metrics = async () => ({ status: 200, text: await this.metrics.registry.metrics(), contentType: this.metrics.registry.contentType });
    admin.route('GET', '/metrics', metrics);
    admin.route('GET', '/admin/metrics', metrics);
  }

  private sourceHash(gen: Generation): string {
    const h = createHash('sha256');
    for (const f of [gen.loaded.file, ...gen.pluginFiles]) {
      try {
        h.update(readFileSync(f));
      } catch {
        h.update('missing:' + f);
      }
    }
    return h.digest('hex');
  }

  private watchFiles(gen: Generation): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    const byDir = new Map<string, Set<string>>();
    for (const f of [gen.loaded.file, ...gen.pluginFiles]) {
      const d = dirname(f);
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d)!.add(basename(f));
    }
    // Watch directories, not files: editors replace files by rename, which ends a file watch.
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, (_ev, name) => {
          if (name && !names.has(name.toString())) return;
          clearTimeout(this.watchTimer);
          this.watchTimer = setTimeout(() => {
            const cur = this.generation;
            if (!cur || this.stopping || this.sourceHash(cur) === this.lastSourceHash) return;
            this.reload('file change').catch(() => {});
          }, 100);
        });
        w.on('error', (err) => this.logger.warn({ err: err.message, dir }, 'file watch failed'));
        this.watchers.push(w);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, dir }, 'cannot watch config directory; use SIGHUP or POST /admin/reload');
      }
    }
  }

  /**
   * Builds and validates the config beside the running one, then swaps it in. Reloads are
   * serialised. An invalid config is rejected whole: the old one keeps serving.
   */
  reload(trigger: string): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      if (this.stopping) throw Errors.STOPPING();
      const old = this.generation!;
      let gen: Generation;
      let loaded: LoadedConfig;
      try {
        loaded = this.load();
        gen = await buildGeneration(loaded, { builtins: this.builtins, store: this.store, logger: this.logger, id: ++this.generationSeq });
        await this.service?.update(loaded.config, loaded);
      } catch (err) {
        this.metrics.reloads.inc({ result: 'rejected' });
        this.logger.error({ trigger, err: (err as Error).message, code: 'HG_CONFIG_INVALID' }, 'reload rejected; the previous config keeps serving');
        throw err;
      }
      const restartRequired = this.restartRequired(old.loaded.config, loaded.config);
      if (restartRequired.length) this.logger.warn({ keys: restartRequired }, 'these settings changed but take effect only after a restart');
      if (this.admin && loaded.config.admin) this.admin.token = loaded.config.admin.token;
      this.handler.generation = gen;
      this.loaded = loaded;
      this.lastSourceHash = this.sourceHash(gen);
      if (this.opts.configFile && this.opts.watch !== false) this.watchFiles(gen);
      this.metrics.reloads.inc({ result: 'ok' });
      this.logger.info({ trigger, generation: gen.id, routes: gen.routes.length }, 'config reloaded');
      void this.retire(old, loaded.config.limits.drainTimeoutMs);
      return { generation: gen.id, routes: gen.routes.length, restartRequired };
    };
    const p = this.reloading.then(run, run);
    this.reloading = p.catch(() => {});
    return p;
  }

  private restartRequired(a: GatewayConfig, b: GatewayConfig): string[] {
    const keys: string[] = [];
    if (JSON.stringify(a.listen) !== JSON.stringify(b.listen)) keys.push('listen');
    if (JSON.stringify(a.store) !== JSON.stringify(b.store)) keys.push('store');
    if (a.admin?.host !== b.admin?.host || a.admin?.port !== b.admin?.port) keys.push('admin.host/port');
    return keys;
  }

  /** Waits for a retired generation's requests to finish (up to a deadline), then closes it. */
  private async retire(gen: Generation, deadlineMs: number): Promise<void> {
    gen.retired = true;
    await waitFor(() => gen.inflight === 0, deadlineMs);
    if (gen.inflight > 0) this.logger.warn({ generation: gen.id, inflight: gen.inflight }, 'closing a retired config with requests still in flight');
    await closeGeneration(gen, this.logger);
  }

  /**
   * Stops taking requests, lets in-flight ones finish (up to `deadlineMs`), stops the delivery
   * engine (which leaves unfinished work queued) and closes everything.
   */
  async stop(deadlineMs = this.loaded?.config.limits.drainTimeoutMs ?? 30_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.watchTimer);
    for (const w of this.watchers) w.close();
    const server = this.server;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    server?.closeIdleConnections();
    const gen = this.generation;
    if (gen) await waitFor(() => gen.inflight === 0, deadlineMs);
    server?.closeAllConnections();
    await closed;
    await this.service?.stop(deadlineMs).catch((err: Error) => this.logger.error({ err: err.message }, 'delivery stop failed'));
    await this.admin?.close();
    if (gen) await closeGeneration(gen, this.logger);
    this.handler.close();
    await this.store?.close();
    this.logger.info('hookgate stopped');
  }
}

function loadFrom(opts: GatewayOptions): LoadedConfig {
  const env = opts.env ?? process.env;
  if (opts.configFile) return loadConfigFile(opts.configFile, env);
  return loadConfigText(opts.configText ?? '', resolve(opts.configDir ?? process.cwd(), 'gateway.yaml'), env);
}

/** Polls a condition until it holds or the deadline passes. */
export async function waitFor(cond: () => boolean, deadlineMs: number, everyMs = 10): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

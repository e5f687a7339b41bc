import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { builtinPlugins } from '../plugins/index.js';
import { registerConsoleAdmin } from './admin/console-routes.js';
import { registerGatewayAdmin } from './admin/routes.js';
import { AdminServer } from './admin/server.js';
import { closeSnapshot, compile, type Snapshot } from './compile.js';
import { loadConfigFile, loadConfigText } from './config/load.js';
import type { GatewayConfig, LoadedConfig } from './config/types.js';
import { Errors, GatewayError } from './errors.js';
import { exampleSecretsError } from './example-secrets.js';
import { ConsoleState } from './console/state.js';
import { serveConsole } from './console/static.js';
import { createOperationalLogger, unmatchedAccessLog } from './logger.js';
import { MetricsListener } from './metrics-listener.js';
import { createListeners, type Listeners } from './listener.js';
import { Metrics } from './metrics.js';
import { Pipeline, type DeliveryActions } from './pipeline.js';
import type { PluginDefinition, PluginInstance } from './plugin.js';
import { createStore, type Store } from './store/index.js';
import { ConfigWatcher, type ConfigWatcherOptions } from './watch.js';

/** A long-lived companion to the gateway (the delivery engine) that follows config reloads. */
export interface GatewayService {
  readonly actions: DeliveryActions;
  /**
   * Called with each snapshot right after it was swapped in: idempotent side effects only
   * (writing the config's endpoints to the store). A failure is logged and does not undo the swap.
   */
  apply(snap: Snapshot): Promise<void>;
  /**
   * Stops within `deadlineMs` (the gateway's one drain deadline, counted from the call). It runs
   * while the listeners drain: it may stop starting work at once, but must go on accepting
   * messages until `intakeClosed` settles.
   */
  stop(deadlineMs: number, intakeClosed?: Promise<void>): Promise<void>;
}

export type ServiceFactory = (deps: { snapshot: Snapshot; store: Store; logger: Logger; metrics: Metrics; admin: AdminServer | undefined }) => Promise<GatewayService | undefined>;

export interface GatewayOptions {
  /** Path to gateway.yaml. */
  configFile?: string;
  /** Or the YAML text itself (with `configDir` for relative paths); used by tests and embedding. */
  configText?: string;
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /**
   * Watch the config and custom plugin files and reload on change (default true with a file);
   * an object tunes the watcher (tests shorten the content poll or turn file events off).
   */
  watch?: boolean | ConfigWatcherOptions;
  /** Where the console's static files are (default: the package's dist/console); tests point it at a fixture. */
  consoleRoot?: string;
  /** Extra built-in plugins (embedding). */
  plugins?: PluginDefinition[];
  /** Creates the delivery engine when the config needs one. */
  services?: ServiceFactory;
  /**
   * Serve the example config's published secrets on a non-loopback listener (a throwaway demo).
   * Without it, start and reload refuse such a config with `HG_EXAMPLE_SECRETS`.
   */
  allowExampleSecrets?: boolean;
}

export interface ReloadResult {
  generation: number;
  routes: number;
  /** Keys that changed but only take effect after a restart. */
  restartRequired: string[];
}

/** The built-in plugins plus an embedder's, by name: what `compile` is handed. */
export function pluginSet(extra: PluginDefinition[] = []): Map<string, PluginDefinition> {
  const defs = new Map(builtinPlugins.map((p) => [p.name, p]));
  for (const p of extra) defs.set(p.name, p);
  return defs;
}

/** Reads the config the options point at (a file, or YAML text). */
export function loadFrom(opts: GatewayOptions): LoadedConfig {
  const env = opts.env ?? process.env;
  if (opts.configFile) return loadConfigFile(opts.configFile, env);
  return loadConfigText(opts.configText ?? '', resolve(opts.configDir ?? process.cwd(), 'gateway.yaml'), env);
}

/**
 * The running gateway: a main listener, an admin listener, a store and one current snapshot.
 * Reload compiles a new snapshot beside the old one, swaps one reference, runs the services'
 * idempotent side effects, and closes the old snapshot once nothing uses it any more.
 */
export class Gateway {
  readonly logger: Logger;
  readonly metrics = new Metrics();
  readonly pipeline: Pipeline;
  admin: AdminServer | undefined;
  /** The reloads, recent requests and traffic the console shows (with an admin listener). */
  console: ConsoleState | undefined;
  private metricsListener: MetricsListener | undefined;
  service: GatewayService | undefined;
  private listeners: Listeners | undefined;
  private snapshotSeq = 0;
  private reloading: Promise<unknown> = Promise.resolve();
  private watcher: ConfigWatcher | undefined;
  private stopping = false;
  private readonly plugins: Map<string, PluginDefinition>;
  private readonly unmatchedLog: PluginInstance;

  private constructor(
    private readonly opts: GatewayOptions,
    readonly store: Store,
    logger: Logger,
  ) {
    this.logger = logger;
    this.plugins = pluginSet(opts.plugins);
    this.unmatchedLog = unmatchedAccessLog(logger);
    this.pipeline = new Pipeline(store, logger, this.metrics);
  }

  /** The snapshot serving new requests. */
  get snapshot(): Snapshot | undefined {
    return this.pipeline.snapshot;
  }

  private compile(loaded: LoadedConfig): Promise<Snapshot> {
    // Before compile, so a refused config opens nothing. On a reload the listeners keep the hosts
    // they were started on, so those decide what is exposed.
    const running = this.snapshot?.config;
    const hosts = running && { listen: running.listen.host, admin: this.admin && running.admin?.host, http: running.listen.http?.host };
    const exposed = this.opts.allowExampleSecrets ? undefined : exampleSecretsError(loaded.config, hosts);
    if (exposed) return Promise.reject(exposed);
    return compile(loaded, { builtins: this.plugins, store: this.store, logger: this.logger, id: ++this.snapshotSeq, unmatchedLog: this.unmatchedLog, metrics: this.metrics });
  }

  /** Loads, compiles and serves a config. Throws ConfigError on an invalid config. */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const logger = opts.logger ?? createOperationalLogger(process.env.HOOKGATE_LOG_LEVEL ?? 'info');
    const loaded = loadFrom(opts);
    const { config } = loaded;
    const store = createStore(config.store, logger);
    const gw = new Gateway(opts, store, logger);
    try {
      if (store.driver === 'redis') {
        // Start even when Redis is down: /readyz says so and ioredis keeps retrying.
        await store.waitReady(3000).catch((err: Error) => logger.warn({ err: err.message, code: 'HG_STORE_UNAVAILABLE' }, 'redis store not reachable at start; retrying in the background'));
      }
      const snap = await gw.compile(loaded);
      gw.pipeline.snapshot = snap;
      if (config.admin) {
        gw.admin = new AdminServer(config.admin.token, logger);
        gw.admin.configure(config);
        registerGatewayAdmin(gw.admin, { snapshot: () => gw.snapshot, reload: (t) => gw.reload(t), metrics: gw.metrics });
        gw.console = new ConsoleState(config.console, gw.metrics, store, logger);
        gw.console.reloads.ok('startup', snap.id);
        registerConsoleAdmin(gw.admin, { reloads: gw.console.reloads, requests: gw.console.requests, stats: gw.console.stats, generation: () => gw.snapshot?.id });
        gw.admin.consoleHandler = serveConsole(() => gw.snapshot?.config.console, opts.consoleRoot);
        gw.pipeline.observer = gw.console.observe;
        gw.console.stats.start();
      }
      gw.service = await opts.services?.({ snapshot: snap, store, logger, metrics: gw.metrics, admin: gw.admin });
      gw.pipeline.delivery = gw.service?.actions;
      gw.listeners = await createListeners(config.listen, config.limits, { request: gw.pipeline.handle, upgrade: gw.pipeline.upgrade }, logger, loaded.dir, gw.metrics);
      if (gw.admin && config.admin) await gw.admin.listen(config.admin.host, config.admin.port);
      if (config.metrics) gw.metricsListener = await MetricsListener.start(gw.metrics, config.metrics.host, config.metrics.port, logger);
      if (opts.configFile && opts.watch !== false) {
        gw.watcher = new ConfigWatcher(() => void gw.reload('file change').catch(() => {}), logger, typeof opts.watch === 'object' ? opts.watch : {});
        gw.watcher.watch([snap.loaded.file, ...snap.pluginFiles]);
      }
      logger.info({ listen: gw.address(), http: gw.listeners.httpAddress(), tls: Boolean(config.listen.tls), http2: config.listen.http2 === true, admin: gw.admin?.address(), routes: snap.routes.length, store: store.driver }, 'hookgate started');
      return gw;
    } catch (err) {
      await gw.stop(0).catch(() => {});
      throw err;
    }
  }

  /** The main listener's address (HTTPS when `listen.tls` is set). */
  address(): AddressInfo {
    return this.listeners!.address();
  }

  /** The plain-HTTP listener beside the HTTPS one (`listen.http`), if configured. */
  httpAddress(): AddressInfo | undefined {
    return this.listeners?.httpAddress();
  }

  /** Reloads the listener's certificate files at once (they are also watched); false if they are unusable. */
  reloadCertificates(): boolean {
    return this.listeners?.certificates?.reload() ?? false;
  }

  adminAddress(): AddressInfo | undefined {
    return this.admin?.address();
  }

  /** The `metrics` listener's address, when the config has one. */
  metricsAddress(): AddressInfo | undefined {
    return this.metricsListener?.address();
  }

  /**
   * Compiles the config beside the running one, then swaps it in. Reloads are serialised. An
   * invalid config is rejected whole (and everything its compile opened is closed): the old
   * snapshot keeps serving.
   */
  reload(trigger: string): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      if (this.stopping) throw Errors.STOPPING();
      const old = this.snapshot!;
      const seen = this.watcher?.mark();
      let snap: Snapshot;
      try {
        snap = await this.compile(loadFrom(this.opts));
      } catch (err) {
        this.metrics.reloads.inc({ result: 'rejected' });
        this.console?.reloads.failed(trigger, err);
        const code = err instanceof GatewayError ? err.code : 'HG_CONFIG_INVALID';
        this.logger.error({ trigger, err: (err as Error).message, code }, 'reload rejected; the previous config keeps serving');
        throw err;
      }
      const restartRequired = this.restartRequired(old.config, snap.config);
      if (restartRequired.length) this.logger.warn({ keys: restartRequired }, 'these settings changed but take effect only after a restart');
      this.admin?.configure(snap.config);
      this.console?.configure(snap.config.console);
      // The swap: one reference. Everything after it is a side effect of the new snapshot.
      this.pipeline.snapshot = snap;
      await this.service?.apply(snap).catch((err: Error) => this.logger.error({ err: err.message }, 'applying the new config to the store failed; it is retried on use'));
      this.watcher?.watch([snap.loaded.file, ...snap.pluginFiles], seen);
      this.metrics.reloads.inc({ result: 'ok' });
      this.console?.reloads.ok(trigger, snap.id);
      this.logger.info({ trigger, generation: snap.id, routes: snap.routes.length }, 'config reloaded');
      void this.retire(old, snap.config.limits.drainTimeoutMs);
      return { generation: snap.id, routes: snap.routes.length, restartRequired };
    };
    const p = this.reloading.then(run, run);
    this.reloading = p.catch(() => {});
    return p;
  }

  private restartRequired(a: GatewayConfig, b: GatewayConfig): string[] {
    const keys: string[] = [];
    // Who the trusted proxies are is part of the snapshot and changes with a reload.
    const socket = (l: GatewayConfig['listen']) => JSON.stringify({ ...l, trustedProxies: undefined, forwardedHeader: undefined });
    if (socket(a.listen) !== socket(b.listen)) keys.push('listen');
    if (JSON.stringify(a.store) !== JSON.stringify(b.store)) keys.push('store');
    if (a.admin?.host !== b.admin?.host || a.admin?.port !== b.admin?.port) keys.push('admin.host/port');
    if (JSON.stringify(a.metrics) !== JSON.stringify(b.metrics)) keys.push('metrics');
    return keys;
  }

  /** Waits for a retired snapshot's requests and attempts to finish (up to a deadline), then closes it. */
  private async retire(snap: Snapshot, deadlineMs: number): Promise<void> {
    snap.retired = true;
    await waitFor(() => snap.inflight === 0 && snap.attempts === 0, deadlineMs);
    if (snap.inflight > 0 || snap.attempts > 0) this.logger.warn({ generation: snap.id, inflight: snap.inflight, attempts: snap.attempts }, 'closing a retired config with requests or delivery attempts still in flight');
    await closeSnapshot(snap, this.logger);
  }

  /**
   * Stops taking requests and delivery attempts under one deadline (`deadlineMs` from now): the
   * listeners' in-flight requests and the running delivery attempts finish side by side, then
   * everything is closed. Accepted messages stay queued: the delivery engine keeps its queue and
   * store open until the listeners have drained, and unfinished attempts run again later.
   */
  async stop(deadlineMs = this.snapshot?.config.limits.drainTimeoutMs ?? 30_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const end = Date.now() + deadlineMs;
    this.watcher?.close();
    const listeners = this.listeners;
    listeners?.certificates?.close();
    const closed = listeners ? listeners.close() : Promise.resolve();
    listeners?.closeIdle();
    const snap = this.snapshot;
    // Everything that can still accept a message: the main listener's requests, then the admin API.
    const intake = (async () => {
      if (snap) await waitFor(() => snap.inflight === 0, Math.max(0, end - Date.now()));
      listeners?.closeAll();
      await closed;
      await this.admin?.close();
    })();
    const delivery = this.service?.stop(deadlineMs, intake).catch((err: Error) => this.logger.error({ err: err.message }, 'delivery stop failed'));
    await Promise.all([intake, delivery]);
    await this.metricsListener?.close();
    // The last counts go to Redis, but a store that does not answer does not hold the stop up.
    if (this.console) await Promise.race([this.console.stats.stop(), delay(1000, undefined, { ref: false })]);
    if (snap) {
      // Past the deadline nothing more is awaited: a delivery attempt still holding a pool
      // connection is abandoned (its message stays queued and is attempted again), not waited for.
      const closed = await Promise.race([closeSnapshot(snap, this.logger).then(() => true), delay(Math.max(100, end - Date.now()), false, { ref: false })]);
      if (!closed) this.logger.warn({ generation: snap.id, attempts: snap.attempts }, 'upstream connections still busy past the drain deadline; not waiting for them');
    }
    this.pipeline.close();
    await this.store?.close();
    this.logger.info('hookgate stopped');
  }
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

#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { closeSnapshot, compile } from './compile.js';
import { loadConfigFile } from './config/load.js';
import { createDeliveryService } from './delivery/service.js';
import { ConfigError, GatewayError } from './errors.js';
import { exampleSecretsError } from './example-secrets.js';
import { API_DOC_COMMANDS, API_DOCS_HELP, runApiDocsCommand } from './apidocs/cli.js';
import { packageRoot } from './paths.js';
import { Gateway, pluginSet } from './runtime.js';
import { MemoryStore } from './store/memory.js';
import { createOperationalLogger } from './logger.js';
import { parseWorkers, workerCount } from './workers/count.js';
import { Primary } from './workers/primary.js';
import { WorkerLink } from './workers/worker.js';

const HELP = `hookgate — webhook gateway

Usage:
  hookgate start    [--config] <gateway.yaml> [--allow-example-secrets] [--workers <n|auto>]
                    serve the config (reloads on change, SIGHUP, POST /admin/reload)
  hookgate validate [--config] <gateway.yaml> [--allow-example-secrets]
                    check a config as start would, with no side effects:
                    exit 0 when valid, 1 with a located error
${API_DOCS_HELP}  hookgate --help | --version

Options:
  -c, --config <file>        the config file (or give it as the argument; default gateway.yaml)
  --allow-example-secrets    serve the example config's published secrets on a
                             non-loopback listener (a throwaway demo only)
  --workers <n|auto>         worker processes sharing the listeners (overrides the
                             config's workers:; auto = one per core); above 1 needs
                             store.driver: redis

Environment:
  HOOKGATE_LOG_LEVEL   pino level for operational logs (default info)
  \${VAR} and \${VAR:-default} in gateway.yaml are read from the environment.

SIGTERM/SIGINT drain in-flight requests and delivery attempts (one deadline,
limits.drainTimeoutMs) and exit 0; a second SIGTERM/SIGINT exits 1 at once.
An uncaught exception or unhandled rejection is logged, drains and exits 1.
SIGHUP reloads the config. With --workers, send the signals to the primary: it
drains or reloads every worker, and restarts a worker that dies.
`;

/** Exit code for a command line that cannot be run as given. */
const USAGE = 2;

class UsageError extends Error {}

function version(): string {
  return (JSON.parse(readFileSync(resolve(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The message an operator sees for a refused config: located config errors as they are, other coded errors with their code. */
function describe(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (err instanceof GatewayError) return `${err.code}: ${err.message}`;
  return (err as Error)?.message ?? String(err);
}

async function validate(file: string, allowExampleSecrets: boolean): Promise<number> {
  const logger = pino({ level: 'silent' });
  try {
    const loaded = loadConfigFile(file);
    // What start would refuse, validate refuses: the same checks, the same compile.
    const exposed = allowExampleSecrets ? undefined : exampleSecretsError(loaded.config);
    if (exposed) throw exposed;
    workerCount(loaded.config);
    const store = new MemoryStore();
    // dryRun: plugins check their params but open nothing (no log file, no directory).
    const snap = await compile(loaded, { builtins: pluginSet(), store, logger, id: 0, dryRun: true });
    await closeSnapshot(snap, logger);
    await store.close();
    process.stdout.write(`${file}: valid (${snap.routes.length} routes)\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${describe(err)}\n`);
    return 1;
  }
}

/** `start --workers N`: the primary, which forks the workers and serves nothing itself. */
function startPrimary(file: string, workers: number, drainTimeoutMs: number): void {
  const logger = createOperationalLogger(process.env.HOOKGATE_LOG_LEVEL ?? 'info');
  const primary = Primary.launch({ configFile: file, workers, logger, drainTimeoutMs });
  const onSignal = (signal: NodeJS.Signals) => primary.stop(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => void primary.reloadAll('SIGHUP'));
  const fatal = (kind: string) => (err: unknown) => {
    logger.fatal({ err: (err as Error)?.stack ?? String(err), code: 'HG_FATAL' }, kind);
    primary.stop(kind, 1);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
  primary.ready.then(
    () => process.stderr.write(`hookgate primary ${process.pid}: ${workers} workers serving (pids ${primary.pids().join(', ')})\n`),
    (err: Error) => process.stderr.write(`hookgate: ${err.message}\n`),
  );
}

async function start(file: string, allowExampleSecrets: boolean, workersFlag?: number | 'auto'): Promise<void> {
  // A worker of `--workers N` starts on the config text its primary read (gateway/workers).
  const link = cluster.isWorker ? await WorkerLink.connect() : undefined;
  if (!link) {
    try {
      const loaded = loadConfigFile(resolve(file));
      const workers = workerCount(loaded.config, workersFlag);
      if (workers > 1) return startPrimary(resolve(file), workers, loaded.config.limits.drainTimeoutMs);
    } catch (err) {
      process.stderr.write(`hookgate: ${describe(err)}\n`);
      process.exit(1);
    }
  }
  let gw: Gateway;
  try {
    // A worker's operational lines say which worker wrote them (they share the primary's stdout).
    const logger = link && createOperationalLogger(process.env.HOOKGATE_LOG_LEVEL ?? 'info').child({ worker: Number(process.env.HOOKGATE_WORKER_SLOT), workerPid: process.pid });
    const worker = link && { configText: link.text, generation: link.generation, watch: false, reloadAll: link.reloadAll, logger };
    gw = await Gateway.start({ configFile: resolve(file), services: createDeliveryService, allowExampleSecrets, ...worker });
  } catch (err) {
    if (link) WorkerLink.startFailed(describe(err));
    else process.stderr.write(`hookgate: ${describe(err)}\n`);
    // Not process.exit() at once: a log file still opening when the start failed must finish
    // closing first (pino flushes it at exit, and throws with a stack if it never opened).
    process.exitCode = 1;
    const exit = setTimeout(() => process.exit(1), 2000);
    // A worker's IPC channel keeps it alive: there the timer is what ends it.
    if (!link) exit.unref();
    return;
  }
  const a = gw.address();
  const admin = gw.adminAddress();
  const metrics = gw.metricsAddress();
  process.stderr.write(
    `hookgate${link ? ` worker ${process.env.HOOKGATE_WORKER_SLOT} (pid ${process.pid})` : ''} listening on http://${a.address}:${a.port}${admin ? ` (admin on http://${admin.address}:${admin.port})` : ''}${metrics ? ` (metrics on http://${metrics.address}:${metrics.port}/metrics)` : ''}\n`,
  );

  let stopping = false;
  let exitCode = 0;
  /** Drains once; a second signal while draining is the operator saying "now". */
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    const deadlineMs = gw.snapshot?.config.limits.drainTimeoutMs ?? 30_000;
    gw.logger.info({ reason, deadlineMs }, 'draining');
    // stop() keeps to the deadline; this only guards against a bug that makes it hang.
    setTimeout(() => {
      gw.logger.error({ code: 'HG_STOP_FORCED', deadlineMs }, 'the drain overran its deadline; exiting');
      process.exit(1);
    }, deadlineMs + 5000).unref();
    gw.stop(deadlineMs).then(
      () => process.exit(exitCode),
      (err: Error) => {
        process.stderr.write(`hookgate: stop failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) return stop(signal);
    gw.logger.error({ signal, code: 'HG_STOP_FORCED' }, 'second signal while draining; exiting now');
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A worker reloads when its primary says so (the primary takes the SIGHUP).
  process.on('SIGHUP', () => (link ? gw.logger.info('SIGHUP ignored by a worker: send it to the primary') : void gw.reload('SIGHUP').catch(() => {})));
  // After a bug the process state is suspect: log it, drain what was accepted (queued messages
  // stay queued) and exit non-zero so a supervisor restarts a clean process. A rejection nobody
  // handled is the same kind of bug (Node's own default turns it into an uncaught exception).
  const fatal = (kind: string) => (err: unknown) => {
    exitCode = 1;
    gw.logger.fatal({ err: (err as Error)?.stack ?? String(err), code: 'HG_FATAL' }, kind);
    stop(kind);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
  link?.attach(gw, stop);
}

/** The config file from `--config` or the argument after the command; both must agree. */
function configFile(option: string | undefined, args: string[]): string {
  if (args.length > 1) throw new UsageError(`expected one config file, got ${args.length}: ${args.join(' ')}`);
  const arg = args[0];
  if (option !== undefined && arg !== undefined && resolve(option) !== resolve(arg)) throw new UsageError(`two different config files given: --config ${option} and ${arg}`);
  return option ?? arg ?? 'gateway.yaml';
}

async function main(argv: string[]): Promise<void> {
  // openapi / asyncapi parse their own options (gateway/apidocs/cli.ts).
  if ((API_DOC_COMMANDS as readonly string[]).includes(argv[0] ?? '')) process.exit(await runApiDocsCommand(argv));
  let cmd: string | undefined;
  let file: string;
  let allowExampleSecrets: boolean;
  let workers: number | 'auto' | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'allow-example-secrets': { type: 'boolean' },
        workers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
    if (values.version) return void process.stdout.write(`${version()}\n`);
    cmd = positionals[0];
    if (values.help || !cmd || cmd === 'help') return void process.stdout.write(HELP);
    if (cmd !== 'validate' && cmd !== 'start') throw new UsageError(`unknown command "${cmd}"`);
    file = configFile(values.config, positionals.slice(1));
    allowExampleSecrets = values['allow-example-secrets'] === true;
    if (values.workers !== undefined) {
      if (cmd !== 'start') throw new UsageError('--workers applies to start only');
      workers = parseWorkers(values.workers);
      if (workers === undefined) throw new UsageError(`--workers expects a positive integer or auto, got "${values.workers}"`);
    }
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    process.exit(USAGE);
  }
  if (cmd === 'validate') process.exit(await validate(file, allowExampleSecrets));
  return start(file, allowExampleSecrets, workers);
}

void main(process.argv.slice(2));

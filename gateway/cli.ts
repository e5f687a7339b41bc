#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { closeSnapshot, compile } from './compile.js';
import { loadConfigFile } from './config/load.js';
import { createDeliveryService } from './delivery/service.js';
import { API_DOC_COMMANDS, API_DOCS_HELP, runApiDocsCommand } from './apidocs/cli.js';
import { packageRoot } from './paths.js';
import { Gateway, pluginSet } from './runtime.js';
import { MemoryStore } from './store/memory.js';

const HELP = `hookgate — webhook gateway

Usage:
  hookgate start    --config <gateway.yaml>   serve the config (reloads on change, SIGHUP, POST /admin/reload)
  hookgate validate --config <gateway.yaml>   check a config: exit 0 when valid, 1 with a located error
${API_DOCS_HELP}  hookgate --help | --version

Environment:
  HOOKGATE_LOG_LEVEL   pino level for operational logs (default info)
  \${VAR} and \${VAR:-default} in gateway.yaml are read from the environment.

SIGTERM/SIGINT drain in-flight requests and exit 0. SIGHUP reloads the config.
`;

function version(): string {
  return (JSON.parse(readFileSync(resolve(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

async function validate(file: string): Promise<number> {
  const logger = pino({ level: 'silent' });
  try {
    // The same compile as start and reload: whatever start would refuse, validate refuses.
    const store = new MemoryStore();
    const snap = await compile(loadConfigFile(file), { builtins: pluginSet(), store, logger, id: 0 });
    await closeSnapshot(snap, logger);
    await store.close();
    process.stdout.write(`${file}: valid (${snap.routes.length} routes)\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
}

async function start(file: string): Promise<void> {
  let gw: Gateway;
  try {
    gw = await Gateway.start({ configFile: resolve(file), services: createDeliveryService });
  } catch (err) {
    process.stderr.write(`hookgate: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const a = gw.address();
  const admin = gw.adminAddress();
  process.stderr.write(`hookgate listening on http://${a.address}:${a.port}${admin ? ` (admin on http://${admin.address}:${admin.port})` : ''}\n`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    gw.logger.info({ signal: sig }, 'draining');
    gw.stop().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`hookgate: stop failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void gw.reload('SIGHUP').catch(() => {}));
  // A bug must never take the process down silently with accepted work in memory: log it loudly.
  process.on('uncaughtException', (err) => gw.logger.fatal({ err: err.stack }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => gw.logger.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled rejection'));
}

async function main(argv: string[]): Promise<void> {
  // openapi / asyncapi parse their own options (gateway/apidocs/cli.ts).
  if ((API_DOC_COMMANDS as readonly string[]).includes(argv[0] ?? '')) process.exit(await runApiDocsCommand(argv));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } } });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.version) return void process.stdout.write(`${version()}\n`);
  const cmd = positionals[0];
  if (values.help || !cmd || cmd === 'help') return void process.stdout.write(HELP);
  const file = values.config ?? 'gateway.yaml';
  if (cmd === 'validate') process.exit(await validate(file));
  if (cmd === 'start') return start(file);
  process.stderr.write(`unknown command "${cmd}"\n\n${HELP}`);
  process.exit(2);
}

void main(process.argv.slice(2));

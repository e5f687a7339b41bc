import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { stringify as toYaml } from 'yaml';
import { registerConsoleAdmin, type ConsoleSources } from '../admin/console-routes.js';
import { registerGatewayAdmin } from '../admin/routes.js';
import { registerAlertAdmin } from '../alerts/admin-alerts.js';
import type { AlertStore } from '../alerts/alert-store.js';
import { AdminServer } from '../admin/server.js';
import { closeSnapshot, compile } from '../compile.js';
import { loadConfigFile } from '../config/load.js';
import { registerDeliveryAdmin } from '../delivery/admin.js';
import type { DeliveryEngine } from '../delivery/engine.js';
import type { Metrics } from '../metrics.js';
import { pluginSet } from '../runtime.js';
import { MemoryStore } from '../store/memory.js';
import { apiDocuments } from './serve.js';

/** The CLI commands of this module, for cli.ts's dispatch and help. */
export const API_DOC_COMMANDS = ['openapi', 'asyncapi'] as const;

export const API_DOCS_HELP = `  hookgate openapi  --config <gateway.yaml> [--yaml]   print the OpenAPI 3.1 document of the config
  hookgate asyncapi --config <gateway.yaml> [--yaml]   print the AsyncAPI 3.0 document of its event catalogue
`;

/**
 * The admin routes `hookgate start` registers, on a listener that never listens: their
 * declarations are all the documents read, so the handlers (and what they would call) never run.
 */
function adminRouteTable(): AdminServer {
  const silent = pino({ level: 'silent' });
  const admin = new AdminServer('never-listening', silent);
  const never = (): never => {
    throw new Error('not running');
  };
  registerGatewayAdmin(admin, { snapshot: () => undefined, reload: never, metrics: undefined as unknown as Metrics });
  registerDeliveryAdmin(admin, { repo: undefined, endpoints: undefined, requeue: never } as unknown as DeliveryEngine);
  registerAlertAdmin(admin, { snapshot: never, store: undefined as unknown as AlertStore });
  registerConsoleAdmin(admin, { reloads: undefined, requests: undefined, stats: undefined, generation: never } as unknown as ConsoleSources);
  return admin;
}

/**
 * `hookgate openapi|asyncapi --config <file> [--yaml]`: compiles the config as `start` would and
 * prints the document (JSON, or YAML with --yaml). Returns the exit code: 0, 1 for an invalid
 * config, 2 for bad arguments.
 */
export async function runApiDocsCommand(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, yaml: { type: 'boolean' } } }));
  } catch (e) {
    err.write(`${(e as Error).message}\n\nUsage:\n${API_DOCS_HELP}`);
    return 2;
  }
  const cmd = positionals[0] as (typeof API_DOC_COMMANDS)[number];
  const file = values.config ?? positionals[1] ?? 'gateway.yaml';
  const logger = pino({ level: 'silent' });
  const store = new MemoryStore();
  try {
    const snap = await compile(loadConfigFile(file), { builtins: pluginSet(), store, logger, id: 0 });
    try {
      const doc = apiDocuments(snap, adminRouteTable().registeredRoutes())[cmd];
      const text = values.yaml ? toYaml(doc, { aliasDuplicateObjects: false }) : `${JSON.stringify(doc, null, 2)}\n`;
      // The caller exits right after: wait until a pipe has taken the whole document.
      await new Promise<void>((done, fail) => out.write(text, (e) => (e ? fail(e) : done())));
    } finally {
      await closeSnapshot(snap, logger);
    }
    return 0;
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

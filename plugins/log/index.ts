import { isAbsolute, resolve } from 'node:path';
import { destination, pino, type Logger } from 'pino';
import { accessLevel, accessLine, ALWAYS_REDACTED_HEADERS, decodeParamName, definePlugin, logFormat, redactHeaderValues } from '../../gateway/plugin-api.js';

export interface LogParams {
  /** `stdout`, `stderr`, or a file path (relative to the config file). */
  destination: string;
  /** Level of the lines of 1xx-3xx responses; 4xx lines are at warn and 5xx at error. */
  level: 'info' | 'debug' | 'trace' | 'warn';
  /** Also log the request headers as received (credentials and signatures are redacted). */
  headers: boolean;
  /** Also log the query string (credential params are redacted). */
  query: boolean;
  /** Extra header names to redact. */
  redact: string[];
  /** Keep the request body (first 16 KB) in the console's request log (`GET /admin/requests`). */
  captureBody: boolean;
}

/**
 * What a log instance tells the console's request log about its route, in `ctx.state.log`: the
 * headers it redacts and whether the body may be kept. One object per instance, set per request.
 */
export interface LogCapture {
  redacted: ReadonlySet<string>;
  captureBody: boolean;
}

/** Query parameters never logged in clear; a route adds the ones its auth plugins read. */
const SECRET_PARAM = /^(access_token|refresh_token|id_token|auth_token|token|jwt|apikey|api_key|key|secret|client_secret|signature|sig|password)$/i;

/**
 * Redacts credential query params without parsing into objects (cheap, keeps order): the
 * default list, plus `extra` names (compared case-insensitively, decoded as the plugins read them).
 */
export function redactQuery(search: string, extra: readonly string[] = []): string {
  if (!search) return search;
  const more = extra.map((n) => n.toLowerCase());
  return search.replace(/([?&])([^=&]+)=([^&]*)/g, (m, sep: string, k: string) => {
    const name = decodeParamName(k);
    return SECRET_PARAM.test(name) || (more.length > 0 && more.includes(name.toLowerCase())) ? `${sep}${k}=[redacted]` : m;
  });
}

/** How often buffered lines are written out when traffic is too low to fill the buffer. */
const FLUSH_EVERY_MS = 250;

interface SharedLogger {
  logger: Logger;
  users: number;
  stream: ReturnType<typeof destination>;
}

const loggers = new Map<string, SharedLogger>();

function acquire(dest: string): Logger {
  let entry = loggers.get(dest);
  if (!entry) {
    // Asynchronous, buffered writes: synchronous logging is a known throughput trap on the hot path.
    // The periodic flush bounds how long a line waits in memory at low traffic.
    const opts = { sync: false, minLength: 4096, periodicFlush: FLUSH_EVERY_MS };
    const stream = dest === 'stdout' ? destination({ dest: 1, ...opts }) : dest === 'stderr' ? destination({ dest: 2, ...opts }) : destination({ dest, mkdir: true, ...opts });
    // `trace`: the plugin's `level` param decides what is written, not the logger's own level.
    const logger = pino({ ...logFormat(), base: undefined, level: 'trace' }, stream);
    entry = { logger, users: 0, stream };
    loggers.set(dest, entry);
  }
  entry.users++;
  return entry.logger;
}

function release(dest: string): void {
  const entry = loggers.get(dest);
  if (!entry) return;
  entry.users--;
  try {
    entry.stream.flushSync();
  } catch {
    // Not yet open: end() below writes what is buffered once it is.
  }
  if (entry.users <= 0) {
    loggers.delete(dest);
    // Closes the file (never fd 1/2) and stops the flush timer.
    try {
      entry.stream.end();
    } catch {
      // Already destroyed (e.g. after a write error): nothing left to close.
    }
  }
}

/**
 * One JSON line per request, written after the response: time, request id, route, method, path,
 * status, client address, user agent, upstream target, latency, bytes, consumer and error code,
 * in the operational log's format. Secrets never reach the log: headers and query parameters are
 * logged only on request, and credentials among them are redacted.
 */
export const logPlugin = definePlugin<LogParams>({
  name: 'log',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      destination: { type: 'string', minLength: 1, default: 'stdout' },
      level: { enum: ['info', 'debug', 'trace', 'warn'], default: 'info' },
      headers: { type: 'boolean', default: false },
      query: { type: 'boolean', default: false },
      redact: { type: 'array', items: { type: 'string' }, default: [] },
      captureBody: { type: 'boolean', default: false },
    },
  },
  create(params, env) {
    const dest = params.destination === 'stdout' || params.destination === 'stderr' ? params.destination : isAbsolute(params.destination) ? params.destination : resolve(env.configDir, params.destination);
    // validate: the schema checked the params; opening the file would create its directory.
    if (env.dryRun) return {};
    const logger = acquire(dest);
    const redacted = new Set([...ALWAYS_REDACTED_HEADERS, ...params.redact.map((h) => h.toLowerCase())]);
    const level = params.level;
    const capture: LogCapture = { redacted, captureBody: params.captureBody };
    return {
      // The body is buffered only when it is to be kept.
      ...(params.captureBody ? { needsBody: true } : {}),
      onLog(ctx) {
        ctx.state.log = capture;
        const line = accessLine(ctx);
        if (params.query && ctx.search) line.query = redactQuery(ctx.search, ctx.credentials.query);
        if (params.headers) line.headers = redactHeaderValues(ctx.receivedHeaders, redacted, ctx.credentials.headers);
        logger[accessLevel(ctx.status, level)](line);
      },
      close() {
        release(dest);
      },
    };
  },
});

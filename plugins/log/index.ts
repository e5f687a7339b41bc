import { isAbsolute, resolve } from 'node:path';
import { destination, pino, type Logger } from 'pino';
import { decodeParamName, definePlugin } from '../../gateway/plugin-api.js';

export interface LogParams {
  /** `stdout`, `stderr`, or a file path (relative to the config file). */
  destination: string;
  level: 'info' | 'debug' | 'trace' | 'warn';
  /** Also log the request headers as received (credentials and signatures are redacted). */
  headers: boolean;
  /** Also log the query string (credential params are redacted). */
  query: boolean;
  /** Extra header names to redact. */
  redact: string[];
}

const ALWAYS_REDACTED = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'apikey',
  'x-api-key',
  'webhook-signature',
  'svix-signature',
  'stripe-signature',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-shopify-hmac-sha256',
  'x-slack-signature',
  'x-twilio-signature',
];

const SECRET_PARAM = /^(access_token|token|apikey|api_key|key|secret|signature|sig|password)$/i;

/** Redacts credential-looking query params without parsing into objects (cheap, keeps order). */
export function redactQuery(search: string): string {
  if (!search) return search;
  return search.replace(/([?&])([^=&]+)=([^&]*)/g, (m, sep: string, k: string) => (SECRET_PARAM.test(decodeParamName(k)) ? `${sep}${k}=[redacted]` : m));
}


/**
 * pino's ISO time, formatted once per millisecond: under load many lines share a millisecond, and
 * `toISOString` was a visible part of each line's cost. Same output as `stdTimeFunctions.isoTime`.
 */
function isoTimeCached(): () => string {
  let last = 0;
  let text = '';
  return () => {
    const now = Date.now();
    if (now !== last) {
      last = now;
      text = `,"time":"${new Date(now).toISOString()}"`;
    }
    return text;
  };
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
    const logger = pino({ base: undefined, timestamp: isoTimeCached(), messageKey: 'msg' }, stream);
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
 * status, upstream target, latency, bytes, consumer and error code. Secrets never reach the log.
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
    },
  },
  create(params, env) {
    const dest = params.destination === 'stdout' || params.destination === 'stderr' ? params.destination : isAbsolute(params.destination) ? params.destination : resolve(env.configDir, params.destination);
    // validate: the schema checked the params; opening the file would create its directory.
    if (env.dryRun) return {};
    const logger = acquire(dest);
    const redacted = new Set([...ALWAYS_REDACTED, ...params.redact.map((h) => h.toLowerCase())]);
    const level = params.level;
    return {
      onLog(ctx) {
        const line: Record<string, unknown> = {
          msg: 'request',
          requestId: ctx.requestId || undefined,
          route: ctx.routeName,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          upstream: ctx.upstreamTarget,
          latencyMs: Math.round((performance.now() - ctx.startedAt) * 100) / 100,
          bytesIn: ctx.bytesIn || Number(ctx.header('content-length') ?? 0),
          bytesOut: ctx.bytesOut,
        };
        if (ctx.consumer) line.consumer = ctx.consumer;
        if (ctx.errorCode) line.error = ctx.errorCode;
        if (ctx.messageId) line.messageId = ctx.messageId;
        if (params.query && ctx.search) line.query = redactQuery(ctx.search);
        if (params.headers) {
          const h: Record<string, unknown> = {};
          // What arrived, not what plugins made of it for the upstream.
          for (const [k, v] of Object.entries(ctx.receivedHeaders)) h[k] = redacted.has(k) ? '[redacted]' : v;
          line.headers = h;
        }
        logger[level](line);
      },
      close() {
        release(dest);
      },
    };
  },
});

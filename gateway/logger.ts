import { pino, type Level, type Logger, type LoggerOptions } from 'pino';
import type { Context } from './context.js';
import type { PluginInstance } from './plugin.js';

/**
 * The one log format, shared by the operational logger (runtime) and the access log (the log
 * plugin, and the core's line for unmatched requests): JSON lines with `time` as an ISO string,
 * `level` as its label (`"info"`, not 30) and the message under `msg`.
 */
export function logFormat(): LoggerOptions {
  return {
    timestamp: isoTimeCached(),
    messageKey: 'msg',
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** The operational logger: `logFormat()` with the `service` field and the given level. */
export function createOperationalLogger(level: string): Logger {
  return pino({ ...logFormat(), level, base: { service: 'hookgate' } });
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

/** The level of an access line, as pino-http chooses it: 5xx error, 4xx warn, else `ok`. */
export function accessLevel(status: number, ok: Level = 'info'): Level {
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : ok;
}

// Enough for any real browser or SDK; a 16 KiB header should not make every line that long.
const USER_AGENT_CHARS = 512;

/**
 * The fields every access line has, whoever writes it. Header and query values are not among
 * them: the log plugin adds those on request, redacted.
 */
export function accessLine(ctx: Context): Record<string, unknown> {
  const line: Record<string, unknown> = {
    msg: 'request',
    requestId: ctx.requestId || undefined,
    route: ctx.routeName,
    method: ctx.method,
    path: ctx.path,
    status: ctx.status,
    clientIp: ctx.clientIp,
    userAgent: ctx.req.headers['user-agent']?.slice(0, USER_AGENT_CHARS),
    upstream: ctx.upstreamTarget,
    latencyMs: Math.round((performance.now() - ctx.startedAt) * 100) / 100,
    bytesIn: ctx.bytesIn || Number(ctx.header('content-length') ?? 0),
    bytesOut: ctx.bytesOut,
  };
  if (ctx.consumer) line.consumer = ctx.consumer;
  if (ctx.errorCode) line.error = ctx.errorCode;
  if (ctx.errorReason) line.reason = ctx.errorReason;
  if (ctx.messageId) line.messageId = ctx.messageId;
  return line;
}

/**
 * The core's access line for requests that match no route, written to the operational logger
 * when the global `plugins:` list has no `log` plugin (which would write it otherwise).
 */
export function unmatchedAccessLog(logger: Logger): PluginInstance {
  return {
    onLog(ctx) {
      logger[accessLevel(ctx.status)](accessLine(ctx));
    },
  };
}

import type { IncomingHttpHeaders } from 'node:http';
import type { Context } from '../context.js';
import type { RequestLogEntry, RequestLogPage } from './answers.js';
import { DEFAULT_REDACTED, redactHeaderValues } from '../security/redact-headers.js';
import { UNMATCHED_ROUTE } from '../unmatched-route.js';

/** The most of a captured body kept (`log: { captureBody: true }`). */
export const CAPTURE_BYTES = 16 * 1024;

/** What the log plugin leaves in `ctx.state.log` (plugins/log `LogCapture`). */
interface LogCapture {
  redacted: ReadonlySet<string>;
  captureBody: boolean;
}

/**
 * One finished ingress request: the answer's fields, but the time as epoch ms and the headers
 * kept by reference to what Node parsed and redacted when read, so the hot path copies nothing;
 * only an opted-in body is copied.
 */
interface Entry extends Omit<RequestLogEntry, 'at' | 'headers' | 'body' | 'bodyTruncated'> {
  at: number;
  headers: IncomingHttpHeaders;
  redacted: ReadonlySet<string>;
  own: readonly string[];
  body: Buffer | undefined;
  bodyTruncated: boolean;
}

/** Filters of `GET /admin/requests`. */
export interface RequestFilter {
  route?: string;
  /** `502` or `5xx`. */
  status?: string;
  since?: number;
  until?: number;
  limit: number;
}

/** The recent ingress requests of this process: a ring of the last `size`, read newest first. */
export class RequestLog {
  private ring: (Entry | undefined)[];
  private next = 0;

  constructor(size: number) {
    this.ring = new Array<Entry | undefined>(size);
  }

  get size(): number {
    return this.ring.length;
  }

  /** A new size (on reload): keeps the newest entries that fit. */
  resize(size: number): void {
    if (size === this.ring.length) return;
    const kept = this.newestFirst().slice(0, size).reverse();
    this.ring = new Array<Entry | undefined>(size);
    this.next = 0;
    for (const e of kept) this.push(e);
  }

  /** Called by the pipeline once per finished exchange, after its log phase. */
  record(ctx: Context, routeName: string, durationMs: number): void {
    if (this.ring.length === 0) return;
    const capture = ctx.state.log as LogCapture | undefined;
    const keep = capture?.captureBody === true && ctx.body !== undefined;
    const body = keep ? Buffer.from(ctx.body!.subarray(0, CAPTURE_BYTES)) : undefined;
    this.push({
      id: ctx.requestId,
      at: Date.now(),
      method: ctx.method,
      path: ctx.path,
      route: routeName === UNMATCHED_ROUTE ? null : routeName,
      status: ctx.status,
      durationMs: Math.round(durationMs * 1000) / 1000,
      clientIp: ctx.clientIp,
      errorCode: ctx.errorCode ?? null,
      messageId: ctx.messageId ?? null,
      headers: ctx.receivedHeaders,
      redacted: capture?.redacted ?? DEFAULT_REDACTED,
      own: ctx.credentials.headers,
      body,
      bodyTruncated: keep && ctx.body!.length > CAPTURE_BYTES,
    });
  }

  /** The requests that match, newest first, and how many match in all. */
  list(f: RequestFilter): RequestLogPage {
    const statusClass = f.status?.endsWith('xx') ? Number(f.status[0]) : undefined;
    const status = f.status && statusClass === undefined ? Number(f.status) : undefined;
    const matching = this.newestFirst().filter(
      (e) =>
        (f.route === undefined || (e.route ?? UNMATCHED_ROUTE) === f.route) &&
        (status === undefined || e.status === status) &&
        (statusClass === undefined || Math.floor(e.status / 100) === statusClass) &&
        (f.since === undefined || e.at >= f.since) &&
        (f.until === undefined || e.at <= f.until),
    );
    return { requests: matching.slice(0, f.limit).map(view), total: matching.length };
  }

  /** The newest request with this id. */
  get(id: string): RequestLogEntry | undefined {
    const e = this.newestFirst().find((x) => x.id === id);
    return e && view(e);
  }

  private push(e: Entry): void {
    this.ring[this.next] = e;
    this.next = (this.next + 1) % this.ring.length;
  }

  private newestFirst(): Entry[] {
    const out: Entry[] = [];
    const n = this.ring.length;
    for (let i = 1; i <= n; i++) {
      const e = this.ring[(this.next - i + n) % n];
      if (e) out.push(e);
    }
    return out;
  }
}

function view(e: Entry): RequestLogEntry {
  const out: RequestLogEntry = {
    id: e.id,
    at: new Date(e.at).toISOString(),
    method: e.method,
    path: e.path,
    route: e.route,
    status: e.status,
    durationMs: e.durationMs,
    clientIp: e.clientIp,
    errorCode: e.errorCode,
    messageId: e.messageId,
    headers: redactHeaderValues(e.headers, e.redacted, e.own),
  };
  if (e.body) {
    out.body = e.body.toString('utf8');
    out.bodyTruncated = e.bodyTruncated;
  }
  return out;
}

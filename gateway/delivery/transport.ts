/**
 * One delivery attempt over HTTP, and nothing else: egress through the SSRF guard's agents,
 * async ingress through the snapshot's undici pool for the upstream (the proxy's pool too).
 * Neither throws: a network error or a timeout is status 0 with an error text. Every timeout
 * is an absolute deadline for the whole attempt, never an idle timer.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ClientTlsPem } from '../client-tls.js';
import type { Snapshot } from '../compile.js';
import type { SsrfGuard } from './ssrf.js';
import { webhookHeaders } from './sign.js';
import type { AttemptRecord, StoredMessage } from './types.js';

/** The attempt log keeps this much of a response body (`AttemptRecord.response`). */
const RESPONSE_LIMIT = 4096;

/** What one attempt came back with: what the attempt log keeps, and what the policy reads too. */
export interface AttemptResult extends Pick<AttemptRecord, 'status' | 'durationMs' | 'error' | 'response'> {
  retryAfter?: string;
  timedOut: boolean;
}

/** A signed webhook: Standard Webhooks headers over `body` with every given secret. */
export interface SignedPost {
  url: string;
  msgId: string;
  body: Buffer;
  secrets: readonly string[];
  /** Sent as well; the signature headers and content-type win over them. */
  headers?: OutgoingHttpHeaders;
  /** TLS for an https URL (the endpoint's CA, client certificate, servername). */
  tls?: ClientTlsPem;
  nowMs: number;
  /** The deadline for all of the attempt: the effective policy's `attemptTimeoutMs`. */
  timeoutMs: number;
}

/** POSTs a signed webhook through the snapshot's SSRF guard; `post.timeoutMs` is the deadline for all of it. */
export function sendSigned(snap: Snapshot, post: SignedPost): Promise<AttemptResult> {
  const headers: OutgoingHttpHeaders = {
    ...post.headers,
    'content-type': 'application/json',
    ...webhookHeaders(post.msgId, Math.floor(post.nowMs / 1000), post.body, post.secrets),
  };
  return sendGuarded(snap.ssrf, post.url, 'POST', headers, post.body, post.timeoutMs, post.tls);
}

/** Keeps the first RESPONSE_LIMIT bytes of a response body, for the attempt log. */
class BodyHead {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  add(c: Buffer): void {
    if (this.size < RESPONSE_LIMIT) this.chunks.push(c);
    this.size += c.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).subarray(0, RESPONSE_LIMIT).toString('utf8');
  }
}

function firstValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

/** The text of a send error, without the request's headers or body. */
function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'HG_ENDPOINT_URL_BLOCKED') return e.message;
  return `${e?.code ?? ''} ${e?.message ?? String(err)}`.trim();
}

/**
 * One request through the SSRF guard's agents. `timeoutMs` is an absolute deadline for the
 * whole attempt (connect, TLS, response headers and the body read): `req.setTimeout` would only
 * be an idle timer, which an endpoint trickling a byte a second never trips.
 */
function sendGuarded(ssrf: SsrfGuard, url: string, method: string, headers: OutgoingHttpHeaders, body: Buffer, timeoutMs: number, tls: ClientTlsPem | undefined): Promise<AttemptResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let timedOut = false;
    let deadline: NodeJS.Timeout | undefined;
    const done = (r: Omit<AttemptResult, 'durationMs' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({ ...r, timedOut, durationMs: Math.round(performance.now() - started) });
    };
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return done({ status: 0, error: 'invalid URL' });
    }
    const isHttps = u.protocol === 'https:';
    // Per-request TLS options: the https agent keeps a separate socket pool for each set, and its
    // guarded lookup still pins the dialled address. The servername defaults to the URL's host.
    const tlsOptions = isHttps && tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, ...(tls.servername ? { servername: tls.servername } : {}) } : {};
    let req: ClientRequest;
    try {
      req = (isHttps ? httpsRequest : httpRequest)(
        u,
        { method, headers: { ...headers, 'content-length': body.length }, agent: isHttps ? ssrf.httpsAgent : ssrf.httpAgent, ...tlsOptions },
        (res: IncomingMessage) => {
          const head = new BodyHead();
          res.on('data', (c: Buffer) => head.add(c));
          res.on('end', () => done({ status: res.statusCode ?? 0, response: head.text(), retryAfter: firstValue(res.headers['retry-after']) }));
          res.on('error', (err) => done({ status: res.statusCode ?? 0, error: err.message }));
        },
      );
    } catch (err) {
      // Node refuses some requests before any socket exists (a header value it cannot send).
      return done({ status: 0, error: errorText(err) });
    }
    deadline = setTimeout(() => {
      timedOut = true;
      // Status 0 even when headers arrived: a 2xx whose body never finished is not a delivery.
      done({ status: 0, error: `timed out after ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => done({ status: 0, error: errorText(err) }));
    req.end(body);
  });
}

/** Replays an accepted inbound request to `upstream` through the snapshot's pool for it. */
export async function sendIngress(snap: Snapshot, upstream: string, msg: StoredMessage, attemptNo: number): Promise<AttemptResult> {
  const up = snap.upstreams.get(upstream);
  if (!up) return { status: 0, durationMs: 0, timedOut: false, error: `upstream "${upstream}" is no longer configured` };
  const target = up.pick();
  const headers = { ...(msg.headers ?? {}), 'hookgate-message-id': msg.id, 'hookgate-attempt': String(attemptNo) };
  const timeoutMs = msg.timeoutMs ?? up.timeoutMs;
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  // A deadline for the whole attempt, response body included.
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    // The pool's own timers follow the attempt's timeout, so the signal's deadline is the one that binds.
    const res = await target.pool.request({ path: target.basePath + (msg.path ?? '/'), method: (msg.method ?? 'POST') as 'POST', headers, body: Buffer.from(msg.body, 'base64'), signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const head = new BodyHead();
    for await (const c of res.body as AsyncIterable<Buffer>) head.add(c);
    up.reportSuccess(target);
    return { status: res.statusCode, durationMs: took(), timedOut: false, response: head.text(), retryAfter: firstValue(res.headers['retry-after']) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // The upstream's own timers (headers, body idle) are timeouts too, not connect failures.
    const timedOut = signal.aborted || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
    if (!timedOut) up.reportConnectFailure(target);
    return { status: 0, durationMs: took(), timedOut, error: timedOut ? `timed out after ${timeoutMs} ms` : `${e.code ?? ''} ${e.message}`.trim() };
  }
}

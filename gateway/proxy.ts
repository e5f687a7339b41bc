import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { util, type Dispatcher } from 'undici';
import { requestIdFor } from './context.js';
import { Errors, GatewayError } from './errors.js';
import type { Exchange, UpstreamCall } from './exchange.js';
import { appendForwardedFor, BodyLimit, collectBody, connectionTokens, hasUnsizedBody, HOP_BY_HOP } from './http.js';
import { encodePath } from './router.js';
import type { Target, UpstreamPool } from './upstream.js';

/** What the forwarder asks of the pipeline: the response phase, and the one error mapper. */
export interface ForwardHooks {
  /** Response phase: route headers, context headers, plugins' onResponse. */
  decorate(ex: Exchange, headers: OutgoingHttpHeaders): void;
  fail(ex: Exchange, err: unknown): void;
}

// A body up to this size is read whole and sent in one write with the headers; larger ones stream.
const SMALL_BODY = 64 * 1024;
const { headerNameToString } = util;

/**
 * Forwards an exchange to one target of `upstream`, streaming the response back. Forwarding
 * state lives in plain fields of one handler per request (undici's dispatch-handler shape).
 */
export function forward(ex: Exchange, upstream: UpstreamPool, hooks: ForwardHooks): void {
  const { req, ctx, route } = ex;
  const target = upstream.pick();
  ctx.upstreamTarget = target.url;
  const headers = forwardedHeaders(ex);
  const path = target.basePath + encodePath(ctx.forwardPath ?? ctx.path) + ctx.search;
  const handler = new ForwardHandler(ex, upstream, target, hooks);
  ex.upstream = handler;
  if (ctx.body) {
    headers['content-length'] = String(ctx.body.length);
    return handler.dispatch(path, headers, ctx.body);
  }
  if (hasUnsizedBody(req)) {
    // Chunked upload (or HTTP/2 DATA without content-length): enforce the cap while streaming; the limiter's error fails the request.
    const limiter = new BodyLimit(route.bodyLimit);
    limiter.on('error', () => req.unpipe(limiter));
    req.pipe(limiter);
    return handler.dispatch(path, headers, limiter);
  }
  const length = Number(req.headers['content-length'] ?? 0);
  if (length === 0) return handler.dispatch(path, headers, null);
  if (length > SMALL_BODY) return handler.dispatch(path, headers, req);
  collectBody(req, route.bodyLimit, (err, body) => {
    if (err) return hooks.fail(ex, err);
    if (!ex.closed) handler.dispatch(path, headers, body!);
  });
}

/** The headers sent upstream: the request's (or the plugins' copy), without hop-by-hop ones, plus X-Forwarded-*. */
function forwardedHeaders(ex: Exchange): Record<string, string | string[]> {
  const { ctx, req } = ex;
  const src: IncomingHttpHeaders = ctx.headersChanged ? ctx.headers : req.headers;
  const out = ctx.forwardableHeaders();
  out['x-forwarded-for'] = appendForwardedFor(src['x-forwarded-for'], ctx.remoteAddress);
  out['x-forwarded-proto'] = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (src.host) out['x-forwarded-host'] = src.host;
  out['x-request-id'] = ctx.requestId ||= requestIdFor(req.headers);
  return out;
}

/**
 * undici's low-level handler (the raw-header shape, which undici 7 takes without wrapping): the
 * response headers arrive as a flat array of buffers and are passed through without building an
 * object, unless the response phase has work to do.
 */
class ForwardHandler implements Dispatcher.DispatchHandler, UpstreamCall {
  private abort: ((err?: Error) => void) | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  private started = false;
  private finished = false;
  private cancelled = false;
  private timedOut = false;
  private counting = false;
  private badHeader = false;

  constructor(
    private readonly ex: Exchange,
    private readonly upstream: UpstreamPool,
    private readonly target: Target,
    private readonly hooks: ForwardHooks,
  ) {}

  dispatch(path: string, headers: Record<string, string | string[]>, body: Buffer | Readable | null): void {
    // A deadline for the response headers from now, whatever the request waits on (a free
    // connection, the connect, the upstream): not an idle timer.
    this.timer = setTimeout(() => this.onDeadline(), this.upstream.timeoutMs);
    try {
      this.target.pool.dispatch({ path, method: this.ex.req.method ?? 'GET', headers, body }, this);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** The client went away: stop the upstream request too. */
  cancel(): void {
    if (this.finished) return;
    this.cancelled = true;
    clearTimeout(this.timer);
    this.abort?.(new Error('client closed the connection'));
  }

  private onDeadline(): void {
    if (this.started || this.finished) return;
    this.timedOut = true;
    if (this.abort) this.abort(new Error('upstream timeout'));
    else this.onError(new Error('upstream timeout'));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.cancelled || this.timedOut) abort(new Error('cancelled'));
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    if (this.finished) return false;
    if (statusCode < 200) return true; // 1xx informational: nothing to pass on
    clearTimeout(this.timer);
    this.started = true;
    const { ex, upstream, target } = this;
    const { ctx, route, res } = ex;
    upstream.reportSuccess(target);
    ctx.status = statusCode;
    const plain = route.onResponse.length === 0 && route.extraHeaders === undefined && isEmpty(ctx.responseHeaders);
    // Names through undici's lookup of well-known header names (interned, lower-cased); hop-by-hop
    // ones are skipped while building, so nothing is deleted afterwards (deletes slow objects down).
    let named: string[] | undefined;
    let length: string | undefined;
    let sawRequestId = false;
    let headers: string[] | OutgoingHttpHeaders;
    const flat: string[] | undefined = plain ? [] : undefined;
    const obj: OutgoingHttpHeaders | undefined = plain ? undefined : {};
    for (let i = 0; i < raw.length; i += 2) {
      const name = headerNameToString(raw[i]!);
      if (HOP_BY_HOP.has(name)) {
        if (name === 'connection') named = connectionTokens(raw[i + 1]!.toString('latin1'), named);
        continue;
      }
      const value = raw[i + 1]!.toString('latin1');
      if (name === 'content-length') length = value;
      else if (name === 'x-request-id') sawRequestId = true;
      if (flat) flat.push(name, value);
      else {
        const prev = obj![name];
        obj![name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
      }
    }
    if (flat) {
      if (named) for (let i = flat.length - 2; i >= 0; i -= 2) if (named.includes(flat[i]!)) flat.splice(i, 2);
      // What decorate() does on the other branch; an upstream's own id is passed through.
      if (route.echoRequestId && !sawRequestId) flat.push('x-request-id', ctx.requestId);
      headers = flat;
    } else {
      if (named) for (const n of named) delete obj![n];
      this.hooks.decorate(ex, obj!);
      length = obj!['content-length'] as string | undefined;
      headers = obj!;
    }
    if (length !== undefined) ctx.bytesOut = Number(length);
    else this.counting = true;
    try {
      res.writeHead(statusCode, headers as OutgoingHttpHeaders);
    } catch (err) {
      // An upstream header Node will not write: the client gets a clean 502, not a hang.
      this.started = false;
      this.badHeader = true;
      this.abort?.(err as Error);
      return false;
    }
    this.resume = resume;
    return true;
  }

  private resume: (() => void) | undefined = undefined;
  private readonly onDrain = (): void => this.resume?.();

  onData(chunk: Buffer): boolean {
    if (this.counting) this.ex.ctx.bytesOut += chunk.length;
    if (this.ex.res.write(chunk)) return true;
    // The client reads slower than the upstream sends: pause undici until the socket drains.
    this.ex.res.once('drain', this.onDrain);
    return false;
  }

  onComplete(): void {
    this.finished = true;
    this.ex.upstream = undefined;
    this.ex.res.end();
  }

  onError(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    const { ex, upstream, target } = this;
    ex.upstream = undefined;
    // The client went away (its socket closed, perhaps before 'close' reached the pipeline): the
    // upstream is not to blame and nobody is left to answer.
    if (this.cancelled || ex.res.destroyed) return;
    // Our own refusal while streaming the body (413 from the body cap).
    if (err instanceof GatewayError) return this.hooks.fail(ex, err);
    // The response had started: the only honest signal left is to cut the connection.
    if (this.started) return void ex.res.destroy();
    const code = (err as NodeJS.ErrnoException).code;
    if (this.timedOut || code === 'UND_ERR_HEADERS_TIMEOUT') return this.hooks.fail(ex, Errors.UPSTREAM_TIMEOUT(upstream.name, upstream.timeoutMs));
    if (this.badHeader) return this.hooks.fail(ex, Errors.UPSTREAM_UNAVAILABLE(upstream.name, 'invalid response header'));
    // undici refusing the request itself (a header a plugin set that HTTP does not allow) says
    // nothing about the target's health.
    if (code !== 'UND_ERR_INVALID_ARG') upstream.reportConnectFailure(target);
    this.hooks.fail(ex, Errors.UPSTREAM_UNAVAILABLE(upstream.name, code ?? err.message));
  }
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

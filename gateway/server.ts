import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import { Context } from './context.js';
import { Errors, GatewayError, errorBody, errorBodyOf } from './errors.js';
import type { CompiledRoute, Generation } from './generation.js';
import type { Metrics } from './metrics.js';
import type { PluginResponse } from './plugin.js';
import { encodePath, normalizePath } from './router.js';
import type { Store } from './store/types.js';
import type { Target, Upstream } from './upstream.js';

/** What the deliver and publish actions need from the delivery engine. */
export interface DeliveryActions {
  /** Queues an inbound request for async delivery to an upstream; resolves to the message id once durable. */
  enqueueIngress(route: CompiledRoute, ctx: Context, upstream: string): Promise<string>;
  /** Accepts an event for fan-out; resolves to the response to send. */
  publish(route: CompiledRoute, ctx: Context): Promise<PluginResponse>;
}

// RFC 9110 §7.6.1 hop-by-hop headers, plus proxy credentials that are meant for us.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

const HOP_SET = new Set(HOP_BY_HOP);

export function stripHopByHop(headers: Record<string, unknown>): void {
  const conn = headers.connection;
  if (typeof conn === 'string') {
    for (const name of conn.split(',')) {
      const n = name.trim().toLowerCase();
      if (n && n !== 'close' && n !== 'keep-alive') delete headers[n];
    }
  }
  // One pass over the (few) present keys instead of a delete per known name.
  for (const k in headers) if (HOP_SET.has(k)) delete headers[k];
}

const CTX = Symbol('hookgate.ctx');

interface Flight {
  ctx: Context;
  route: CompiledRoute;
  upstream: Upstream;
  target: Target;
  timedOut: boolean;
  responded: boolean;
  /** The client closed first; the resulting upstream error is not the upstream's fault. */
  clientGone: boolean;
  /** A chunked body passed the cap: the client got 413 and the upstream request is cut. */
  overLimit: boolean;
  proxyReq: ClientRequest | undefined;
}

type Req = IncomingMessage & { [CTX]?: Flight };

/** Counts streamed body bytes against the limit, so a chunked upload cannot exceed it. */
class BodyLimit extends Transform {
  seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) cb(Errors.BODY_TOO_LARGE(this.limit));
    else cb(null, chunk);
  }
}

/** Reads the whole body under a cap. Rejects with 413 as soon as the cap is passed. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        reject(Errors.BODY_TOO_LARGE(limit));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onAborted = () => {
      cleanup();
      reject(Errors.CLIENT_ABORTED());
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * The main listener's request handler. It owns every exit (plugins return responses, they never
 * write to `res`), so logging, metrics and headers are uniform.
 */
export class RequestHandler {
  generation: Generation | undefined;
  delivery: DeliveryActions | undefined;
  private readonly proxy: httpProxy;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: false, ws: false });
    this.proxy.on('proxyReq', (proxyReq, req, res) => {
      const f = (req as Req)[CTX];
      if (!f) return;
      f.proxyReq = proxyReq;
      if (f.overLimit) return void proxyReq.destroy();
      proxyReq.setTimeout(f.upstream.timeoutMs, () => {
        f.timedOut = true;
        proxyReq.destroy();
      });
    });
    this.proxy.on('proxyRes', (proxyRes, req, res) => {
      const f = (req as Req)[CTX];
      if (!f) return;
      f.upstream.reportSuccess(f.target);
      f.responded = true;
      // The upstream died mid-response: http-proxy's pipe would leave the client waiting for the
      // rest forever. Cutting the client connection is the only honest signal left.
      proxyRes.on('close', () => {
        if (!proxyRes.complete && !res.destroyed) res.destroy();
      });
      const ctx = f.ctx;
      ctx.status = proxyRes.statusCode ?? 502;
      const headers = proxyRes.headers as OutgoingHttpHeaders;
      stripHopByHop(headers);
      this.decorate(ctx, f.route, headers);
      const len = headers['content-length'];
      if (len !== undefined) ctx.bytesOut = Number(len);
      else proxyRes.on('data', (c: Buffer) => (ctx.bytesOut += c.length));
    });
    // http-proxy emits this when the client went away mid-proxy; nothing to answer.
    this.proxy.on('econnreset', () => {});
    this.proxy.on('error', (err) => this.logger.debug({ err: err.message }, 'proxy error'));
  }

  /** Response phase: route headers, context headers, then each plugin's onResponse. */
  private decorate(ctx: Context, route: CompiledRoute, headers: OutgoingHttpHeaders): void {
    if (route.extraHeaders) Object.assign(headers, route.extraHeaders);
    for (const k in ctx.responseHeaders) headers[k] = ctx.responseHeaders[k];
    const list = route.onResponse;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!.onResponse!(ctx, headers);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, route: route.name }, 'onResponse failed');
      }
    }
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    if (url === '/healthz') return this.sendPlain(res, 200, { status: 'ok' });
    if (url === '/readyz') return void this.ready(res);
    const gen = this.generation;
    if (!gen) return this.sendPlain(res, 503, errorBodyOf(Errors.NOT_READY('no config loaded')));
    gen.inflight++;
    this.metrics.inflightNow++;
    let done = false;
    let ctx: Context | undefined;
    let route: CompiledRoute | undefined;
    // 'close' fires once per response; `on` avoids once()'s wrapper allocation on the hot path.
    res.on('close', () => {
      if (done) return;
      done = true;
      gen.inflight--;
      this.metrics.inflightNow--;
      // The client went away before the answer was complete: stop the upstream request too.
      // http-proxy only watches the request's 'aborted', which Node does not emit once the
      // request body has been fully read, so the upstream would keep working for nobody.
      const f = (req as Req)[CTX];
      if (f?.proxyReq && !res.writableFinished && !f.proxyReq.destroyed) {
        f.clientGone = true;
        f.proxyReq.destroy();
      }
      if (ctx && route) this.finish(ctx, route, res);
    });
    try {
      const q = url.indexOf('?');
      const rawPath = q === -1 ? url : url.slice(0, q);
      const search = q === -1 ? '' : url.slice(q);
      const path = normalizePath(rawPath);
      const match = gen.router.match(req.method ?? 'GET', path, req.headers.host, req.headers);
      route = match.route;
      ctx = new Context(req, route.name, path, search, req.socket.remoteAddress ?? '');
      if (route.stripPrefix && match.prefixLength > 0) ctx.state.forwardPath = path.slice(match.prefixLength) || '/';
      this.run(ctx, route, res, req);
    } catch (err) {
      this.sendError(ctx, route, res, err);
    }
  };

  private async ready(res: ServerResponse): Promise<void> {
    try {
      await Promise.race([
        this.store.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('store ping timed out')), 1000).unref()),
      ]);
      if (!this.generation) throw new Error('no config loaded');
      this.sendPlain(res, 200, { status: 'ready', store: this.store.driver, generation: this.generation.id });
    } catch (err) {
      this.sendPlain(res, 503, errorBodyOf(Errors.NOT_READY(`not ready: ${(err as Error).message}`)));
    }
  }

  /**
   * Runs the pipeline. Synchronous while every phase is: a promise is only awaited where a
   * plugin or the action returns one, so a plain proxy route costs no promise per request.
   */
  private run(ctx: Context, route: CompiledRoute, res: ServerResponse, req: IncomingMessage): void {
    try {
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > route.bodyLimit) {
        throw Errors.BODY_TOO_LARGE(route.bodyLimit, Number(declared));
      }
      if (!route.needsBody) return this.step(ctx, route, res, req, 0);
      readBody(req, route.bodyLimit).then(
        (body) => {
          ctx.body = body;
          ctx.bytesIn = body.length;
          this.step(ctx, route, res, req, 0);
        },
        (err) => this.sendError(ctx, route, res, err),
      );
    } catch (err) {
      this.sendError(ctx, route, res, err);
    }
  }

  /** Request phase from plugin `from` on, then the action. */
  private step(ctx: Context, route: CompiledRoute, res: ServerResponse, req: IncomingMessage, from: number): void {
    try {
      const list = route.onRequest;
      for (let i = from; i < list.length; i++) {
        const r = list[i]!.onRequest!(ctx);
        if (!r) continue;
        if (typeof (r as Promise<unknown>).then === 'function') {
          (r as Promise<void | PluginResponse>).then(
            (v) => (v ? this.sendResponse(ctx, route, res, v) : this.step(ctx, route, res, req, i + 1)),
            (err) => this.sendError(ctx, route, res, err),
          );
          return;
        }
        return this.sendResponse(ctx, route, res, r as PluginResponse);
      }
      const action = route.action;
      switch (action.kind) {
        case 'proxy':
          return this.forward(ctx, route, action.upstream, req, res);
        case 'respond':
          return this.sendResponse(ctx, route, res, { status: action.status, headers: action.headers, body: action.body });
        case 'deliver': {
          if (!this.delivery) throw Errors.DELIVERY_UNAVAILABLE();
          this.delivery.enqueueIngress(route, ctx, action.upstream).then(
            (id) => {
              ctx.messageId = id;
              this.sendResponse(ctx, route, res, { status: 202, headers: { 'hookgate-message-id': id }, body: { id } });
            },
            (err) => this.sendError(ctx, route, res, err),
          );
          return;
        }
        case 'publish': {
          if (!this.delivery) throw Errors.DELIVERY_UNAVAILABLE();
          this.delivery.publish(route, ctx).then(
            (r) => this.sendResponse(ctx, route, res, r),
            (err) => this.sendError(ctx, route, res, err),
          );
          return;
        }
      }
    } catch (err) {
      this.sendError(ctx, route, res, err);
    }
  }

  private forward(ctx: Context, route: CompiledRoute, upstream: Upstream, req: IncomingMessage, res: ServerResponse): void {
    const target = upstream.pick();
    ctx.upstreamTarget = target.url;
    const headers = req.headers;
    const peer = ctx.remoteAddress;
    const host = headers.host;
    stripHopByHop(headers as Record<string, unknown>);
    const prior = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}` : peer;
    headers['x-forwarded-proto'] = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    if (host) headers['x-forwarded-host'] = host;
    if (!ctx.requestId) ctx.requestId = randomUUID();
    headers['x-request-id'] = ctx.requestId;
    const fp = (ctx.state.forwardPath as string | undefined) ?? ctx.path;
    req.url = encodePath(fp) + ctx.search;
    const flight: Flight = { ctx, route, upstream, target, timedOut: false, responded: false, clientGone: false, overLimit: false, proxyReq: undefined };
    (req as Req)[CTX] = flight;
    let buffer: { pipe(dest: NodeJS.WritableStream): unknown } | undefined;
    if (ctx.body) {
      headers['content-length'] = String(ctx.body.length);
      // http-proxy only calls buffer.pipe(proxyReq): ending the request with the bytes sends
      // headers and body in one write, with no stream in between.
      const body = ctx.body;
      buffer = { pipe: (dest) => dest.end(body) };
    } else if (headers['content-length'] === undefined && req.readable && !req.readableEnded) {
      // Chunked upload: enforce the cap while streaming.
      const limiter = new BodyLimit(route.bodyLimit);
      limiter.on('error', (err) => {
        req.unpipe(limiter);
        // Don't leave a partial request open on a reused upstream connection until timeoutMs.
        flight.overLimit = true;
        flight.proxyReq?.destroy();
        this.sendError(ctx, route, res, err, true);
      });
      req.pipe(limiter);
      buffer = limiter;
    }
    this.proxy.web(req, res, { target: target.proxyTarget as never, agent: target.agent, buffer: buffer as never }, (err: NodeJS.ErrnoException) => {
      if (flight.clientGone || flight.overLimit) return;
      if (flight.responded) {
        // The response had started: the only honest signal left is to cut the connection.
        res.destroy();
        return;
      }
      if (flight.timedOut) {
        this.sendError(ctx, route, res, Errors.UPSTREAM_TIMEOUT(upstream.name, upstream.timeoutMs));
        return;
      }
      upstream.reportConnectFailure(target);
      this.sendError(ctx, route, res, Errors.UPSTREAM_UNAVAILABLE(upstream.name, err.code ?? err.message));
    });
  }

  /** Sends a plugin or action response through the response phase. */
  sendResponse(ctx: Context, route: CompiledRoute, res: ServerResponse, r: PluginResponse): void {
    try {
      this.writeResponse(ctx, route, res, r);
    } catch (err) {
      // e.g. a plugin put an invalid character in a header: never leave the client hanging.
      this.logger.error({ err: (err as Error).message, route: route.name }, 'could not write the response');
      res.destroy();
    }
  }

  private writeResponse(ctx: Context, route: CompiledRoute, res: ServerResponse, r: PluginResponse): void {
    if (res.headersSent || res.destroyed) return;
    let body: Buffer;
    const headers: OutgoingHttpHeaders = { ...(r.headers ?? {}) };
    if (r.body === undefined || r.body === null) body = Buffer.alloc(0);
    else if (Buffer.isBuffer(r.body)) body = r.body;
    else if (typeof r.body === 'string') {
      body = Buffer.from(r.body);
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      body = Buffer.from(JSON.stringify(r.body));
      headers['content-type'] ??= 'application/json';
    }
    headers['content-length'] = body.length;
    ctx.status = r.status;
    ctx.bytesOut = body.length;
    this.decorate(ctx, route, headers);
    res.writeHead(r.status, headers);
    res.end(body);
  }

  /** The one error mapper: GatewayError → its status and code; anything else → 500, logged. */
  sendError(ctx: Context | undefined, route: CompiledRoute | undefined, res: ServerResponse, err: unknown, closeConnection = false): void {
    let ge: GatewayError;
    if (err instanceof GatewayError) ge = err;
    else {
      this.logger.error({ err: (err as Error)?.stack ?? String(err), route: route?.name }, 'unexpected error');
      ge = Errors.INTERNAL();
    }
    if (ge.status === 413) closeConnection = true;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const headers: OutgoingHttpHeaders = { ...(ge.headers ?? {}) };
    // An unread body would otherwise be parsed as the next request; close instead.
    if (closeConnection) headers.connection = 'close';
    if (ctx && route) {
      ctx.errorCode = ge.code;
      this.sendResponse(ctx, route, res, { status: ge.status, headers, body: errorBody(ge.code, ge.message) });
    } else {
      this.sendPlain(res, ge.status, errorBody(ge.code, ge.message), headers);
    }
  }

  private sendPlain(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
    const buf = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': buf.length });
    res.end(buf);
  }

  /** Log phase and metrics, after the response is done. */
  private finish(ctx: Context, route: CompiledRoute, res: ServerResponse): void {
    if (!res.writableFinished && ctx.status === 0) ctx.status = 499;
    const list = route.onLog;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!.onLog!(ctx);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, route: route.name }, 'onLog failed');
      }
    }
    this.metrics.observe(route.name, ctx.status, (performance.now() - ctx.startedAt) / 1000);
  }

  close(): void {
    this.proxy.close();
  }
}

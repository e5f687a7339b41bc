import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { CompiledRoute, Snapshot } from './compile.js';
import { Context, requestIdFor } from './context.js';
import { Errors, errorBodyOf, GatewayError } from './errors.js';
import { Exchange } from './exchange.js';
import { ClosingConnections } from './closing-connections.js';
import { collectBody, dropHttp1OnlyHeaders, hasDuplicateHost, sendJson } from './http.js';
import type { Metrics } from './metrics.js';
import type { PluginResponse } from './plugin.js';
import { forward, type ForwardHooks } from './proxy.js';
import { RequestDeadlines } from './request-deadline.js';
import { runRequestPhase, type RequestPhaseExits } from './request-phase.js';
import { normalizePath } from './router.js';
import type { Store } from './store/types.js';
import { WebSocketProxy } from './websocket.js';

/** What the deliver and publish actions need from the delivery engine. */
export interface DeliveryActions {
  /** Queues an inbound request for async delivery to an upstream; resolves to the message id once durable. */
  enqueueIngress(route: CompiledRoute, ctx: Context, upstream: string): Promise<string>;
  /** Accepts an event for fan-out; resolves to the response to send. */
  publish(route: CompiledRoute, ctx: Context): Promise<PluginResponse>;
}

/**
 * The request pipeline of the main listener: route, request phase, action, response phase, log
 * phase. It owns every exit (plugins return responses, they never write to `res`), so logging,
 * metrics and headers are uniform. It stays synchronous until a phase returns a promise.
 */
export class Pipeline implements ForwardHooks {
  snapshot: Snapshot | undefined;
  delivery: DeliveryActions | undefined;
  /** Sees every finished exchange after its log phase (the console's request log and stats). */
  observer: ((ctx: Context, route: string, ms: number) => void) | undefined = undefined;
  private readonly websockets: WebSocketProxy;
  /** Connections answered with `Connection: close`: nothing pipelined behind that answer runs. */
  private readonly closing = new ClosingConnections<Exchange>();
  private readonly runExchange = (ex: Exchange): void => this.run(ex);
  /** `limits.requestTimeoutMs` and `limits.bodyIdleTimeoutMs` of the exchanges not answered yet. */
  private readonly deadlines = new RequestDeadlines({
    deadline: (ex, receiving) => this.timedOut(ex, receiving),
    bodyIdle: (ex) => this.timedOut(ex, true, Errors.BODY_IDLE_TIMEOUT(ex.snap.config.limits.bodyIdleTimeoutMs)),
  });
  /** The request phase's exits, built once (not a closure per request). */
  private readonly exits: RequestPhaseExits<Exchange> = {
    answer: (ex, r) => this.respond(ex, r),
    proceed: (ex) => this.act(ex),
    fail: (ex, err) => this.fail(ex, err),
  };

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.websockets = new WebSocketProxy(logger);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Pipelined behind an answer that closes the connection: the client will never read a
    // response to it, and nothing it asks for may run (it could reach an upstream).
    // (A client's own `Connection: close` needs no check: Node's parser refuses what follows it.)
    if (this.closing.has(req.socket)) return;
    const url = req.url ?? '/';
    if (url === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url === '/readyz') return void this.ready(res);
    const snap = this.snapshot;
    if (!snap) return sendJson(res, 503, errorBodyOf(Errors.NOT_READY('no config loaded')));
    let ex: Exchange;
    try {
      const { ctx, route } = this.match(snap, req);
      ex = new Exchange(req, res, ctx, route, snap);
    } catch (err) {
      return this.replyUnrouted(snap, req, res, err);
    }
    this.begin(ex);
    this.deadlines.track(ex);
    // HTTP/1 answers leave in order: a pipelined request starts once the one before it is over.
    if (req.httpVersionMajor < 2) this.closing.admit(req.socket, ex, this.runExchange);
    else this.run(ex);
  };

  /** Counts the exchange in flight until its response closes, then runs the log phase. */
  private begin(ex: Exchange): void {
    ex.snap.inflight++;
    this.metrics.inflightNow++;
    // 'close' fires once per response; `on` avoids once()'s wrapper allocation on the hot path.
    ex.res.on('close', () => this.closed(ex));
  }

  /** WebSocket upgrades: only routes with `websocket: true`, after their request phase. */
  readonly upgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    const snap = this.snapshot;
    if (!snap) return this.websockets.refuse(socket, Errors.NOT_READY('no config loaded'));
    let matched: { ctx: Context; route: CompiledRoute };
    try {
      matched = this.match(snap, req);
    } catch (err) {
      return this.websockets.refuse(socket, err);
    }
    const { ctx, route } = matched;
    const action = route.action;
    if (action.kind !== 'proxy' || !action.websocket) return this.websockets.refuse(socket, Errors.UPGRADE_REFUSED(ctx.path));
    this.websockets.run({ req, ctx, route, socket, head, upstream: action.upstream });
  };

  /** Routes a request: its route and a fresh plugin context. Throws 404/405/400 as GatewayErrors. */
  private match(snap: Snapshot, req: IncomingMessage): { ctx: Context; route: CompiledRoute } {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = normalizePath(q === -1 ? url : url.slice(0, q));
    // Two Hosts: the router and an upstream could each believe a different one.
    if (hasDuplicateHost(req.rawHeaders)) throw Errors.BAD_REQUEST('more than one Host header');
    const match = snap.router.match(req.method ?? 'GET', path, req.headers.host, req.headers);
    const route = match.route;
    const ctx = new Context(req, route.name, path, q === -1 ? '' : url.slice(q), req.socket.remoteAddress ?? '', snap.clientIp, route.credentials);
    if (route.stripPrefix && match.prefixLength > 0) ctx.forwardPath = path.slice(match.prefixLength) || '/';
    return { ctx, route };
  }

  /**
   * A request no route matched (404, 405, or 400 for a path that does not normalise): it gets a
   * request id, its answer runs through the global plugins' response phase, and its log phase
   * and metrics run under the route name `(unmatched)`, like every other request.
   */
  private replyUnrouted(snap: Snapshot, req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const raw = q === -1 ? url : url.slice(0, q);
    let path: string;
    try {
      path = normalizePath(raw);
    } catch {
      path = raw;
    }
    const route = snap.unmatched;
    const ctx = new Context(req, route.name, path, q === -1 ? '' : url.slice(q), req.socket.remoteAddress ?? '', snap.clientIp, route.credentials);
    const ex = new Exchange(req, res, ctx, route, snap);
    this.begin(ex);
    this.fail(ex, err);
  }

  private async ready(res: ServerResponse): Promise<void> {
    try {
      // The one readiness check: the redis store made every Redis connection of this process
      // (queue, replica wait), so its ping covers them all.
      await Promise.race([
        this.store.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('store ping timed out')), 1000).unref()),
      ]);
      if (!this.snapshot) throw new Error('no config loaded');
      sendJson(res, 200, { status: 'ready', store: this.store.driver, generation: this.snapshot.id });
    } catch (err) {
      sendJson(res, 503, errorBodyOf(Errors.NOT_READY(`not ready: ${(err as Error).message}`)));
    }
  }

  /** Checks the declared length, buffers the body when the route needs it, then runs the phases. */
  private run(ex: Exchange): void {
    try {
      const { route, req, ctx, res } = ex;
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > route.bodyLimit) throw Errors.BODY_TOO_LARGE(route.bodyLimit, Number(declared));
      if (!route.needsBody) return runRequestPhase(ex.route.onRequest, ex.ctx, 0, ex, this.exits);
      collectBody(req, route.bodyLimit, (err, body) => {
        if (err) return this.fail(ex, err);
        if (res.headersSent) return; // answered meanwhile (the deadline)
        ctx.body = body;
        ctx.bytesIn = body!.length;
        runRequestPhase(ex.route.onRequest, ex.ctx, 0, ex, this.exits);
      });
    } catch (err) {
      this.fail(ex, err);
    }
  }

  /** The route's action, once the request phase let the request through. */
  private act(ex: Exchange): void {
    // A plugin that settled after the deadline answered: the action must not run any more.
    if (ex.res.headersSent || ex.closed) return;
    try {
      this.runAction(ex);
    } catch (err) {
      this.fail(ex, err);
    }
  }

  private runAction(ex: Exchange): void {
    const { route, ctx } = ex;
    const action = route.action;
    switch (action.kind) {
      case 'proxy':
        return forward(ex, action.upstream, this);
      case 'respond':
        return this.respond(ex, { status: action.status, headers: action.headers, body: action.body });
      case 'deliver': {
        if (!this.delivery) throw Errors.DELIVERY_UNAVAILABLE();
        this.delivery.enqueueIngress(route, ctx, action.upstream).then(
          (id) => {
            ctx.messageId = id;
            this.respond(ex, { status: 202, headers: { 'hookgate-message-id': id }, body: { id } });
          },
          (err) => this.fail(ex, err),
        );
        return;
      }
      case 'publish': {
        if (!this.delivery) throw Errors.DELIVERY_UNAVAILABLE();
        this.delivery.publish(route, ctx).then(
          (r) => this.respond(ex, r),
          (err) => this.fail(ex, err),
        );
        return;
      }
    }
  }

  /**
   * Response phase: route headers, context headers, then each plugin's onResponse; last, the
   * request id, unless the route's request-id plugin decides about it.
   */
  decorate(ex: Exchange, headers: OutgoingHttpHeaders): void {
    const { route, ctx } = ex;
    if (route.extraHeaders) Object.assign(headers, route.extraHeaders);
    for (const k in ctx.responseHeaders) headers[k] = ctx.responseHeaders[k];
    const list = route.onResponse;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!.onResponse!(ctx, headers);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, route: route.name, requestId: idOf(ctx) }, 'onResponse failed');
      }
    }
    if (route.echoRequestId && headers['x-request-id'] === undefined) headers['x-request-id'] = idOf(ctx);
    if (ex.req.httpVersionMajor === 2) dropHttp1OnlyHeaders(headers);
  }

  /** Writes a plugin or action response through the response phase. */
  respond(ex: Exchange, r: PluginResponse): void {
    const { res, ctx } = ex;
    if (res.headersSent || res.destroyed) return;
    let body: Buffer;
    let headers: OutgoingHttpHeaders;
    try {
      headers = { ...(r.headers ?? {}) };
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
      // Set before the response phase, whose plugins may read it.
      ctx.status = r.status;
      this.decorate(ex, headers);
      res.writeHead(r.status, headers);
    } catch (err) {
      return this.unwritable(ex, r.status, err, r.headers?.connection === 'close');
    }
    ctx.bytesOut = body.length;
    if (headers.connection === 'close' && ex.req.socket) this.closing.mark(ex.req.socket);
    res.end(body);
  }

  /**
   * A response Node refused to write (a bad status, or a header value a plugin set that HTTP does
   * not allow): nothing has been sent, so the client gets a plain 500 instead of a cut connection,
   * and the log records the 500 that left, not the status that could not.
   */
  private unwritable(ex: Exchange, status: number, err: unknown, close: boolean): void {
    const { res, ctx, route } = ex;
    this.logger.error({ err: (err as Error)?.message ?? String(err), route: route.name, requestId: idOf(ctx), status, code: 'HG_INTERNAL' }, 'the response could not be written; answered 500 instead');
    const ge = Errors.INTERNAL();
    const buf = Buffer.from(JSON.stringify(errorBodyOf(ge)));
    ctx.status = 500;
    ctx.errorCode = ge.code;
    ctx.errorReason = undefined;
    ctx.bytesOut = 0;
    try {
      // Still closing when the refused answer meant to (its body unread).
      res.writeHead(500, close ? { 'content-type': 'application/json', 'content-length': buf.length, connection: 'close' } : { 'content-type': 'application/json', 'content-length': buf.length });
    } catch {
      return void res.destroy();
    }
    ctx.bytesOut = buf.length;
    if (close && ex.req.socket) this.closing.mark(ex.req.socket);
    res.end(buf);
  }

  /** A deadline passed before the response started: cut the work in flight and answer. */
  private timedOut(ex: Exchange, receiving: boolean, err?: GatewayError): void {
    const limits = ex.snap.config.limits;
    const ge = err ?? (receiving ? Errors.REQUEST_TIMEOUT(`the request was not received within ${limits.requestTimeoutMs} ms`) : Errors.DEADLINE_EXCEEDED(limits.requestTimeoutMs));
    this.logger.warn({ route: ex.route.name, code: ge.code, requestId: idOf(ex.ctx) }, ge.message);
    const upstream = ex.upstream;
    this.fail(ex, ge);
    if (!upstream) return;
    // Cutting a forward that still streams the unfinished body destroys that body, and with it
    // the client's socket: only once the answer is out.
    if (receiving && !ex.res.writableFinished) ex.res.once('finish', () => upstream.cancel());
    else upstream.cancel();
  }

  private toGatewayError(err: unknown, ctx: Context): GatewayError {
    if (err instanceof GatewayError) return err;
    this.logger.error({ err: (err as Error)?.stack ?? String(err), route: ctx.routeName, requestId: idOf(ctx) }, 'unexpected error');
    return Errors.INTERNAL();
  }

  /** The one error mapper: GatewayError → its status and code; anything else → 500, logged. */
  fail(ex: Exchange, err: unknown): void {
    const ge = this.toGatewayError(err, ex.ctx);
    const { res, ctx } = ex;
    if (res.headersSent || res.destroyed) return void res.destroy();
    const headers: OutgoingHttpHeaders = { ...(ge.headers ?? {}) };
    // An unread body would otherwise be parsed as the next request; close instead (HTTP/1 only:
    // HTTP/2 has no Connection header, each stream ends on its own).
    if ((ge.status === 413 || ge.status === 408) && ex.req.httpVersionMajor === 1) headers.connection = 'close';
    ctx.errorCode = ge.code;
    ctx.errorReason = ge.reason;
    this.respond(ex, { status: ge.status, headers, body: errorBodyOf(ge) });
  }

  /** The exchange is over: cut a forward whose client left, then the log phase and metrics. */
  private closed(ex: Exchange): void {
    if (ex.closed) return;
    ex.closed = true;
    ex.snap.inflight--;
    this.metrics.inflightNow--;
    this.deadlines.untrack(ex);
    if (ex.req.httpVersionMajor < 2) this.closing.release(ex.req.socket, this.runExchange);
    const { res, ctx, route } = ex;
    if (ex.upstream && !res.writableFinished) ex.upstream.cancel();
    if (!res.writableFinished && ctx.status === 0) ctx.status = 499;
    // Every access line carries an id, also on routes without the request-id plugin.
    idOf(ctx);
    const list = route.onLog;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!.onLog!(ctx);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, route: route.name, requestId: ctx.requestId }, 'onLog failed');
      }
    }
    const seconds = (performance.now() - ctx.startedAt) / 1000;
    this.metrics.observe(route.name, ctx.status, seconds);
    this.observer?.(ctx, route.name, seconds * 1000);
    this.metrics.ingressErrors.observe(route.name, ctx.status, ctx.errorCode, ctx.upstreamTarget !== undefined);
  }

  close(): void {
    this.websockets.close();
    this.deadlines.close();
  }
}

/** The request's id, made now (reusing a valid incoming X-Request-Id) if no one set it yet. */
function idOf(ctx: Context): string {
  return (ctx.requestId ||= requestIdFor(ctx.req.headers));
}

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { CompiledRoute, Snapshot } from './compile.js';
import { Context } from './context.js';
import { Errors, errorBodyOf, GatewayError } from './errors.js';
import { Exchange } from './exchange.js';
import { collectBody, dropHttp1OnlyHeaders, sendJson } from './http.js';
import type { Metrics } from './metrics.js';
import type { PluginResponse } from './plugin.js';
import { forward, type ForwardHooks } from './proxy.js';
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
  private readonly websockets: WebSocketProxy;
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
      // Before routing there is no route to log under: answer plainly.
      return this.replyUnrouted(res, err);
    }
    snap.inflight++;
    this.metrics.inflightNow++;
    // 'close' fires once per response; `on` avoids once()'s wrapper allocation on the hot path.
    res.on('close', () => this.closed(ex));
    this.run(ex);
  };

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
    const match = snap.router.match(req.method ?? 'GET', path, req.headers.host, req.headers);
    const route = match.route;
    const ctx = new Context(req, route.name, path, q === -1 ? '' : url.slice(q), req.socket.remoteAddress ?? '');
    if (route.stripPrefix && match.prefixLength > 0) ctx.forwardPath = path.slice(match.prefixLength) || '/';
    return { ctx, route };
  }

  private replyUnrouted(res: ServerResponse, err: unknown): void {
    const ge = this.toGatewayError(err, undefined);
    sendJson(res, ge.status, errorBodyOf(ge), ge.headers);
  }

  private async ready(res: ServerResponse): Promise<void> {
    try {
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
      const { route, req, ctx } = ex;
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > route.bodyLimit) throw Errors.BODY_TOO_LARGE(route.bodyLimit, Number(declared));
      if (!route.needsBody) return runRequestPhase(ex.route.onRequest, ex.ctx, 0, ex, this.exits);
      collectBody(req, route.bodyLimit, (err, body) => {
        if (err) return this.fail(ex, err);
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

  /** Response phase: route headers, context headers, then each plugin's onResponse. */
  decorate(ex: Exchange, headers: OutgoingHttpHeaders): void {
    const { route, ctx } = ex;
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
    if (ex.req.httpVersionMajor === 2) dropHttp1OnlyHeaders(headers);
  }

  /** Writes a plugin or action response through the response phase. */
  respond(ex: Exchange, r: PluginResponse): void {
    const { res, ctx } = ex;
    if (res.headersSent || res.destroyed) return;
    try {
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
      this.decorate(ex, headers);
      res.writeHead(r.status, headers);
      res.end(body);
    } catch (err) {
      // e.g. a plugin put an invalid character in a header: never leave the client hanging.
      this.logger.error({ err: (err as Error).message, route: ex.route.name }, 'could not write the response');
      res.destroy();
    }
  }

  private toGatewayError(err: unknown, route: string | undefined): GatewayError {
    if (err instanceof GatewayError) return err;
    this.logger.error({ err: (err as Error)?.stack ?? String(err), route }, 'unexpected error');
    return Errors.INTERNAL();
  }

  /** The one error mapper: GatewayError → its status and code; anything else → 500, logged. */
  fail(ex: Exchange, err: unknown): void {
    const ge = this.toGatewayError(err, ex.route.name);
    const { res, ctx } = ex;
    if (res.headersSent || res.destroyed) return void res.destroy();
    const headers: OutgoingHttpHeaders = { ...(ge.headers ?? {}) };
    // An unread body would otherwise be parsed as the next request; close instead. (HTTP/2
    // frames each request on its own stream: nothing to close.)
    if (ge.status === 413 && ex.req.httpVersionMajor < 2) headers.connection = 'close';
    ctx.errorCode = ge.code;
    this.respond(ex, { status: ge.status, headers, body: errorBodyOf(ge) });
  }

  /** The exchange is over: cut a forward whose client left, then the log phase and metrics. */
  private closed(ex: Exchange): void {
    if (ex.closed) return;
    ex.closed = true;
    ex.snap.inflight--;
    this.metrics.inflightNow--;
    const { res, ctx, route } = ex;
    if (ex.upstream && !res.writableFinished) ex.upstream.cancel();
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
    this.websockets.close();
  }
}

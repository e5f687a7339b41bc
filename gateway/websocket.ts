import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import { Errors, errorBodyOf, GatewayError } from './errors.js';
import type { CompiledRoute } from './compile.js';
import { requestIdFor, type Context } from './context.js';
import type { PluginResponse } from './plugin.js';
import { runRequestPhase, type RequestPhaseExits } from './request-phase.js';
import { encodePath } from './router.js';
import type { UpstreamPool } from './upstream.js';

/** An upgrade request on its way through: routed, with its plugin context. */
export interface Upgrade {
  req: IncomingMessage;
  ctx: Context;
  route: CompiledRoute;
  socket: Socket;
  head: Buffer;
  upstream: UpstreamPool;
}

/**
 * WebSocket upgrades on routes with `websocket: true`. http-proxy is still the plain right tool
 * for passing an upgraded socket through; plain HTTP goes through the undici forwarder instead.
 * The route's request phase runs first (auth, rate limits, ip-filter), without a body.
 */
export class WebSocketProxy {
  private readonly proxy = httpProxy.createProxyServer({ xfwd: true, ws: true });

  constructor(private readonly logger: Logger) {
    this.proxy.on('error', (err, _req, socket) => {
      this.logger.debug({ err: err.message }, 'websocket proxy error');
      (socket as Socket | undefined)?.destroy?.();
    });
  }

  /** Answers an upgrade request with an error and closes the socket. */
  refuse(socket: Socket, err: unknown, ctx?: Context): void {
    if (!(err instanceof GatewayError)) {
      const requestId = ctx ? (ctx.requestId ||= requestIdFor(ctx.req.headers)) : undefined;
      this.logger.error({ err: (err as Error)?.stack ?? String(err), route: ctx?.routeName, requestId }, 'unexpected error in a websocket upgrade');
    }
    const ge = err instanceof GatewayError ? err : Errors.INTERNAL();
    this.writeRaw(socket, { status: ge.status, headers: ge.headers, body: errorBodyOf(ge) });
  }

  private writeRaw(socket: Socket, r: PluginResponse): void {
    const body = Buffer.from(typeof r.body === 'string' ? r.body : JSON.stringify(r.body ?? {}));
    const lines = [`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}`, 'content-type: application/json', `content-length: ${body.length}`, 'connection: close'];
    for (const [k, v] of Object.entries(r.headers ?? {})) if (v !== undefined) lines.push(`${k}: ${String(v)}`);
    if (socket.writable) socket.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), body]));
    else socket.destroy();
  }

  /** Request phase, then the upgrade through to one target of the upstream. */
  run(up: Upgrade): void {
    up.socket.on('error', () => up.socket.destroy());
    runRequestPhase(up.route.onRequest, up.ctx, 0, up, this.exits);
  }

  private readonly exits: RequestPhaseExits<Upgrade> = {
    answer: (up, r) => this.writeRaw(up.socket, r),
    fail: (up, err) => this.refuse(up.socket, err, up.ctx),
    proceed: (up) => {
      try {
        this.pass(up);
      } catch (err) {
        this.refuse(up.socket, err, up.ctx);
      }
    },
  };

  private pass({ req, ctx, socket, head, upstream }: Upgrade): void {
    const target = upstream.pick();
    ctx.upstreamTarget = target.url;
    req.url = target.basePath + encodePath(ctx.forwardPath ?? ctx.path) + ctx.search;
    if (ctx.headersChanged) {
      // http-proxy sends req.headers: make them the plugins' copy.
      const h = ctx.headers;
      for (const k of Object.keys(req.headers)) if (!(k in h)) delete req.headers[k];
      Object.assign(req.headers, h);
    }
    // An https target's agent carries the upstream's TLS options (CA, client certificate, servername, verification).
    this.proxy.ws(req, socket, head, target.wsAgent ? { target: target.origin, agent: target.wsAgent } : { target: target.origin });
  }

  close(): void {
    this.proxy.close();
  }
}

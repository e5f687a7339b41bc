import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import { Errors, errorBodyOf, GatewayError } from './errors.js';
import type { Exchange } from './exchange.js';
import type { PluginResponse } from './plugin.js';
import { encodePath } from './router.js';
import type { UpstreamPool } from './upstream.js';

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
  refuse(socket: Socket, err: unknown): void {
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
  run(ex: Exchange, socket: Socket, head: Buffer, upstream: UpstreamPool): void {
    socket.on('error', () => socket.destroy());
    const list = ex.route.onRequest;
    const step = (from: number): void => {
      try {
        for (let i = from; i < list.length; i++) {
          const r = list[i]!.onRequest!(ex.ctx);
          if (!r) continue;
          if (typeof (r as Promise<unknown>).then === 'function') {
            (r as Promise<void | PluginResponse>).then(
              (v) => (v ? this.writeRaw(socket, v) : step(i + 1)),
              (err) => this.refuse(socket, err),
            );
            return;
          }
          return this.writeRaw(socket, r as PluginResponse);
        }
        const target = upstream.pick();
        ex.ctx.upstreamTarget = target.url;
        ex.req.url = target.basePath + encodePath(ex.ctx.forwardPath ?? ex.ctx.path) + ex.ctx.search;
        if (ex.ctx.headersChanged) {
          // http-proxy sends req.headers: make them the plugins' copy.
          const h = ex.ctx.headers;
          for (const k of Object.keys(ex.req.headers)) if (!(k in h)) delete ex.req.headers[k];
          Object.assign(ex.req.headers, h);
        }
        this.proxy.ws(ex.req, socket, head, { target: target.origin });
      } catch (err) {
        this.refuse(socket, err);
      }
    };
    step(0);
  }

  close(): void {
    this.proxy.close();
  }
}

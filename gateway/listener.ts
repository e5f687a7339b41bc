import { createServer as createHttpServer, Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2Session } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { answerClientErrors } from './client-error.js';
import type { GatewayConfig, ListenConfig } from './config/types.js';
import { ConnectionGuard, guardConnections } from './connection-limits.js';
import type { Metrics } from './metrics.js';
import { CertificateReloader, sniContext, type TlsMaterial } from './tls.js';

/** What every listener serves: the pipeline's request and upgrade handlers. */
export interface ListenerHandlers {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

/** Any server the main listener runs: plain HTTP, HTTPS (HTTP/1.1), or HTTP/2 with HTTP/1.1 fallback. */
export type MainServer = HttpServer | HttpsServer | Http2SecureServer;

/** The running main listener(s), closed together. */
export interface Listeners {
  /** The main listener's address (HTTPS when `listen.tls` is set). */
  address(): AddressInfo;
  /** The plain-HTTP listener beside the HTTPS one (`listen.http`), if any. */
  httpAddress(): AddressInfo | undefined;
  /** Reloads certificate files when they change; undefined without `listen.tls`. */
  readonly certificates: CertificateReloader | undefined;
  /** Stops accepting connections; resolves once every connection has closed. */
  close(): Promise<void>;
  /** Closes connections with nothing in flight (HTTP/2 sessions get a GOAWAY and finish their streams). */
  closeIdle(): void;
  /** Cuts every connection that is left. */
  closeAll(): void;
}

/**
 * Creates and starts the main listener from `listen`: HTTP, or HTTPS with certificates that
 * reload in place, or HTTP/2 (ALPN, HTTP/1.1 fallback), plus an optional plain-HTTP listener
 * beside it. Every server goes through `prepare`, the one place per-server options and hooks
 * are applied. `configDir` resolves the certificate paths.
 */
export async function createListeners(listen: ListenConfig, limits: GatewayConfig['limits'], handlers: ListenerHandlers, logger: Logger, configDir: string, metrics?: Metrics): Promise<Listeners> {
  const servers: MainServer[] = [];
  const sessions = new Set<Http2Session>();
  let certificates: CertificateReloader | undefined;
  let guard: ConnectionGuard | undefined;

  /** Per-server options and hooks, the same on every server this module creates. */
  const prepare = <S extends MainServer>(server: S): S => {
    // An HTTP/2 server with allowHTTP1 serves its HTTP/1.1 connections with node:http's
    // connection handling, which reads these same fields from it.
    const http1 = server as HttpServer;
    http1.keepAliveTimeout = 65_000;
    // Headers and whole-request deadlines, connection caps (per-address counts shared by every
    // listener), and JSON answers to what the HTTP parser refuses.
    if (guard) guard.attach(server);
    else guard = guardConnections(server, limits, logger, metrics);
    answerClientErrors(server, logger);
    server.on('upgrade', handlers.upgrade);
    servers.push(server);
    return server;
  };

  try {
    const tls = listen.tls;
    let main: MainServer;
    if (!tls) main = prepare(createHttpServer(handlers.request));
    else {
      let sni: TlsMaterial['sni'] = new Map();
      let secure: HttpsServer | Http2SecureServer | undefined;
      const apply = (m: TlsMaterial) => {
        sni = m.sni;
        // New handshakes use the new context; open connections keep theirs.
        secure?.setSecureContext(m.options);
      };
      certificates = new CertificateReloader(tls, configDir, logger, apply);
      const material = certificates.material;
      sni = material.sni;
      const options = {
        ...material.options,
        requestCert: tls.clientAuth !== 'none',
        rejectUnauthorized: tls.clientAuth === 'require',
        // Reads `sni` at each handshake, so a reload swaps the SNI certificates too.
        SNICallback: tls.sni.length ? (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, sniContext(sni, name)) : undefined,
      };
      if (listen.http2) {
        const h2 = createSecureServer({ ...options, allowHTTP1: true }, (req, res) => handlers.request(asHttp1Request(req), res as unknown as ServerResponse));
        h2.on('session', (s: Http2Session) => {
          sessions.add(s);
          s.once('close', () => sessions.delete(s));
        });
        secure = prepare(h2);
      } else secure = prepare(createHttpsServer(options, handlers.request));
      main = secure;
      // Handshakes that fail (an untrusted client certificate, a refused TLS version) are the
      // client's problem, not the gateway's: debug level, and no unhandled 'error'.
      secure.on('tlsClientError', (err: Error, socket: TLSSocket) => {
        logger.debug({ err: err.message, remoteAddress: socket.remoteAddress }, 'TLS handshake failed');
      });
    }
    await listenOn(main, listen.port, listen.host);
    let plain: HttpServer | undefined;
    if (listen.http) {
      plain = prepare(createHttpServer(handlers.request));
      await listenOn(plain, listen.http.port, listen.http.host);
    }
    return {
      certificates,
      address: () => main.address() as AddressInfo,
      httpAddress: () => plain?.address() as AddressInfo | undefined,
      close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {}),
      // An HTTP/2 server tracks its HTTP/1.1 connections as node:http does (and has no
      // closeAllConnections of its own); its HTTP/2 sessions are tracked here.
      closeIdle: () => {
        for (const s of servers) HttpServer.prototype.closeIdleConnections.call(s);
        for (const s of sessions) s.close();
      },
      closeAll: () => {
        for (const s of servers) HttpServer.prototype.closeAllConnections.call(s);
        for (const s of sessions) s.destroy();
      },
    };
  } catch (err) {
    certificates?.close();
    for (const s of servers) s.close();
    throw err;
  }
}

function listenOn(server: MainServer, port: number, host: string): Promise<void> {
  return new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => {
      server.off('error', rej);
      res();
    });
  });
}

/**
 * An HTTP/2 request shaped like an HTTP/1.1 one for the pipeline: `headers` without the pseudo
 * headers (`:method`, `:path`, ...), which no plugin, log line or upstream should see, and with
 * `host` from `:authority` (RFC 9113 §8.3.1), so routing by host and X-Forwarded-Host work the
 * same. The compat object's own accessors (method, url, authority) keep reading the original
 * header block, which is left untouched.
 */
function asHttp1Request(req: Http2ServerRequest): IncomingMessage {
  const src = req.headers;
  const headers: Record<string, string | string[] | undefined> = {};
  for (const k in src) if (k.charCodeAt(0) !== 58 /* ':' */) headers[k] = src[k];
  if (headers.host === undefined && src[':authority'] !== undefined) headers.host = src[':authority'];
  Object.defineProperty(req, 'headers', { value: headers, enumerable: true, configurable: true });
  return req as unknown as IncomingMessage;
}

import type { Catalogue } from '../catalogue/catalogue.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { Errors, GatewayError, errorBodyOf, type ErrorCode } from '../errors.js';
import { readBody, sendJson } from '../http.js';
import { isStoreOutage } from '../store/redis-connection.js';
import type { GatewayConfig } from '../config/types.js';
import { AdminCredentials, checkAccess, type PortalScope, type Principal, type TenantLookup } from './access.js';
import { checkInput, compileBody, compileQuery, queryObject, type InputSchema } from './input.js';

/** Retry-After of a 503 HG_STORE_UNAVAILABLE: ioredis reconnects with backoff up to 2 s. */
const STORE_RETRY_AFTER_SEC = 5;

/** What an admin handler gets; `body` is parsed JSON (undefined when there was none). */
export interface AdminRequest {
  method: string;
  url: URL;
  params: Record<string, string>;
  body: unknown;
  headers: IncomingMessage['headers'];
  /** Who is calling (the bearer token's role; a portal token's tenant). */
  principal: Principal;
}

export interface AdminReply {
  status: number;
  body?: unknown;
  /** Raw text (e.g. Prometheus exposition) sent as is. */
  text?: string;
  contentType?: string;
  /** Extra response headers (e.g. `cache-control: no-store` on an answer that holds secrets). */
  headers?: Record<string, string>;
}

export type AdminHandler = (req: AdminRequest) => AdminReply | Promise<AdminReply>;

/** One documented answer of an admin route. */
export interface AdminResponseSpec {
  description: string;
  /** JSON Schema of the JSON body; omitted for a body that is not JSON (see `contentType`). */
  schema?: InputSchema;
  /** Content type when the body is not JSON (e.g. Prometheus text). */
  contentType?: string;
}

/**
 * What an admin route takes and answers, declared where it is registered. The server checks
 * `body` and `query` against these schemas before the handler runs (400 HG_ADMIN_BAD_INPUT), and
 * the OpenAPI document is generated from the same declarations, so the two cannot drift apart.
 */
export interface AdminRouteSpec {
  summary: string;
  description?: string;
  /** JSON Schema (2020-12) of the JSON body; an absent body is checked as `{}`. */
  body?: InputSchema;
  /** JSON Schema of the query string as an object of strings (coerced to the declared types). */
  query?: InputSchema;
  /** Successful answers by status. */
  responses: Record<number, AdminResponseSpec>;
  /** Error codes the route itself can answer; the bearer check, bad input and internal errors are implied. */
  errors?: ErrorCode[];
  /** A GET that answers secrets: refused to read tokens (403 HG_ADMIN_FORBIDDEN). */
  revealsSecret?: boolean;
  /** How a portal token's tenant is checked on this route; without it portal tokens are refused (403 HG_PORTAL_SCOPE). */
  portal?: PortalScope;
}

interface AdminRoute {
  method: string;
  segments: string[];
  handler: AdminHandler;
  spec: AdminRouteSpec | undefined;
  checkBody: ValidateFunction | undefined;
  checkQuery: ValidateFunction | undefined;
}

/** A registered admin route as the API documents see it. */
export interface RegisteredAdminRoute {
  method: string;
  /** `/admin/endpoints/:id` */
  pattern: string;
  spec: AdminRouteSpec | undefined;
}

/**
 * The admin listener: its own host and port, and every call needs `Authorization: Bearer <token>`
 * (compared in constant time). Routes are registered by the gateway and the delivery engine.
 */
export class AdminServer {
  private readonly routes: AdminRoute[] = [];
  private server: Server | undefined;
  /** The admin tokens and the portal signing key of the running config. */
  readonly credentials: AdminCredentials;
  /** Finds the tenant of an endpoint or a message for portal scope checks (set by the delivery engine). */
  tenantLookup: TenantLookup | undefined = undefined;
  /** Serves `/console` and below without a token (set when the console is enabled); true when it answered. */
  consoleHandler: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined = undefined;
  /**
   * The live event catalogue (gateway.yaml's types and those created through the admin API), set
   * by the delivery engine when it registers its routes; the API documents read it. Without it
   * they show the snapshot's types.
   */
  eventCatalogue: (() => Promise<Catalogue>) | undefined = undefined;

  constructor(
    token: string,
    private readonly logger: Logger,
  ) {
    this.credentials = new AdminCredentials(token);
  }

  /** `admin.token`, a write token. Setting it keeps no other token. */
  get token(): string {
    return this.credentials.token;
  }

  set token(token: string) {
    this.credentials.configure({ token });
  }

  /** Takes the tokens and the portal key of a config (at start and on every reload). */
  configure(config: Pick<GatewayConfig, 'admin' | 'console'>): void {
    if (config.admin) this.credentials.configure(config.admin, config.console);
    this.config = config;
  }

  private config: Pick<GatewayConfig, 'admin' | 'console'> | undefined;

  /** Where browsers reach this listener: `console.publicUrl`, else `http://<admin.host>:<port listened on>`. */
  publicUrl(): string {
    const set = this.config?.console?.publicUrl;
    if (set) return set.replace(/\/+$/, '');
    const host = this.config?.admin?.host ?? '127.0.0.1';
    const port = this.address()?.port ?? this.config?.admin?.port ?? 8081;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /**
   * Registers `METHOD /admin/things/:id`. Later registrations of the same pattern replace earlier
   * ones. `spec` declares the input (checked here, compiled once) and the answers (documented).
   */
  route(method: string, pattern: string, handler: AdminHandler, spec?: AdminRouteSpec): void {
    const segments = pattern.split('/').filter(Boolean);
    const i = this.routes.findIndex((r) => r.method === method && r.segments.join('/') === segments.join('/'));
    const entry = {
      method,
      segments,
      handler,
      spec,
      checkBody: spec?.body ? compileBody(spec.body) : undefined,
      checkQuery: spec?.query ? compileQuery(spec.query) : undefined,
    };
    if (i >= 0) this.routes[i] = entry;
    else this.routes.push(entry);
  }

  /** Every registered route, in registration order (for the API documents and their contract tests). */
  registeredRoutes(): RegisteredAdminRoute[] {
    return this.routes.map((r) => ({ method: r.method, pattern: `/${r.segments.join('/')}`, spec: r.spec }));
  }

  unroute(prefix: string): void {
    const segs = prefix.split('/').filter(Boolean).join('/');
    for (let i = this.routes.length - 1; i >= 0; i--) if (this.routes[i]!.segments.join('/').startsWith(segs)) this.routes.splice(i, 1);
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  address(): AddressInfo | undefined {
    return this.server?.address() as AddressInfo | undefined;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const s = this.server;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }


  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (r: AdminReply, extra: Record<string, string> = {}) => {
      if (r.text === undefined) return sendJson(res, r.status, r.body ?? {}, extra);
      const buf = Buffer.from(r.text);
      res.writeHead(r.status, { 'content-type': r.contentType ?? 'text/plain', 'content-length': buf.length, ...extra });
      res.end(buf);
    };
    try {
      if (this.consoleHandler?.(req, res)) return;
      const principal = this.credentials.resolve(req.headers.authorization);
      if (!principal) {
        // Never echo the presented credential.
        throw Errors.ADMIN_UNAUTHORIZED().with({ 'www-authenticate': 'Bearer realm="hookgate-admin"' });
      }
      const url = new URL(req.url ?? '/', 'http://admin');
      const segs = url.pathname.split('/').filter(Boolean).map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          throw Errors.ADMIN_BAD_INPUT('malformed percent-encoding in the admin path');
        }
      });
      let pathMatched = false;
      for (const r of this.routes) {
        if (r.segments.length !== segs.length) continue;
        const params: Record<string, string> = {};
        let ok = true;
        for (let i = 0; i < segs.length; i++) {
          const p = r.segments[i]!;
          if (p.startsWith(':')) params[p.slice(1)] = segs[i]!;
          else if (p !== segs[i]) {
            ok = false;
            break;
          }
        }
        if (!ok) continue;
        pathMatched = true;
        if (r.method !== req.method) continue;
        let body: unknown;
        const raw = await readBody(req, 1024 * 1024);
        if (raw.length) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw Errors.ADMIN_BAD_INPUT('request body is not valid JSON');
          }
        }
        const call = { method: req.method, revealsSecret: r.spec?.revealsSecret, portal: r.spec?.portal, params, url, body };
        await checkAccess(principal, call, this.tenantLookup);
        body = call.body;
        if (r.checkQuery) checkInput(r.checkQuery, queryObject(url.searchParams), 'query');
        if (r.checkBody) checkInput(r.checkBody, body === undefined ? {} : body, 'body');
        const reply = await r.handler({ method: req.method, url, params, body, headers: req.headers, principal });
        return send(reply, reply.headers);
      }
      if (pathMatched) throw Errors.METHOD_NOT_ALLOWED(req.method ?? '', url.pathname);
      throw Errors.ADMIN_NOT_FOUND(req.method ?? '', url.pathname);
    } catch (err) {
      if (err instanceof GatewayError) return send({ status: err.status, body: errorBodyOf(err) }, err.headers ?? {});
      if (isStoreOutage(err)) {
        // Redis is away: the caller may retry; nothing to debug, so no stack.
        this.logger.warn({ err: (err as Error).message, code: 'HG_STORE_UNAVAILABLE', method: req.method, path: req.url?.split('?')[0] }, 'admin call failed: the store is unavailable');
        const e = Errors.STORE_UNAVAILABLE('the');
        return send({ status: e.status, body: errorBodyOf(e) }, { 'retry-after': String(STORE_RETRY_AFTER_SEC) });
      }
      this.logger.error({ err: (err as Error).stack }, 'admin handler failed');
      const e = Errors.INTERNAL();
      send({ status: e.status, body: errorBodyOf(e) });
    }
  }
}

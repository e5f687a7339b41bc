import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Errors, GatewayError, errorBodyOf } from './errors.js';
import { safeEqual } from './security/compare.js';
import { readBody } from './server.js';

/** What an admin handler gets; `body` is parsed JSON (undefined when there was none). */
export interface AdminRequest {
  method: string;
  url: URL;
  params: Record<string, string>;
  body: unknown;
  headers: IncomingMessage['headers'];
}

export interface AdminReply {
  status: number;
  body?: unknown;
  /** Raw text (e.g. Prometheus exposition) sent as is. */
  text?: string;
  contentType?: string;
}

export type AdminHandler = (req: AdminRequest) => AdminReply | Promise<AdminReply>;

interface AdminRoute {
  method: string;
  segments: string[];
  handler: AdminHandler;
}

// Key names whose values are credentials. Substring matches catch header names such as
// `x-api-key` or `x-auth-token` (e.g. in the headers plugin) as well as plain `secret`/`token`.
const SECRET_KEY = /^(secrets?|token|password|passphrase|key|authorization|cookie)$|secret|token|password|api[-_]?key|private[-_]?key/i;

/** Deep copy with secrets replaced, for GET /admin/config and logs. URL credentials are masked too. */
export function redactSecrets(value: unknown, keyName = ''): unknown {
  if (typeof value === 'string') {
    if (keyName && SECRET_KEY.test(keyName)) return '[redacted]';
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1[redacted]@');
  }
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === 'string' && keyName && SECRET_KEY.test(keyName) ? '[redacted]' : redactSecrets(v, '')));
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactSecrets(v, k);
    return out;
  }
  return value;
}

/**
 * The admin listener: its own host and port, and every call needs `Authorization: Bearer <token>`
 * (compared in constant time). Routes are registered by the gateway and the delivery engine.
 */
export class AdminServer {
  private readonly routes: AdminRoute[] = [];
  private server: Server | undefined;
  token: string;

  constructor(
    token: string,
    private readonly logger: Logger,
  ) {
    this.token = token;
  }

  /** Registers `METHOD /admin/things/:id`. Later registrations of the same pattern replace earlier ones. */
  route(method: string, pattern: string, handler: AdminHandler): void {
    const segments = pattern.split('/').filter(Boolean);
    const i = this.routes.findIndex((r) => r.method === method && r.segments.join('/') === segments.join('/'));
    const entry = { method, segments, handler };
    if (i >= 0) this.routes[i] = entry;
    else this.routes.push(entry);
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

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization;
    if (!h || !h.startsWith('Bearer ')) return false;
    return safeEqual(h.slice(7).trim(), this.token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (r: AdminReply, extra: Record<string, string> = {}) => {
      const text = r.text ?? JSON.stringify(r.body ?? {});
      const buf = Buffer.from(text);
      res.writeHead(r.status, { 'content-type': r.contentType ?? 'application/json', 'content-length': buf.length, ...extra });
      res.end(buf);
    };
    try {
      if (!this.authorized(req)) {
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
        return send(await r.handler({ method: req.method, url, params, body, headers: req.headers }));
      }
      if (pathMatched) throw Errors.METHOD_NOT_ALLOWED(req.method ?? '', url.pathname);
      throw Errors.ADMIN_NOT_FOUND(req.method ?? '', url.pathname);
    } catch (err) {
      if (err instanceof GatewayError) return send({ status: err.status, body: errorBodyOf(err) }, err.headers ?? {});
      this.logger.error({ err: (err as Error).stack }, 'admin handler failed');
      const e = Errors.INTERNAL();
      send({ status: e.status, body: errorBodyOf(e) });
    }
  }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Errors, errorBodyOf, type GatewayError } from './errors.js';
import { sendJson } from './http.js';
import type { Metrics } from './metrics.js';

/**
 * The optional `metrics: { host, port }` listener: `GET /metrics` without a token, so Prometheus
 * can scrape without holding the admin token. It serves nothing else, and the metrics carry no
 * secrets (route names, status codes, counts). `/metrics` on the admin listener stays.
 */
export class MetricsListener {
  private constructor(private readonly server: Server) {}

  static async start(metrics: Metrics, host: string, port: number, logger: Logger): Promise<MetricsListener> {
    const server = createServer((req, res) => {
      handle(metrics, req, res).catch((err: Error) => {
        logger.error({ err: err.stack }, 'metrics scrape failed');
        if (!res.headersSent) sendError(res, Errors.INTERNAL());
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return new MetricsListener(server);
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      // A scrape is short and repeatable: nothing to drain.
      this.server.closeAllConnections();
    });
  }
}

function sendError(res: ServerResponse, err: GatewayError): void {
  sendJson(res, err.status, errorBodyOf(err), err.headers);
}

async function handle(metrics: Metrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? '';
  const path = new URL(req.url ?? '/', 'http://metrics').pathname;
  // A request body is never read; drain it so keep-alive connections stay usable.
  req.resume();
  if (path !== '/metrics') return sendError(res, Errors.ROUTE_NOT_FOUND(method, path));
  if (method !== 'GET' && method !== 'HEAD') return sendError(res, Errors.METHOD_NOT_ALLOWED(method, path).with({ allow: 'GET, HEAD' }));
  const text = Buffer.from(await metrics.exposition());
  res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': text.length });
  res.end(method === 'HEAD' ? undefined : text);
}

import type { Server as NetServer, Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { LimitsConfig } from './config/types.js';
import type { Metrics } from './metrics.js';

/**
 * How often Node's HTTP server checks its connections against `headersTimeout` and
 * `requestTimeout`. Node's default (30 s) let a 2 s headers timeout cut at 18 s; at 500 ms a
 * timeout is enforced to within half a second, for the price of one walk over the connections
 * still receiving a request, twice a second.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 500;

/** How often refused connections are summed up in one log line (a flood must not flood the log). */
const REPORT_EVERY_MS = 10_000;

type Reason = 'max_connections' | 'max_connections_per_ip';

/** The node HTTP server fields the slow-client limits set (absent on a bare HTTP/2 server). */
interface HttpTimeouts {
  headersTimeout?: number;
  requestTimeout?: number;
  connectionsCheckingInterval?: number;
}

/**
 * Connection caps and Node's parser-level timeouts for one or more listeners. The total cap is
 * Node's own `server.maxConnections` (refused before a socket object exists); the per-address
 * cap counts open sockets per peer address, shared by every listener the guard is attached to.
 */
export class ConnectionGuard {
  private readonly perIp = new Map<string, number>();
  private readonly rejected: Counter<'reason'> | undefined;
  private readonly unreported: Record<Reason, number> = { max_connections: 0, max_connections_per_ip: 0 };
  private reportTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    private readonly limits: LimitsConfig,
    private readonly logger: Logger,
    metrics?: Metrics,
  ) {
    const name = 'hookgate_connections_rejected_total';
    this.rejected = metrics
      ? ((metrics.registry.getSingleMetric(name) as Counter<'reason'> | undefined) ??
        new Counter({ name, help: 'Connections closed at accept by limits.maxConnections / maxConnectionsPerIp', labelNames: ['reason'], registers: [metrics.registry] }))
      : undefined;
  }

  /** Open connections of one peer address right now (for tests and diagnostics). */
  openFrom(address: string): number {
    return this.perIp.get(canonical(address)) ?? 0;
  }

  /**
   * Applies the limits to a node http, https or http2 server. Call before `listen`: Node reads
   * `connectionsCheckingInterval` when the server starts listening.
   */
  attach(server: NetServer): this {
    const { limits } = this;
    const http = server as NetServer & HttpTimeouts;
    // Only where the server has them: an HTTP/1 server, or HTTP/2 with allowHTTP1.
    if (http.headersTimeout !== undefined) http.headersTimeout = limits.headersTimeoutMs;
    if (http.requestTimeout !== undefined) http.requestTimeout = limits.requestTimeoutMs;
    if (http.connectionsCheckingInterval !== undefined) http.connectionsCheckingInterval = CONNECTIONS_CHECKING_INTERVAL_MS;
    if (limits.maxConnections > 0) {
      server.maxConnections = limits.maxConnections;
      server.on('drop', () => this.refused('max_connections'));
    }
    if (limits.maxConnectionsPerIp > 0) server.on('connection', this.onConnection);
    return this;
  }

  private readonly onConnection = (socket: Socket): void => {
    const raw = socket.remoteAddress;
    // Gone already (reset during accept): nothing to count.
    if (raw === undefined) return;
    const address = canonical(raw);
    const open = (this.perIp.get(address) ?? 0) + 1;
    if (open > this.limits.maxConnectionsPerIp) {
      socket.destroy();
      this.refused('max_connections_per_ip');
      return;
    }
    this.perIp.set(address, open);
    socket.once('close', () => {
      const n = (this.perIp.get(address) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(address);
      else this.perIp.set(address, n);
    });
  };

  private refused(reason: Reason): void {
    this.rejected?.inc({ reason });
    this.unreported[reason]++;
    this.reportTimer ??= setTimeout(() => this.report(), REPORT_EVERY_MS).unref();
  }

  private report(): void {
    this.reportTimer = undefined;
    const { max_connections, max_connections_per_ip } = this.unreported;
    this.unreported.max_connections = 0;
    this.unreported.max_connections_per_ip = 0;
    this.logger.warn(
      { maxConnections: max_connections, maxConnectionsPerIp: max_connections_per_ip, limits: { maxConnections: this.limits.maxConnections, maxConnectionsPerIp: this.limits.maxConnectionsPerIp } },
      `connections refused over the limits in the last ${REPORT_EVERY_MS / 1000} s`,
    );
  }

  /** Stops the pending log summary (the gateway is stopping). */
  close(): void {
    clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
  }
}

/** An IPv4 client seen through a dual-stack listener (`::ffff:1.2.3.4`) counts as `1.2.3.4`. */
function canonical(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Puts `limits` on a server: headers and whole-request timeouts checked every
 * {@link CONNECTIONS_CHECKING_INTERVAL_MS}, the total connection cap and the per-address cap.
 * Returns the guard, so more listeners can share the per-address counts (`guard.attach(other)`).
 */
export function guardConnections(server: NetServer, limits: LimitsConfig, logger: Logger, metrics?: Metrics): ConnectionGuard {
  return new ConnectionGuard(limits, logger, metrics).attach(server);
}

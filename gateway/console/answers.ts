/**
 * The answers of the console's read routes `GET /admin/requests` and `GET /admin/stats`, as the
 * server builds them and the console (console/src) reads them: one definition for both sides.
 * Types only and no imports, so the console's build (the DOM's types, not Node's) can import it.
 */

/** One ingress request of `GET /admin/requests` and `GET /admin/requests/{id}`. */
export interface RequestLogEntry {
  id: string;
  /** ISO 8601. */
  at: string;
  method: string;
  path: string;
  /** Null when no route matched. */
  route: string | null;
  status: number;
  durationMs: number;
  clientIp: string;
  errorCode: string | null;
  messageId: string | null;
  /** As received, with secret headers (the log plugin's list and the route's credentials) redacted. */
  headers: Record<string, unknown>;
  /** Only when the route's log plugin captures bodies (`captureBody: true`). */
  body?: string;
  bodyTruncated?: boolean;
}

/** `GET /admin/requests`: the newest matching entries, and how many match in all. */
export interface RequestLogPage {
  requests: RequestLogEntry[];
  total: number;
}

/** One route's counts in one stats bucket. */
export interface RouteStats {
  requests: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** One bucket of `GET /admin/stats`. */
export interface StatsBucket {
  /** The bucket's start, ISO 8601. */
  at: string;
  routes: Record<string, RouteStats>;
  deliveries: { succeeded: number; failed: number };
  lagSeconds: number | null;
  queue: { waiting: number; delayed: number; failed: number } | null;
}

/** `GET /admin/stats`: the buckets of the last minutes asked for, oldest first. */
export interface StatsAnswer {
  bucketSec: number;
  /** Whether the counts are the shared store's (every instance) or this process's. */
  shared: boolean;
  buckets: StatsBucket[];
}

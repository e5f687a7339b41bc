/**
 * The one error catalogue. Every error a client or an operator can see has a stable code and an
 * HTTP status, declared here once with its message template; call sites write
 * `Errors.BODY_TOO_LARGE(limit)`, never a code string. `errorBody` is the one JSON shape.
 * A test keeps the README's error table equal to this catalogue.
 */

const detail = (message: string) => message;

/** Codes a response can carry: status and message template. */
const CATALOGUE = {
  ROUTE_NOT_FOUND: { status: 404, message: (method: string, path: string) => `no route matches ${method} ${path}`, doc: 'No route matches.' },
  METHOD_NOT_ALLOWED: { status: 405, message: (method: string, path: string) => `method ${method} is not allowed on ${path}`, doc: 'The path matches but not the method (`Allow` lists the methods).' },
  UPGRADE_REFUSED: { status: 400, message: (path: string) => `${path} does not accept protocol upgrades`, doc: 'An `Upgrade` request on a route without `websocket: true`.' },
  BAD_PATH: { status: 400, message: detail, doc: 'Malformed percent-encoding or NUL in the path.' },
  BODY_TOO_LARGE: { status: 413, message: (limit: number, declared?: number) => (declared === undefined ? `request body exceeds ${limit} bytes` : `request body of ${declared} bytes exceeds ${limit} bytes`), doc: 'Body over `size-limit` / `limits.bodyBytes`.' },
  CLIENT_ABORTED: { status: 400, message: () => 'client closed the request before the body was complete', doc: 'The client closed the request before the body was complete.' },
  BAD_REQUEST: { status: 400, message: detail, doc: 'The request could not be parsed (bad framing, invalid header), or it has more than one `Host` header.' },
  HEADERS_TOO_LARGE: { status: 431, message: () => 'request headers are too large', doc: 'The request line and headers exceed Node\'s `maxHeaderSize` (16 KiB).' },
  REQUEST_TIMEOUT: { status: 408, message: detail, doc: 'The client did not send its headers within `limits.headersTimeoutMs`, or the whole request within `limits.requestTimeoutMs`. The connection is closed.' },
  BODY_IDLE_TIMEOUT: { status: 408, message: (ms: number) => `no request body bytes received for ${ms} ms`, doc: 'The client stopped sending the body for `limits.bodyIdleTimeoutMs`. The connection is closed.' },
  DEADLINE_EXCEEDED: { status: 504, message: (ms: number) => `the gateway did not answer within ${ms} ms`, doc: 'The request was received but its plugins or action had not started a response within `limits.requestTimeoutMs`.' },
  UPSTREAM_TIMEOUT: { status: 504, message: (upstream: string, ms: number) => `upstream "${upstream}" did not answer within ${ms} ms`, doc: 'The upstream did not answer within `timeoutMs`.' },
  UPSTREAM_UNAVAILABLE: { status: 502, message: (upstream: string, why: string) => `upstream "${upstream}" is unavailable (${why})`, doc: 'The upstream refused or dropped the connection.' },
  UPSTREAM_UNKNOWN: { status: 500, message: (upstream: string) => `unknown upstream "${upstream}"`, doc: 'An async-ingress message names an upstream the running config no longer has.' },
  SIGNATURE_MISSING: { status: 401, message: (header: string) => `missing or malformed ${header} header`, doc: 'Signature header(s) missing or unparseable.' },
  SIGNATURE_INVALID: { status: 401, message: detail, doc: 'No signature matches any secret.' },
  TIMESTAMP_OUT_OF_RANGE: { status: 401, message: detail, doc: 'Signed timestamp outside ±`toleranceSec`.' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, message: (id: string) => `a publish with this Idempotency-Key (message ${id}) is still being stored; retry`, doc: 'A publish reused the `Idempotency-Key` of one still being written (`Retry-After`). A claim left unconfirmed for 10 s (its publish died between writes, e.g. in a failover) is taken over by the next retry, with the same message id.' },
  DUPLICATE_IN_FLIGHT: { status: 409, message: (id: string) => `message ${id} is already being processed`, doc: 'The same message id is being processed right now.' },
  AUTH_INVALID: { status: 401, message: detail, doc: 'jwt-auth / key-auth refused the credentials (`WWW-Authenticate` set).' },
  RATE_LIMITED: { status: 429, message: (points: number, durationSec: number) => `rate limit of ${points} per ${durationSec}s exceeded`, doc: 'Over the limit (`Retry-After`, `RateLimit-*`).' },
  STORE_UNAVAILABLE: { status: 503, message: (what: string) => `${what} store is unavailable`, doc: 'Redis unreachable and `onStoreError: deny`; or an admin API call while Redis is down (`Retry-After`).' },
  IP_FORBIDDEN: { status: 403, message: () => 'client address is not allowed', doc: 'ip-filter refused the client address.' },
  CLIENT_CERT_REQUIRED: { status: 401, message: detail, doc: 'mtls-auth: no client certificate, or one no trusted CA signed (`listen.tls.clientAuth: optional`).' },
  CLIENT_CERT_FORBIDDEN: { status: 403, message: () => 'the client certificate is not allowed on this route', doc: 'mtls-auth: a trusted client certificate that no `allow` entry matches.' },
  BODY_INVALID_JSON: { status: 400, message: (offset: number, why: string) => `the body is not valid JSON at byte ${offset}: ${why}`, doc: 'validate-body: the body is not JSON; the message and `details` give the byte offset.' },
  BODY_SCHEMA_MISMATCH: { status: 422, message: detail, doc: 'validate-body: the body breaks its schema; `details` lists every failure with its JSON pointer (status: the plugin\'s `onFail`).' },
  BODY_UNSUPPORTED_TYPE: { status: 415, message: (type: string, allowed: string) => `content type ${type} is not accepted here (expected ${allowed})`, doc: 'validate-body: a body whose `Content-Type` is not in `contentTypes`.' },
  EVENT_INVALID: { status: 400, message: detail, doc: 'A published event is not `{"type","data"}`, or a bad `Idempotency-Key`.' },
  EVENT_SCHEMA_MISMATCH: { status: 422, message: detail, doc: 'A published event\'s `data` breaks its type\'s schema (`egress.validation: enforce`); `details` lists every failure with its JSON pointer. Nothing was queued.' },
  EVENT_TYPE_UNKNOWN: { status: 422, message: detail, doc: 'The event type (or the asked-for version) is not in the catalogue, with `egress.strictTypes: true` or a `version` given.' },
  QUEUE_UNAVAILABLE: { status: 503, message: () => 'the delivery queue is unavailable; nothing was accepted, retry later', doc: 'The delivery store is unreachable; nothing was accepted.' },
  STORE_NOT_REPLICATED: { status: 503, message: (ms: number) => `no Redis replica confirmed the write within ${ms} ms; retry (with the same Idempotency-Key for publish)`, doc: '`store.durability: replicated` and no replica acknowledged the write in `store.waitTimeoutMs` (`Retry-After`). It is on the primary and may still be delivered; see [Durability and failover](#durability-and-failover).' },
  DELIVERY_UNAVAILABLE: { status: 503, message: () => 'the delivery engine is not running', doc: 'The delivery engine is not running (e.g. stopping).' },
  NOT_READY: { status: 503, message: detail, doc: "`/readyz`: no config, the store does not answer, or one of hookgate's Redis connections (store, replica wait, delivery queue) is not ready." },
  STOPPING: { status: 503, message: () => 'gateway is stopping', doc: 'A reload was asked for while the gateway is stopping.' },
  INTERNAL: { status: 500, message: () => 'internal error', doc: 'A bug; logged with its stack.' },
  CONFIG_INVALID: { status: 400, message: detail, doc: '`POST /admin/reload` with an invalid config (also the CLI\'s error class).' },
  EXAMPLE_SECRETS: { status: 400, message: detail, doc: 'A key holds one of the example config\'s published secrets and its listener is not on loopback: `hookgate start` exits 1, a reload is refused. The message names the keys, never the values. `--allow-example-secrets` overrides (see [Example secrets](#example-secrets)).' },
  WORKERS_NEED_REDIS: { status: 400, message: (n: number) => `${n} worker processes need store.driver: redis: the memory store's rate limits, replay windows, dedupe and queues live in each process and would not be shared`, doc: '`hookgate start --workers N` (or `workers:`) above 1 on the memory store: it exits 1 before starting any worker (see [Worker processes](#worker-processes)).' },
  RELOAD_PARTIAL: { status: 500, message: detail, doc: 'With worker processes, `POST /admin/reload`: some workers applied the new config and others refused it or did not answer; `details` names each worker and its generation.' },
  ADMIN_UNAUTHORIZED: { status: 401, message: () => 'admin API needs Authorization: Bearer <admin.token>', doc: 'Admin call without a known bearer token, or with an expired or altered portal token.' },
  ADMIN_FORBIDDEN: { status: 403, message: () => 'this token is read-only', doc: 'A read token (`admin.tokens[].role: read`) asked for a change, a replay or a secret.' },
  PORTAL_SCOPE: { status: 403, message: (tenant: string) => `this portal token is limited to tenant "${tenant}"`, doc: "A portal token asked for a route portals may not use, or another tenant's tenant, endpoint or message (also for ids that do not exist)." },
  CONSOLE_NOT_BUILT: { status: 404, message: () => 'the web console is not built: run `npm run build` (it writes dist/console)', doc: '`GET /console/` on an install without the console bundle (`dist/console`).' },
  REQUEST_NOT_FOUND: { status: 404, message: (id: string) => `no recent request "${id}" (the request log keeps the last console.requestLog.size)`, doc: '`GET /admin/requests/{id}`: the request is not (or no longer) in the request log.' },
  ADMIN_NOT_FOUND: { status: 404, message: (method: string, path: string) => `no admin route ${method} ${path}`, doc: 'Unknown admin route.' },
  ADMIN_BAD_INPUT: { status: 400, message: detail, doc: 'Invalid admin request body or query.' },
  ADMIN_BULK_TOO_LARGE: { status: 422, message: (limit: number) => `more than ${limit} failed deliveries match; narrow "since"/"until" or add filters (nothing was queued)`, doc: 'A bulk retry or recover (dry run or not) matches more than 10,000 deliveries; nothing was queued. Narrow `since`/`until` or add filters, and repeat.' },
  ENDPOINT_NOT_FOUND: { status: 404, message: (id: string) => `no endpoint "${id}"`, doc: 'Unknown endpoint id.' },
  ENDPOINT_EXISTS: { status: 409, message: (id: string) => `endpoint "${id}" already exists`, doc: 'Endpoint id already taken.' },
  ENDPOINT_READONLY: { status: 409, message: detail, doc: 'The endpoint is declared in gateway.yaml.' },
  ENDPOINT_URL_BLOCKED: { status: 400, message: detail, doc: 'The endpoint URL is a blocked address (SSRF guard); the message names `egress.allowCidrs`. Also the `error` of an attempt refused at connect time.' },
  ENDPOINT_URL_INVALID: { status: 400, message: detail, doc: 'The endpoint URL is not an absolute http(s) URL.' },
  ENDPOINT_UNREADABLE: { status: 500, message: detail, doc: 'An endpoint record in the store is encrypted with a key that is neither `egress.encryptionKey` nor in `egress.previousEncryptionKeys`, or fails its integrity check; the message names key ids, never a key (see [Endpoint secrets](#endpoint-secrets)).' },
  TENANT_NOT_FOUND: { status: 404, message: (id: string) => `no tenant "${id}"`, doc: 'Unknown tenant id (publish, admin API).' },
  TENANT_EXISTS: { status: 409, message: (id: string) => `tenant "${id}" already exists`, doc: 'Tenant id already taken (in gateway.yaml or the store).' },
  TENANT_READONLY: { status: 409, message: detail, doc: 'The tenant is declared in gateway.yaml, or still has endpoints.' },
  TENANT_FORBIDDEN: { status: 403, message: detail, doc: 'With `publish.tenantFrom: consumer`: the publish names a tenant other than the authenticated consumer\'s, or the request has no consumer (the route needs key-auth or jwt-auth).' },
  TENANT_RATE_LIMITED: { status: 429, message: (id: string, perSec: number) => `tenant "${id}" is over its quota of ${perSec} publishes per second`, doc: 'Over the tenant\'s `quotas.publishPerSec` (`Retry-After`). Nothing was queued.' },
  TENANT_PAYLOAD_TOO_LARGE: { status: 413, message: (limit: number) => `the event body exceeds this tenant's limit of ${limit} bytes`, doc: 'A published event over the tenant\'s `quotas.maxPayloadBytes` or the policy\'s `maxPayloadBytes`. Nothing was queued.' },
  TENANT_QUOTA_EXCEEDED: { status: 409, message: detail, doc: 'Creating the endpoint would exceed the tenant\'s `quotas.maxEndpoints`.' },
  MESSAGE_NOT_FOUND: { status: 404, message: (id: string) => `no message "${id}" (unknown or past retention)`, doc: 'Unknown message id, or past retention.' },
  ORDERING_KEY_NOT_FOUND: { status: 404, message: (endpoint: string, key: string) => `endpoint "${endpoint}" has no delivery queued for ordering key "${key}"`, doc: 'The skip route: the ordering key has nothing queued for that endpoint (nothing blocked to skip).' },
  EVENT_TYPE_NOT_FOUND: { status: 404, message: detail, doc: 'Unknown event type or version (admin API).' },
  EVENT_TYPE_EXISTS: { status: 409, message: (name: string, version: number) => `event type ${name} version ${version} already exists`, doc: 'That event type version already exists (in gateway.yaml or the store).' },
  EVENT_TYPE_READONLY: { status: 409, message: detail, doc: 'The event type is declared in gateway.yaml.' },
} as const;

/** Codes that only appear in log lines, never in a response. */
export const LOG_CODES = {
  HG_FATAL: 'An uncaught exception or unhandled rejection: logged with its stack, then the gateway drains and exits 1.',
  HG_STOP_FORCED: 'A second SIGTERM/SIGINT during the drain (or a drain still running 5 s past its deadline): the process exits 1 at once.',
  HG_QUEUE_NOT_DURABLE: 'deliver/publish routes on the memory store: accepted messages are lost on restart.',
  HG_STORE_UNAVAILABLE: 'Redis connection lost; retrying.',
  HG_QUEUE_STOP_FORCED: 'Delivery workers did not stop within the drain deadline; their jobs run again after the lock expires.',
  HG_TLS_VERIFY_OFF: 'An upstream has `tls.insecureSkipVerify: true`: its certificate is not verified.',
  HG_ENDPOINT_SECRET_NOT_DURABLE: 'The redis store, config endpoints without `secret:` and no `egress.secretKey`: their generated secrets live only in Redis and change if it loses its data; logged once (see [Endpoint secrets](#endpoint-secrets)).',
  HG_SIGNATURE_SECRET_FORMAT: 'A `verify-signature` secret looks meant for another kind of preset (`whsec_` on github/shopify/slack/twilio/hmac, or no `whsec_` on standard-webhooks/svix); logged at start and reload with its position, never its value (see [Diagnostics](#signature-diagnostics)).',
  HG_WORKER_EXITED: 'A worker process exited without being asked to (a crash, a kill): the primary starts a new one after a backoff (see [Worker processes](#worker-processes)).',
} as const;

type Catalogue = typeof CATALOGUE;
type Key = keyof Catalogue;
/** Every code a response can carry. */
export type ErrorCode = `HG_${Key}`;

/** One itemised reason of an error: where (a JSON pointer, or a byte offset) and what. */
export interface ErrorDetail {
  pointer?: string;
  offset?: number;
  message: string;
}

/** An error a client or operator sees: a stable code, an HTTP status and a message. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (e.g. Retry-After, WWW-Authenticate). */
  headers: Record<string, string> | undefined;
  /** Itemised reasons (e.g. schema failures with their JSON pointers), sent as `error.details`. */
  details: ErrorDetail[] | undefined;
  /**
   * One stable word saying why, for operators (e.g. verify-signature's `timestamp-too-old`): the
   * error mapper puts it in the access line's `reason`, never in the response body.
   */
  reason: string | undefined;
  constructor(code: ErrorCode, status: number, message: string, headers?: Record<string, string>) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.status = status;
    this.headers = headers;
  }

  /** Adds response headers; returns this, so `throw Errors.RATE_LIMITED(…).with({…})` reads in one line. */
  with(headers: Record<string, string>): this {
    this.headers = { ...this.headers, ...headers };
    return this;
  }

  /** Sets the word the access line logs as `reason`; returns this. */
  because(reason: string): this {
    this.reason = reason;
    return this;
  }

  /** Adds itemised reasons to the answer (`error.details`); returns this. */
  withDetails(details: ErrorDetail[]): this {
    this.details = details;
    return this;
  }
}

type Factories = { [K in Key]: (...args: Parameters<Catalogue[K]['message']>) => GatewayError };

/** The error factories: `throw Errors.ROUTE_NOT_FOUND(method, path)`. */
export const Errors: Factories = Object.fromEntries(
  Object.entries(CATALOGUE).map(([key, e]) => [key, (...args: unknown[]) => new GatewayError(`HG_${key}` as ErrorCode, e.status, (e.message as (...a: unknown[]) => string)(...args))]),
) as Factories;

/** The catalogue as rows, for the README check and for documentation. */
export function errorCatalogue(): { code: ErrorCode; status: number; doc: string }[] {
  return Object.entries(CATALOGUE).map(([key, e]) => ({ code: `HG_${key}` as ErrorCode, status: e.status, doc: e.doc }));
}

/** A config error, located in the file: `file:line at path: message`. A kind of GatewayError (400 on reload). */
export class ConfigError extends GatewayError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly path: string | undefined;
  constructor(message: string, where: { file?: string; line?: number; path?: string } = {}) {
    const loc = [where.file ? where.file + (where.line ? `:${where.line}` : '') : '', where.path ? `at ${where.path}` : '']
      .filter(Boolean)
      .join(' ');
    super('HG_CONFIG_INVALID', CATALOGUE.CONFIG_INVALID.status, loc ? `${loc}: ${message}` : message);
    this.name = 'ConfigError';
    this.file = where.file;
    this.line = where.line;
    this.path = where.path;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** The JSON body of a GatewayError. */
export function errorBodyOf(err: GatewayError): ErrorBody {
  const body = errorBody(err.code, err.message);
  if (err.details) body.error.details = err.details;
  return body;
}

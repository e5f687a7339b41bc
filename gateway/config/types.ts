/** The validated shape of gateway.yaml (defaults applied). See config/gateway.schema.json. */
export type PluginEntry = Record<string, Record<string, unknown> | null>;

export type RetryPolicyConfig =
  | { schedule: (number | string)[] }
  | { baseSec: number; factor?: number; maxSec?: number; attempts: number };

/** `tls` of an egress endpoint: PEM files, relative to gateway.yaml. */
export interface EndpointTlsConfig {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

/** `tls` of an upstream (its `https://` targets): an endpoint's, plus turning verification off. */
export interface UpstreamTlsConfig extends EndpointTlsConfig {
  insecureSkipVerify: boolean;
}

export interface UpstreamConfig {
  targets: { url: string; weight: number }[];
  tls?: UpstreamTlsConfig;
  timeoutMs: number;
  ejectAfterFailures: number;
  ejectMs: number;
  maxSockets: number;
}

export interface RouteConfig {
  name: string;
  path: string;
  methods?: string[];
  host?: string;
  headers?: Record<string, string>;
  deprecated?: { sunset?: string; link?: string };
  stripPrefix: boolean;
  websocket: boolean;
  publicUrl?: string;
  plugins?: PluginEntry[];
  upstream?: string;
  respond?: { status: number; headers?: Record<string, string>; body?: unknown };
  deliver?: { upstream: string; retry?: RetryPolicyConfig; timeoutMs?: number };
  publish?: { retry?: RetryPolicyConfig; tenantFrom?: 'body' | 'consumer' } | null;
}

/** One layer of delivery policy (`$defs/deliveryPolicy`); the most specific layer's set field wins. */
export interface DeliveryPolicyConfig {
  retry?: RetryPolicyConfig;
  attemptTimeoutMs?: number;
  rateLimitPerSec?: number;
  maxInFlight?: number;
  maxPayloadBytes?: number;
}

/** The tenant every endpoint and publish without a tenant belongs to. */
export const DEFAULT_TENANT = 'default';

/** `tenants[]`: an egress customer with its own endpoints, quotas and policy layer. */
export interface TenantConfig {
  id: string;
  name?: string;
  metadata?: Record<string, string>;
  quotas?: { maxEndpoints?: number; publishPerSec?: number; maxPayloadBytes?: number };
  policy?: DeliveryPolicyConfig;
}

export interface EndpointConfig {
  id: string;
  /** The owning tenant (schema default "default"). */
  tenant: string;
  url: string;
  events: string[];
  secret?: string;
  /** Rotation counter of a secret derived from `egress.secretKey` (schema default 1). */
  secretVersion: number;
  headers?: Record<string, string>;
  tls?: EndpointTlsConfig;
  rateLimitPerSec?: number;
  description?: string;
  disabled: boolean;
  retry?: RetryPolicyConfig;
  policy?: DeliveryPolicyConfig;
  /** Version pins: event type name → the one version this endpoint receives. */
  eventVersions?: Record<string, number>;
  /** Ordered delivery per `orderingKey` (schema default "none"). */
  ordering: EndpointOrdering;
}

/** `per-key`: deliveries of one ordering key to the endpoint go one at a time, in publish order. */
export type EndpointOrdering = 'none' | 'per-key';

/** One version of an event type in the catalogue (`eventTypes[]`, or created through the admin API). */
export interface EventTypeConfig {
  name: string;
  version: number;
  description?: string;
  /** The JSON Schema of `data` (inline, or read from `schemaFile`). */
  schema?: Record<string, unknown> | boolean;
  /** Config only: where the schema came from (relative to the config file). */
  schemaFile?: string;
  deprecated?: { sunset: string };
  /** Example `data` objects; the first is what `send-example` sends. */
  examples: unknown[];
  policy?: DeliveryPolicyConfig;
}

/** How published data is checked against its type's schema. */
export type EgressValidation = 'off' | 'warn' | 'enforce';

export interface EgressConfig {
  endpoints: EndpointConfig[];
  /** The global policy layer (beside the older top-level retry / attemptTimeoutMs / maxInFlightPerEndpoint). */
  policy?: DeliveryPolicyConfig;
  /** Master key for deriving config endpoints' generated secrets (HKDF). */
  secretKey?: string;
  /** AES-256-GCM key for secrets and headers at rest; old keys stay readable. */
  encryptionKey?: string;
  previousEncryptionKeys?: string[];
  allowCidrs: string[];
  retry?: RetryPolicyConfig;
  attemptTimeoutMs: number;
  retentionDays: number;
  disableAfterHours: number;
  concurrency: number;
  maxInFlightPerEndpoint: number;
  lockDurationMs: number;
  validation: EgressValidation;
  strictTypes: boolean;
  operationalWebhook?: { url: string; secret: string };
  breaker: BreakerConfig;
}

/** `egress.breaker`: the per-endpoint circuit breaker and auto-recovery (durations as in the schema). */
export interface BreakerConfig {
  enabled: boolean;
  consecutiveFailures: number;
  failureRatio: number;
  ratioWindow: number | string;
  ratioMinAttempts: number;
  openFor: (number | string)[];
  autoRecover: boolean;
  probeEvery: number | string;
  replayMissed: boolean;
}

/** `limits`: body caps, slow-client timeouts and connection caps (0 turns a timeout or cap off). */
export interface LimitsConfig {
  bodyBytes: number;
  drainTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
}

/** One SNI entry of `listen.tls`: the certificate served to clients asking for `servername`. */
export interface TlsSniConfig {
  servername: string;
  cert: string;
  key: string;
}

/** `listen.tls`: file paths are relative to the config file. */
export interface ListenTlsConfig {
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to (needed by `clientAuth`). */
  ca?: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
  sni: TlsSniConfig[];
  clientAuth: 'none' | 'optional' | 'require';
}

/** The main listener: plain HTTP, or HTTPS (with `tls`), HTTP/2 with `http2`, and an optional plain-HTTP listener beside it. */
export interface ListenConfig {
  host: string;
  port: number;
  /** Absent or false: HTTP/1.1 only. */
  http2?: boolean;
  tls?: ListenTlsConfig;
  /** A plain-HTTP listener serving the same routes beside the HTTPS one. */
  http?: { host: string; port: number };
  trustedProxies: string[];
  forwardedHeader: 'x-forwarded-for' | 'forwarded';
}

/** `admin.tokens[]`: another admin token and what it may do. */
export interface AdminTokenConfig {
  token: string;
  role: 'read' | 'write';
  name?: string;
}

/** `admin`: the admin listener and its tokens (`token` is a write token). */
export interface AdminConfig {
  host: string;
  port: number;
  token: string;
  tokens: AdminTokenConfig[];
}

/** `console`: the web console, its request log and the customer portal. */
export interface ConsoleConfig {
  enabled: boolean;
  publicUrl?: string;
  requestLog: { size: number };
  portal: { frameAncestors: string[]; signingKey?: string };
}

export interface GatewayConfig {
  listen: ListenConfig;
  admin?: AdminConfig;
  /** The web console and portal on the admin listener (schema default `{}`). */
  console: ConsoleConfig;
  /** A listener serving only `GET /metrics`, without a token. */
  metrics?: { host: string; port: number };
  store: { driver: 'memory' | 'redis'; url?: string; prefix: string };
  limits: LimitsConfig;
  customPlugins?: string[];
  upstreams: Record<string, UpstreamConfig>;
  plugins?: PluginEntry[];
  routes: RouteConfig[];
  egress: EgressConfig;
  eventTypes: EventTypeConfig[];
  tenants: TenantConfig[];
  alerting: AlertingConfig;
  alerts: AlertRuleConfig[];
}

/** `alerting`: how alert rules are evaluated. */
export interface AlertingConfig {
  /** Flush and evaluation interval, and the width of a window's buckets (a duration; schema default 10s). */
  evaluateEvery: number | string;
}

/** What an alert rule measures. */
export type AlertMetric = 'delivery_failure_ratio' | 'delivery_lag_seconds' | 'upstream_5xx_ratio' | 'signature_failures';

/** A channel an alert goes to: the operational webhook, a Slack-compatible incoming webhook, a generic JSON webhook. */
export type AlertChannelConfig = 'operational' | { slack: string } | { webhook: string };

/** `alerts[]`: one rule. */
export interface AlertRuleConfig {
  name?: string;
  when: { metric: AlertMetric; endpoint?: string; route?: string; tenant?: string; over?: number | string; above?: number; below?: number };
  channels?: AlertChannelConfig[];
  /** A duration (schema default 10m). */
  cooldown: number | string;
}

/** A loaded config plus where it came from, for located errors later in the build. */
export interface LoadedConfig {
  config: GatewayConfig;
  file: string;
  dir: string;
  /** Returns the line of a YAML path (e.g. ['routes', 0, 'plugins', 1]) or undefined. */
  lineOf(path: (string | number)[]): number | undefined;
  /** JSON pointers of scalars that were one whole `${VAR}`, with their text: typed by the schema that reads them. */
  envScalars?: Map<string, string>;
}

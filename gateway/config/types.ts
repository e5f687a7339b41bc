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
  publish?: { retry?: RetryPolicyConfig } | null;
}

export interface EndpointConfig {
  id: string;
  url: string;
  events: string[];
  secret?: string;
  headers?: Record<string, string>;
  tls?: EndpointTlsConfig;
  rateLimitPerSec?: number;
  description?: string;
  disabled: boolean;
  retry?: RetryPolicyConfig;
}

export interface EgressConfig {
  endpoints: EndpointConfig[];
  allowCidrs: string[];
  retry?: RetryPolicyConfig;
  attemptTimeoutMs: number;
  retentionDays: number;
  disableAfterHours: number;
  concurrency: number;
  maxInFlightPerEndpoint: number;
  lockDurationMs: number;
  operationalWebhook?: { url: string; secret: string };
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

export interface GatewayConfig {
  listen: { host: string; port: number; trustedProxies: string[]; forwardedHeader: 'x-forwarded-for' | 'forwarded' };
  admin?: { host: string; port: number; token: string };
  /** A listener serving only `GET /metrics`, without a token. */
  metrics?: { host: string; port: number };
  store: { driver: 'memory' | 'redis'; url?: string; prefix: string };
  limits: LimitsConfig;
  customPlugins?: string[];
  upstreams: Record<string, UpstreamConfig>;
  plugins?: PluginEntry[];
  routes: RouteConfig[];
  egress: EgressConfig;
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

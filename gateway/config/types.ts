/** The validated shape of gateway.yaml (defaults applied). See config/gateway.schema.json. */
export type PluginEntry = Record<string, Record<string, unknown> | null>;

export type RetryPolicyConfig =
  | { schedule: (number | string)[] }
  | { baseSec: number; factor?: number; maxSec?: number; attempts: number };

export interface UpstreamConfig {
  targets: { url: string; weight: number }[];
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
  rateLimitPerSec?: number;
  description?: string;
  disabled: boolean;
  retry?: RetryPolicyConfig;
  /** Version pins: event type name → the one version this endpoint receives. */
  eventVersions?: Record<string, number>;
}

/** One version of an event type in the catalogue (`eventTypes[]`). */
export interface EventTypeConfig {
  name: string;
  version: number;
  description?: string;
  schema?: Record<string, unknown> | boolean;
  schemaFile?: string;
  deprecated?: { sunset: string };
  examples: unknown[];
}

/** How published data is checked against its type's schema. */
export type EgressValidation = 'off' | 'warn' | 'enforce';

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
  validation: EgressValidation;
  strictTypes: boolean;
  operationalWebhook?: { url: string; secret: string };
}

export interface GatewayConfig {
  listen: { host: string; port: number };
  admin?: { host: string; port: number; token: string };
  store: { driver: 'memory' | 'redis'; url?: string; prefix: string };
  limits: { bodyBytes: number; drainTimeoutMs: number; headersTimeoutMs: number };
  customPlugins?: string[];
  upstreams: Record<string, UpstreamConfig>;
  plugins?: PluginEntry[];
  routes: RouteConfig[];
  egress: EgressConfig;
  eventTypes: EventTypeConfig[];
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

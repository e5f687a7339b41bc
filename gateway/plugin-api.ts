/**
 * The plugin API: everything a plugin may import, as `hookgate/plugin`. The built-in plugins
 * import only from here, so they prove that a plugin written outside the package can do what
 * they do. It imports nothing of the runtime, so a plugin never pulls the gateway into a cycle.
 */
export { definePlugin } from './plugin.js';
export type { JsonSchema, PluginCounter, PluginDefinition, PluginEnv, PluginInstance, PluginMetrics, PluginResponse } from './plugin.js';
export { Context, requestIdFrom, type CredentialLocations } from './context.js';
export { accessLevel, accessLine, logFormat } from './logger.js';
export { Errors, GatewayError, type ErrorCode } from './errors.js';
export type { MemoryStoreLike, RedisStoreLike, Store, StoreOperations } from './store/types.js';
export { safeEqual, signatureEqual } from './security/compare.js';
export { ALWAYS_REDACTED_HEADERS, redactHeaderValues } from './security/redact-headers.js';
export { checkTimestamp } from './security/timestamp.js';
export { parseStripeSignatureHeader, parseVersionedSignatures } from './security/signature-header.js';
export { decodeStandardWebhooksSecret, STANDARD_WEBHOOKS_SECRET_PREFIX } from './security/standard-webhooks-secret.js';
export { canonicalIp, CidrList, formatCidr, formatIp, formatIpv4, mappedIpv4, maskIp, normalizeIpText, parseCidr, parseIp, unmapIpv4, type Cidr, type IpAddress } from './security/cidr.js';
export { decodeParamName, withoutQueryParam } from './query-string.js';
export type { ErrorDetail } from './errors.js';
export { compilePayloadSchema, formatFailures, payloadAjv, payloadValidator, type PayloadFailure, type PayloadValidator } from './catalogue/payload-schema.js';

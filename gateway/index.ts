/**
 * hookgate's public API, for embedding the gateway and for writing plugins in TypeScript.
 * The CLI (`hookgate start`) is the usual way to run it.
 */
export * from './plugin-api.js';
export { ConfigError, errorBody } from './errors.js';
export { Gateway } from './runtime.js';
export type { GatewayOptions, GatewayService, ReloadResult, ServiceFactory } from './runtime.js';
export { compile, closeSnapshot } from './compile.js';
export type { Snapshot, CompiledRoute } from './compile.js';
export { createDeliveryService } from './delivery/service.js';
export { loadConfigFile, loadConfigText } from './config/load.js';
export type { GatewayConfig } from './config/types.js';
export { MemoryStore, RedisStore, createStore } from './store/index.js';
export type { Store } from './store/index.js';
export { signatureHeader, webhookHeaders, generateSecret } from './delivery/sign.js';
export { builtinPlugins } from '../plugins/index.js';

import type { PluginDefinition } from '../gateway/plugin-api.js';
import { headersPlugin } from './headers/index.js';
import { ipFilterPlugin } from './ip-filter/index.js';
import { jwtAuthPlugin } from './jwt-auth/index.js';
import { keyAuthPlugin } from './key-auth/index.js';
import { logPlugin } from './log/index.js';
import { mtlsAuthPlugin } from './mtls-auth/index.js';
import { rateLimitPlugin } from './rate-limit/index.js';
import { requestIdPlugin } from './request-id/index.js';
import { sizeLimitPlugin } from './size-limit/index.js';
import { validateBodyPlugin } from './validate-body/index.js';
import { verifySignaturePlugin } from './verify-signature/index.js';

/** The built-in plugins, handed explicitly to the compiler (no global registry). */
export const builtinPlugins: PluginDefinition[] = [
  requestIdPlugin,
  logPlugin,
  sizeLimitPlugin,
  headersPlugin,
  verifySignaturePlugin,
  jwtAuthPlugin,
  keyAuthPlugin,
  mtlsAuthPlugin,
  ipFilterPlugin,
  rateLimitPlugin,
  validateBodyPlugin,
];

import type { IncomingHttpHeaders } from 'node:http';

/**
 * Headers never shown in clear (the access log, the console's request log), on any route:
 * credentials by convention and every signature header of the verify-signature presets. Each
 * route adds what its auth plugins declare they read (`PluginInstance.credentials`), and the log
 * plugin's `redact` adds more.
 */
export const ALWAYS_REDACTED_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'apikey',
  'x-api-key',
  'x-auth-token',
  'x-access-token',
  'x-gitlab-token',
  'x-csrf-token',
  'x-amz-security-token',
  'webhook-signature',
  'svix-signature',
  'stripe-signature',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-shopify-hmac-sha256',
  'x-slack-signature',
  'x-twilio-signature',
];

/** The default set, for routes without a log plugin of their own. */
export const DEFAULT_REDACTED: ReadonlySet<string> = new Set(ALWAYS_REDACTED_HEADERS);

/** `headers` (as received) with every name in `redacted` or `own` (the route's credential headers) replaced by `[redacted]`. */
export function redactHeaderValues(headers: IncomingHttpHeaders, redacted: ReadonlySet<string>, own: readonly string[]): Record<string, unknown> {
  const h: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) h[k] = redacted.has(k) || own.includes(k) ? '[redacted]' : v;
  return h;
}
